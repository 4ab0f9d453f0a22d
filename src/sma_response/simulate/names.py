"""Region-appropriate personal names for the direct identifiers of simulated registry exports.

The names are common given names and surnames of each region, written as a clinic would enter
them (umlauts, accents, apostrophes and particles included), so that exports carry identifiers as a
real export would and the harmoniser has something real to strip. Every name is encodable in
Windows-1252, the encoding of the German export. They are fictional combinations: the simulated
people do not exist.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NAMES", "draw_names"]

#: Per region: female given names, male given names, surnames.
# fmt: off
NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "DE": {
        "female": (
            "Anna", "Lena", "Hannah", "Sophie", "Marie", "Lea", "Emma", "Mia", "Lina", "Clara",
            "Jana", "Katharina", "Julia", "Laura", "Sarah", "Leonie", "Johanna", "Charlotte",
            "Paula", "Greta", "Käthe", "Jördis", "Ursula", "Sabine", "Petra", "Monika", "Birgit",
            "Renate", "Ingrid", "Frieda", "Mathilda", "Zoë", "Selin", "Maja", "Annika", "Hélène",
        ),
        "male": (
            "Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Maximilian", "Elias", "Noah",
            "Ben", "Moritz", "Jakob", "Tim", "Niklas", "Jan", "Tobias", "Stefan", "Andreas",
            "Michael", "Thomas", "Jürgen", "Jörg", "Björn", "Sören", "Günter", "Uwe", "Dieter",
            "Matthias", "Florian", "Sebastian", "Kai", "Malte", "Emre", "Luca", "Mats", "Till",
        ),
        "last": (
            "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
            "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
            "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
            "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann",
            "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer",
            "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung",
            "Hahn", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler",
            "Roth", "Gruber", "Brunner", "Öztürk", "von Löwenstein", "Gärtner",
        ),
    },
    "IT": {
        "female": (
            "Giulia", "Sofia", "Aurora", "Alice", "Ginevra", "Emma", "Giorgia", "Beatrice",
            "Vittoria", "Ludovica", "Martina", "Chiara", "Francesca", "Sara", "Alessia", "Elena",
            "Anna", "Noemi", "Greta", "Matilde", "Rebecca", "Bianca", "Caterina", "Federica",
            "Valentina", "Ilaria", "Irene", "Marta", "Serena", "Lucia", "Benedetta", "Camilla",
            "Arianna", "Gaia", "Rosa", "Agnese",
        ),
        "male": (
            "Leonardo", "Francesco", "Alessandro", "Lorenzo", "Mattia", "Andrea", "Gabriele",
            "Riccardo", "Tommaso", "Edoardo", "Giuseppe", "Antonio", "Marco", "Matteo", "Luca",
            "Davide", "Simone", "Federico", "Giovanni", "Pietro", "Nicolò", "Niccolò",
            "Salvatore", "Vincenzo", "Domenico", "Giacomo", "Stefano", "Paolo", "Emanuele",
            "Michele", "Filippo", "Samuele", "Diego", "Cristian", "Raffaele", "Gianluca",
        ),
        "last": (
            "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
            "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
            "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro",
            "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone", "Longo",
            "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra", "Coppola", "De Santis",
            "D'Angelo", "Marchetti", "Parisi", "Villa", "Conte", "Ferraro", "Fabbri", "Marini",
            "Grasso", "Valentini", "Messina", "Sala", "De Angelis", "Gatti", "Pellegrini",
            "Palumbo", "Sanna", "Farina", "Cantù", "Bonfà", "Pirrò", "Forlì", "D'Amico", "Piras",
        ),
    },
    "NL": {
        "female": (
            "Emma", "Julia", "Mila", "Tess", "Sophie", "Zoë", "Sara", "Nora", "Yara", "Eva",
            "Liv", "Lotte", "Anna", "Saar", "Noor", "Fleur", "Lieke", "Sanne", "Femke", "Anouk",
            "Floor", "Maaike", "Marloes", "Ilse", "Inge", "Esther", "Mirjam", "Willemijn",
            "Janneke", "Ciska", "Renée", "Chloë", "Noëlle", "Anneke", "Hanneke", "Marieke",
        ),
        "male": (
            "Noah", "Sem", "Liam", "Lucas", "Daan", "Finn", "Levi", "Luuk", "Mees", "Bram",
            "Sven", "Thijs", "Ruben", "Jesse", "Jasper", "Stijn", "Niels", "Gijs", "Joost",
            "Pieter", "Willem", "Maarten", "Hendrik", "Koen", "Bart", "Sjoerd", "Wouter", "Teun",
            "Job", "Daniël", "Joël", "Michiel", "Jeroen", "Rutger", "Floris", "Tijmen",
        ),
        "last": (
            "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
            "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
            "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
            "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan",
            "Vermeulen", "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn",
            "van der Heijden", "Schouten", "van Beek", "Willems", "van Wijk", "Verhoeven",
            "Hoekstra", "Maas", "Koster", "Prins", "Blom", "Huisman", "Peeters", "Kuipers",
            "van Vliet", "Postma", "Kramer", "Schipper", "Verbeek", "Bosch", "Timmermans",
            "van Dam", "Groen", "Gerritsen", "Jonker", "Molenaar", "Hoëlen", "Citroën",
        ),
    },
    "US": {
        "female": (
            "Olivia", "Emma", "Charlotte", "Amelia", "Sophia", "Isabella", "Ava", "Mia",
            "Evelyn", "Harper", "Luna", "Camila", "Gianna", "Elizabeth", "Eleanor", "Ella",
            "Abigail", "Sofía", "Avery", "Scarlett", "Emily", "Aria", "Penelope", "Chloe",
            "Layla", "Madison", "Riley", "Nora", "Lily", "Zoey", "Hannah", "Grace", "Aaliyah",
            "María", "Jasmine", "Brooklyn",
        ),
        "male": (
            "Liam", "Noah", "Oliver", "James", "Elijah", "William", "Henry", "Lucas", "Benjamin",
            "Theodore", "Mateo", "Levi", "Sebastian", "Daniel", "Jack", "Michael", "Alexander",
            "Owen", "Asher", "Samuel", "Ethan", "Leo", "Jackson", "Mason", "Ezra", "John",
            "Hudson", "Luca", "Aiden", "Joseph", "David", "Jacob", "Logan", "Luke", "Julián",
            "José",
        ),
        "last": (
            "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
            "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
            "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
            "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
            "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
            "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
            "Carter", "Roberts", "Gómez", "Phillips", "Díaz", "Cruz", "Reyes", "Gutiérrez",
            "Chávez", "Muñoz", "Jiménez", "O'Brien", "Patel", "Kim",
        ),
    },
}
# fmt: on

#: Names for a region not listed in :data:`NAMES`.
_FALLBACK_REGION = "US"


def draw_names(
    region: np.ndarray, sex: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a given name and a surname for each person from their region's lists.

    Parameters
    ----------
    region
        Region code per person; regions without a list use the US names.
    sex
        ``"F"`` or ``"M"`` per person.
    rng
        Random generator.

    Returns
    -------
    tuple of numpy.ndarray
        Given names and surnames (object arrays), one per person.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> first, last = draw_names(np.array(["DE", "IT"]), np.array(["F", "M"]), rng)
    >>> first[0] in NAMES["DE"]["female"], last[1] in NAMES["IT"]["last"]
    (True, True)
    """
    region = np.asarray(region, dtype=object)
    sex = np.asarray(sex, dtype=object)
    n = len(region)
    u_first = rng.random(n)
    u_last = rng.random(n)
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    for code in np.unique(region):
        lists = NAMES.get(str(code), NAMES[_FALLBACK_REGION])
        in_region = region == code
        for sex_code, key in (("F", "female"), ("M", "male")):
            mask = in_region & (sex == sex_code)
            pool = np.array(lists[key], dtype=object)
            first[mask] = pool[(u_first[mask] * len(pool)).astype(np.int64)]
        pool = np.array(lists["last"], dtype=object)
        last[in_region] = pool[(u_last[in_region] * len(pool)).astype(np.int64)]
    return first, last
