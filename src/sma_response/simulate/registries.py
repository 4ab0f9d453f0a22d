"""Registries observing the simulated patients: enrolment, visits, scores, status, identifiers.

Each registry enrols the patients of its region (plus a share of other registries' patients when
``share_from`` is set), sees them at visits whose cadence it sets, records the scales its
clinicians use at that age and function, and keeps what it saw. Everything is vectorised over
enrolments and visits; the only Python loops run over registries, scales, milestones and
treatment slots.

Clinician registries also see every patient at the start of a therapy: a patient whose first
therapy starts after the registry opened is enrolled by then, and each start inside the
observed window (first start and switches) has a baseline visit 0-14 days before it, as in
SMArtCARE and iSMAC, where the motor assessment before the first dose is part of the protocol.

The result is a neutral internal form (:class:`RegistryData`): long tables keyed by ``registry``
and ``local_id`` (the registry's pseudonymous patient id), with the simulator's ``person_id`` kept
beside them for the ground truth. Ages are in days. Format quirks (codes, units, dates, column
names) belong to :mod:`sma_response.simulate.exports`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sma_response.simulate.cohort import DAYS_PER_MONTH, SimulatedPatients
from sma_response.simulate.disease import N_SLOTS, THERAPY_CODE
from sma_response.simulate.names import draw_names
from sma_response.simulate.params import EVENTS, MILESTONES, SCALES, THERAPIES, DiseaseParams
from sma_response.simulate.scales import observe_score
from sma_response.simulate.spec import RegistrySpec, SimulationSpec, SimulationSpecError

__all__ = [
    "REPORTERS",
    "RegistryData",
    "birth_dates",
    "check_registries",
    "observe_registries",
    "scale_in_use",
    "summarise_registries",
]

log = logging.getLogger(__name__)

REPORTERS: tuple[str, ...] = ("clinician", "patient")

#: Visit gaps are Gamma-distributed around the cadence with this shape (coefficient of
#: variation 1/sqrt(shape), about 30 %): visits drift, get postponed and brought forward.
_GAP_SHAPE = 12.0
#: A clinician registry's baseline visit falls at most this many days before a therapy start
#: (uniform whole days 0..this); scheduled visits this close to a baseline visit are dropped.
_BASELINE_MAX_DAYS = 14
#: Digits of the random number in a local id (unique within a registry).
_ID_DIGITS = 7
#: Share of type 3 patients whose record gives the subtype (3a/3b); the rest say "type 3".
_SUBTYPE_KNOWN = 0.7
#: Probability SMN2 copies are unknown to the registry, by reporter (older diagnoses were often
#: never tested; families often do not know the number).
_COPIES_UNKNOWN = {"clinician": 0.08, "patient": 0.25}
#: Probability a patient-reported record gives no SMA type.
_TYPE_UNKNOWN_PATIENT = 0.08
#: Median body weight (kg) by age (years), girls and boys, after the WHO/CDC growth charts.
_WEIGHT_AGE_YEARS = np.array([0.0, 0.25, 0.5, 1, 2, 3, 5, 8, 10, 12, 14, 16, 18, 25, 40, 90])
_WEIGHT_KG = {
    "F": np.array(
        [3.3, 5.6, 7.3, 8.9, 11.5, 13.9, 18.2, 25.0, 31.9, 41.5, 50.0, 54.0, 56.5, 60.0, 65.0, 66.0]
    ),
    "M": np.array(
        [3.4, 6.2, 7.9, 9.6, 12.2, 14.3, 18.7, 25.4, 31.2, 40.5, 51.0, 61.0, 66.5, 73.0, 80.0, 80.0]
    ),
}


@dataclass
class RegistryData:
    """What the registries saw, in a neutral form; ages in days.

    Attributes
    ----------
    patients
        One row per enrolment (a shared patient has one row in each of their registries):
        ``registry, local_id, person_id, site, shared, entry_age_days, exit_age_days,
        exit_reason`` (``death``, ``dropout`` or ``data_cut``), the demographics as recorded
        (``sex``; ``sma_type``, NA when unknown; ``subtype_known``, whether a type 3 record gives
        3a/3b; ``smn2_copies``, NA when unknown; ``onset_age_days``, NaN while no symptom has been
        seen; ``diagnosis_age_days``; ``presymptomatic``) and the direct identifiers
        ``first_name, last_name, birth_date, record_number``.
    visits
        One row per visit (a yearly survey in a patient-reported registry; in a clinician
        registry, also a baseline visit 0-14 days before each therapy start seen): ``registry,
        local_id, person_id, visit_no`` (1, 2, ...), ``visit_age_days`` (whole days), current
        milestones ``head_control, sitting, standing, walking``, ever achieved
        ``ever_<milestone>``, ``ambulant, ventilation_hours_per_day, feeding_tube,
        scoliosis_surgery, weight_kg`` and ``current_therapy`` (NA: none). Missing entries
        are NA.
    assessments
        One row per motor assessment due at a visit (scale chosen by age and function and
        recorded by the registry): ``registry, local_id, person_id, visit_no, visit_age_days,
        scale, score``; ``score`` is NaN when the assessment was due but not recorded.
    treatments
        ``registry, local_id, person_id, line`` (1 first, 2 after a switch), ``therapy,
        start_age_days, stop_age_days`` (NaN: ongoing at exit), courses started before exit.
    events
        ``registry, local_id, person_id, event, age_days``: events up to exit, including those
        before enrolment (recorded as history).
    shared
        The truth about shared patients: ``person_id, registry, local_id, source_registry,
        source_local_id``.
    """

    patients: pd.DataFrame
    visits: pd.DataFrame
    assessments: pd.DataFrame
    treatments: pd.DataFrame
    events: pd.DataFrame
    shared: pd.DataFrame

    def registry(self, name: str) -> RegistryData:
        """Return the tables of one registry (``shared`` keeps the rows where it enrols).

        Parameters
        ----------
        name
            Registry name.

        Returns
        -------
        RegistryData
            New tables holding only that registry's rows.
        """

        def pick(df: pd.DataFrame) -> pd.DataFrame:
            return df.loc[df["registry"] == name].reset_index(drop=True)

        return RegistryData(
            patients=pick(self.patients),
            visits=pick(self.visits),
            assessments=pick(self.assessments),
            treatments=pick(self.treatments),
            events=pick(self.events),
            shared=pick(self.shared),
        )


def check_registries(spec: SimulationSpec) -> None:
    """Check the registry settings that observation relies on (beyond ``spec.validate()``).

    Parameters
    ----------
    spec
        Simulation spec.

    Raises
    ------
    SimulationSpecError
        Naming the offending key, e.g. ``simulation.registries[1].missing_rate``.

    Examples
    --------
    >>> from sma_response.simulate.spec import RegionSpec, RegistrySpec
    >>> spec = SimulationSpec(regions=[RegionSpec("DE")], registries=[RegistrySpec("a", "DE", "x")])
    >>> check_registries(spec) is None
    True
    """
    prefixes: dict[str, str] = {}
    for i, reg in enumerate(spec.registries):
        key = f"simulation.registries[{i}]"
        if reg.reporter not in REPORTERS:
            msg = f"{key}.reporter: unknown {reg.reporter!r}; expected one of {list(REPORTERS)}"
            raise SimulationSpecError(msg)
        for name in ("missing_rate", "share_fraction"):
            value = getattr(reg, name)
            if not 0.0 <= value <= 1.0:
                msg = f"{key}.{name}: must be a probability, got {value}"
                raise SimulationSpecError(msg)
        for name in ("dropout_per_year", "enrol_delay_months", "site_bias_sd"):
            value = getattr(reg, name)
            if value < 0:
                msg = f"{key}.{name}: must be >= 0, got {value}"
                raise SimulationSpecError(msg)
        if reg.n_sites < 1:
            msg = f"{key}.n_sites: must be >= 1, got {reg.n_sites}"
            raise SimulationSpecError(msg)
        faster = reg.nusinersen_visit_interval_months
        if faster is not None and faster <= 0:
            msg = f"{key}.nusinersen_visit_interval_months: must be positive or null, got {faster}"
            raise SimulationSpecError(msg)
        if reg.name in reg.share_from:
            msg = f"{key}.share_from: a registry cannot share patients with itself ({reg.name!r})"
            raise SimulationSpecError(msg)
        prefix = _id_prefix(reg)
        if prefix in prefixes:
            msg = f"{key}.id_prefix: {prefix!r} is already used by registry {prefixes[prefix]!r}"
            raise SimulationSpecError(msg)
        prefixes[prefix] = reg.name


def scale_in_use(
    scale: str, *, age_months: np.ndarray, sits: np.ndarray, walks: np.ndarray
) -> np.ndarray:
    """Whether clinicians assess ``scale`` at a visit, by the patient's age and function.

    The rules follow clinical practice: CHOP INTEND for non-sitters and for infants who do
    not walk yet; HINE-2 under 2 years; HFMSE and RHS for sitters and walkers from age 2;
    RULM for non-ambulant patients from 30 months and for adults; MFM32 from 6 years; the
    6-minute walk test for walkers from 5 years.

    Parameters
    ----------
    scale
        Scale name, one of :data:`sma_response.simulate.params.SCALES`.
    age_months
        Age at the visit.
    sits, walks
        Whether the patient sits / walks independently at the visit.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per visit.

    Examples
    --------
    >>> age, sits, walks = np.array([6.0, 60.0]), np.array([False, True]), np.array([False, False])
    >>> scale_in_use("chop_intend", age_months=age, sits=sits, walks=walks).tolist()
    [True, False]
    >>> scale_in_use("hfmse", age_months=age, sits=sits, walks=walks).tolist()
    [False, True]
    """
    age = np.asarray(age_months, dtype=float)
    sits = np.asarray(sits, dtype=bool)
    walks = np.asarray(walks, dtype=bool)
    if scale == "chop_intend":
        return ~sits | ((age < 24.0) & ~walks)
    if scale == "hine2":
        return age < 24.0
    if scale in ("hfmse", "rhs"):
        return sits & (age >= 24.0)
    if scale == "rulm":
        return (age >= 30.0) & (~walks | (age >= 216.0))
    if scale == "mfm32":
        return age >= 72.0
    if scale == "6mwt":
        return walks & (age >= 60.0)
    msg = f"unknown scale {scale!r}; expected one of {list(SCALES)}"
    raise ValueError(msg)


def birth_dates(birth_year_decimal: np.ndarray) -> np.ndarray:
    """Exact birth dates from decimal calendar years (the fraction is the share of the year).

    Parameters
    ----------
    birth_year_decimal
        Birth year with fraction, e.g. ``2019.5``.

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]`` dates.

    Examples
    --------
    >>> birth_dates(np.array([2020.0, 2019.5])).astype(str).tolist()
    ['2020-01-01', '2019-07-02']
    """
    years = np.floor(np.asarray(birth_year_decimal, dtype=float)).astype(np.int64)
    start = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    length = ((years + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") - start).astype(
        np.int64
    )
    offset = np.floor((np.asarray(birth_year_decimal) - years) * length).astype(np.int64)
    return start + np.minimum(offset, length - 1).astype("timedelta64[D]")


def observe_registries(
    sim: SimulatedPatients,
    spec: SimulationSpec,
    *,
    seed: int,
    params: DiseaseParams | None = None,
) -> RegistryData:
    """Observe the simulated patients through every registry of ``spec``.

    Parameters
    ----------
    sim
        Simulated patients (from :func:`sma_response.simulate.cohort.simulate_patients` with
        the same ``spec``).
    spec
        Validated simulation spec.
    seed
        Seed of the observation process (enrolment, visits, scores, identifiers). Each registry
        draws from its own streams, so adding a registry at the end changes no other.
    params
        Disease parameters (calibrated defaults when ``None``).

    Returns
    -------
    RegistryData
        Enrolments, visits, assessments, treatments, events and shared patients of all
        registries, sorted by registry (in spec order), local id and age.

    Raises
    ------
    SimulationSpecError
        If a registry setting is invalid (see :func:`check_registries`).

    Examples
    --------
    >>> from sma_response.simulate.cohort import simulate_patients
    >>> from sma_response.simulate.spec import RegionSpec, RegistrySpec
    >>> spec = SimulationSpec(n_patients=30, chunk_size=200, regions=[RegionSpec("DE")],
    ...                       registries=[RegistrySpec("reg", "DE", "dach_csv")]).validate()
    >>> data = observe_registries(simulate_patients(spec, seed=0), spec, seed=1)
    >>> bool(data.visits["visit_age_days"].ge(0).all())
    True
    """
    params = params or DiseaseParams()
    check_registries(spec)
    regs = spec.registries
    children = np.random.SeedSequence(seed).spawn(1 + len(regs))
    people = _draw_people(sim, np.random.default_rng(children[0]))
    streams = [_streams(child) for child in children[1:]]
    roster = _enrol(sim, regs, streams)
    per_registry = [
        _observe_one(sim, reg, roster.loc[roster["reg"] == i], streams[i], people, params)
        for i, reg in enumerate(regs)
    ]
    visits = pd.concat([v for v, _ in per_registry], ignore_index=True)
    assessments = pd.concat([a for _, a in per_registry], ignore_index=True)
    data = _assemble(sim, regs, roster, visits, assessments, people)
    log.info(
        "observed %d enrolments (%d shared), %d visits, %d assessments in %d registries",
        len(data.patients),
        len(data.shared),
        len(data.visits),
        len(data.assessments),
        len(regs),
    )
    return data


# ----------------------------------------------------------------------------- people


@dataclass
class _People:
    """Per-person draws shared by every registry a person is in (one entry per person_id)."""

    first_name: np.ndarray
    last_name: np.ndarray
    birth_date: np.ndarray
    weight_factor: np.ndarray  # multiplies the reference weight
    niv_threshold: np.ndarray  # reserve below which part-time ventilation is used


def _draw_people(sim: SimulatedPatients, rng: np.random.Generator) -> _People:
    patients = sim.patients
    n = len(patients)
    first, last = draw_names(patients["region"].to_numpy(), patients["sex"].to_numpy(), rng)
    return _People(
        first_name=first,
        last_name=last,
        birth_date=birth_dates(patients["birth_year_decimal"].to_numpy()),
        weight_factor=np.exp(0.1 * rng.standard_normal(n)),
        niv_threshold=0.25 + 0.15 * rng.random(n),
    )


#: Stream names; a new stream goes at the end so the earlier ones keep their draws.
_STREAMS = ("enrol", "share", "ids", "visits", "scores", "status", "baseline")


def _streams(seq: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Independent generators for each step, so changing one step leaves the others alone."""
    return {
        name: np.random.default_rng(child)
        for name, child in zip(_STREAMS, seq.spawn(len(_STREAMS)), strict=True)
    }


def _id_prefix(reg: RegistrySpec) -> str:
    return reg.id_prefix or f"{reg.name.upper()}-"


# ----------------------------------------------------------------------------- enrolment


def _enrol(
    sim: SimulatedPatients,
    regs: list[RegistrySpec],
    streams: list[dict[str, np.random.Generator]],
) -> pd.DataFrame:
    """Every enrolment (home and shared) with its window, site and ids, sorted by registry, id."""
    patients = sim.patients
    region = patients["region"].to_numpy()
    birth = patients["birth_year_decimal"].to_numpy()
    home: list[pd.DataFrame] = []
    for i, reg in enumerate(regs):
        person = np.flatnonzero(region == reg.region)
        opens = (reg.start_year - birth[person]) * 12.0
        home.append(
            _window(sim, i, reg, person, opens, streams[i]["enrol"], streams[i]["baseline"])
        )
    frames = list(home)
    names = [r.name for r in regs]
    for i, reg in enumerate(regs):
        if not reg.share_from or reg.share_fraction <= 0:
            continue
        sources = pd.concat(
            [home[names.index(other)] for other in reg.share_from], ignore_index=True
        )
        rng = streams[i]["share"]
        pick = rng.random(len(sources)) < reg.share_fraction
        sources = sources.loc[pick & ~sources["person"].isin(home[i]["person"])]
        sources = sources.drop_duplicates("person").reset_index(drop=True)
        person = sources["person"].to_numpy()
        opens = np.maximum((reg.start_year - birth[person]) * 12.0, sources["entry_m"].to_numpy())
        shared = _window(sim, i, reg, person, opens, rng, streams[i]["baseline"])
        source = sources.set_index("person").loc[shared["person"], "reg"].to_numpy()
        frames.append(shared.assign(shared=True, source_reg=source))
    roster = pd.concat(frames, ignore_index=True)
    parts = []
    for i, reg in enumerate(regs):
        part = roster.loc[roster["reg"] == i].reset_index(drop=True)
        parts.append(_assign_ids(part, reg, streams[i]["ids"]))
    roster = pd.concat(parts, ignore_index=True).sort_values(["reg", "local_id"], kind="stable")
    return roster.reset_index(drop=True)


def _window(
    sim: SimulatedPatients,
    reg_index: int,
    reg: RegistrySpec,
    person: np.ndarray,
    opens_months: np.ndarray,
    rng: np.random.Generator,
    baseline_rng: np.random.Generator,
) -> pd.DataFrame:
    """Entry and exit of ``person`` in one registry; only those entering before their end.

    Entry follows the registry opening or the diagnosis after an exponential delay; in a
    clinician registry, a patient whose first therapy starts after the registry opened is
    enrolled by that start's baseline visit at the latest (see :func:`_enrol_by_first_start`).
    The baseline-visit offsets (whole days before each therapy slot's start) are drawn here from
    ``baseline_rng`` and kept as ``baseline_offset_<slot>`` columns for :func:`_observe_one`.
    """
    patients = sim.patients
    n = len(person)
    diag = patients["diagnosis_age_days"].to_numpy()[person] / DAYS_PER_MONTH
    end_days = patients["end_age_days"].to_numpy()[person]
    died = ~np.isnan(patients["death_age_days"].to_numpy()[person])
    earliest = np.maximum(opens_months, diag)
    entry = earliest + reg.enrol_delay_months * rng.exponential(size=n)
    stay = rng.exponential(size=n)
    offsets = baseline_rng.integers(0, _BASELINE_MAX_DAYS + 1, size=(n, N_SLOTS))
    if reg.reporter == "clinician":
        entry = _enrol_by_first_start(
            sim.plan.start[person, 0], entry, earliest, opens_months, offsets[:, 0]
        )
    stay = stay * 12.0 / reg.dropout_per_year if reg.dropout_per_year > 0 else np.full(n, np.inf)
    drop = entry + stay
    end = end_days / DAYS_PER_MONTH
    dropped = drop < end
    keep = entry < end
    out = pd.DataFrame(
        {
            "reg": np.full(n, reg_index, dtype=np.int64),
            "person": person.astype(np.int64),
            "entry_m": entry,
            "exit_m": np.where(dropped, drop, end),
            "exit_age_days": np.where(dropped, np.round(drop * DAYS_PER_MONTH, 1), end_days),
            "exit_reason": np.where(dropped, "dropout", np.where(died, "death", "data_cut")),
            "shared": False,
            "source_reg": -1,
            **{f"baseline_offset_{k}": offsets[:, k] for k in range(N_SLOTS)},
        }
    )
    return out.loc[keep].reset_index(drop=True)


def _start_days(start_months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Therapy start ages in days as the treatments table gives them, and their whole day."""
    exact = np.round(np.asarray(start_months, dtype=float) * DAYS_PER_MONTH, 1)
    return exact, np.floor(exact)


def _enrol_by_first_start(
    first_start: np.ndarray,
    entry: np.ndarray,
    earliest: np.ndarray,
    opens_months: np.ndarray,
    offset_days: np.ndarray,
) -> np.ndarray:
    """Entry ages (months) moved up to the first therapy start's baseline visit where later.

    Only patients whose first start (months, ``inf`` when untreated) falls after the registry
    opened move; those treated before keep their entry (the therapy is history to the
    registry). The new entry is ``offset_days`` whole days before the start's day, never before
    ``earliest`` (registry opening, diagnosis). Half a day is added so that flooring the entry
    to days gives exactly that day.
    """
    _, start_day = _start_days(first_start)
    after_open = np.isfinite(first_start) & (first_start > opens_months)
    at_baseline = (start_day - offset_days + 0.5) / DAYS_PER_MONTH
    moved = np.maximum(np.minimum(entry, at_baseline), earliest)
    return np.where(after_open, moved, entry)


def _assign_ids(part: pd.DataFrame, reg: RegistrySpec, rng: np.random.Generator) -> pd.DataFrame:
    """Random local ids, centres and hospital record numbers for one registry's enrolments."""
    n = len(part)
    numbers = rng.choice(10**_ID_DIGITS, size=n, replace=False)
    site_weights = rng.dirichlet(np.full(reg.n_sites, 2.0))
    site = rng.choice(reg.n_sites, size=n, p=site_weights) + 1
    record = rng.integers(0, 10**_ID_DIGITS, size=n)
    # Uniform draws behind what the record says about type, subtype and SMN2 copies.
    u_type, u_subtype, u_copies = rng.random((3, n))
    local_id = _id_prefix(reg) + pd.Series(numbers).astype(str).str.zfill(_ID_DIGITS)
    record_number = (
        reg.record_prefix
        + pd.Series(site).astype(str).str.zfill(2)
        + "-"
        + pd.Series(record).astype(str).str.zfill(_ID_DIGITS)
    )
    return part.assign(
        local_id=local_id.to_numpy(),
        site=site,
        record_number=record_number.to_numpy(),
        u_type=u_type,
        u_subtype=u_subtype,
        u_copies=u_copies,
    )


# ----------------------------------------------------------------------------- visits


def _visit_ages(
    entry: np.ndarray,
    exit_: np.ndarray,
    windows: np.ndarray,
    *,
    interval: float,
    window_interval: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Visit ages (months): the first at entry, then jittered gaps until exit (excluded).

    The cadence is one visit per ``interval`` months, or per ``window_interval`` inside the
    ``windows`` (n, W, 2) of ages (e.g. while on nusinersen). A visit clock runs at the
    cadence's rate; visits fall where the clock crosses the cumulative sum of Gamma gaps of
    mean 1, so the schedule needs no loop over visits.

    Returns
    -------
    tuple of numpy.ndarray
        Row (index into ``entry``) and age of every visit, sorted by row then age.
    """
    n = len(entry)
    cuts = np.clip(windows.reshape(n, 2 * windows.shape[1]), entry[:, None], exit_[:, None])
    knots = np.sort(np.column_stack([entry, cuts, exit_]), axis=1)
    mid = 0.5 * (knots[:, 1:] + knots[:, :-1])
    inside = np.zeros(mid.shape, dtype=bool)
    for w in range(windows.shape[1]):
        inside |= (mid >= windows[:, w, :1]) & (mid < windows[:, w, 1:])
    rate = np.where(inside, 1.0 / window_interval, 1.0 / interval)
    clock = np.concatenate(
        [np.zeros((n, 1)), np.cumsum(rate * np.diff(knots, axis=1), axis=1)], axis=1
    )
    total = clock[:, -1]
    # Enough candidate visits that the cumulative gaps pass the total clock (mean gap 1).
    k = (np.ceil(1.5 * total) + 3).astype(np.int64)
    rows = np.repeat(np.arange(n), k)
    first = np.cumsum(k) - k
    gaps = rng.gamma(_GAP_SHAPE, 1.0 / _GAP_SHAPE, size=rows.size)
    gaps[first] = 0.0
    cum = np.cumsum(gaps)
    u = cum - np.repeat(cum[first], k)
    keep = u < total[rows]
    rows, u = rows[keep], u[keep]
    seg = np.zeros(len(rows), dtype=np.int64)
    for j in range(1, knots.shape[1] - 1):
        seg += u >= clock[rows, j]
    ages = knots[rows, seg] + (u - clock[rows, seg]) / rate[rows, seg]
    return rows, ages


def _nusinersen_windows(sim: SimulatedPatients, person: np.ndarray) -> np.ndarray:
    """Ages (months) on nusinersen, (n, N_SLOTS, 2); ``inf`` for slots with another therapy."""
    plan = sim.plan
    on = plan.code[person] == THERAPY_CODE["nusinersen"]
    start = np.where(on, plan.start[person], np.inf)
    stop = np.where(on, plan.stop[person], np.inf)
    return np.stack([start, stop], axis=2)


def _observe_one(
    sim: SimulatedPatients,
    reg: RegistrySpec,
    roster: pd.DataFrame,
    rngs: dict[str, np.random.Generator],
    people: _People,
    params: DiseaseParams,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Visits (with status) and assessments of one registry's enrolments.

    The scheduled cadence comes from :func:`_visit_ages`; a clinician registry adds baseline
    visits before therapy starts (:func:`_with_baseline_visits`).
    """
    enrol = roster.index.to_numpy()
    person_of = roster["person"].to_numpy()
    if reg.nusinersen_visit_interval_months is None:
        windows = np.empty((len(roster), 0, 2))
        faster = reg.visit_interval_months
    else:
        windows = _nusinersen_windows(sim, person_of)
        faster = reg.nusinersen_visit_interval_months
    rows, ages = _visit_ages(
        roster["entry_m"].to_numpy(),
        roster["exit_m"].to_numpy(),
        windows,
        interval=reg.visit_interval_months,
        window_interval=faster,
        rng=rngs["visits"],
    )
    day = np.floor(ages * DAYS_PER_MONTH)
    if reg.reporter == "clinician":
        rows, day = _with_baseline_visits(sim, roster, rows, day)
    # Two visits on the same day (a very short gap) are one visit.
    repeat = np.zeros(len(rows), dtype=bool)
    repeat[1:] = (rows[1:] == rows[:-1]) & (day[1:] == day[:-1])
    rows, day = rows[~repeat], day[~repeat]
    visit_no = _rank_within(rows)
    person = person_of[rows]
    age_m = day / DAYS_PER_MONTH
    ability = sim.history.ability_for(person, age_m)
    reserve = _reserve_near(sim, person, age_m)
    status = _status(sim, reg, person, day, ability, reserve, people, params, rngs["status"])
    visits = pd.DataFrame(
        {
            "enrol": enrol[rows],
            "visit_no": visit_no,
            "visit_age_days": day.astype(np.int64),
            **status,
        }
    )
    if reg.reporter == "patient":
        return visits, _empty_assessments()
    sits = ability >= params.milestone_threshold["sitting"]
    walks = ability >= params.milestone_threshold["walking"]
    fused = sim.patients["scoliosis_surgery_age_days"].to_numpy()[person] <= day
    site = roster["site"].to_numpy()[rows] - 1
    rng = rngs["scores"]
    site_offset = rng.standard_normal((reg.n_sites, len(SCALES)))
    frames = []
    for j, scale in enumerate(SCALES):
        if scale not in reg.scales:
            continue
        due = np.flatnonzero(scale_in_use(scale, age_months=age_m, sits=sits, walks=walks))
        bias = (
            reg.assessor_bias
            + reg.site_bias_sd * params.scale_noise[scale] * site_offset[site[due], j]
        )
        score = observe_score(
            scale, ability[due], age_m[due], rng, params, fused=fused[due], bias=bias
        )
        score = np.where(rng.random(len(due)) < reg.missing_rate, np.nan, score)
        frames.append(pd.DataFrame({"visit": due, "scale_code": j, "score": score}))
    scored = pd.concat(frames, ignore_index=True) if frames else _empty_assessments()
    if len(scored):
        scored = scored.sort_values(["visit", "scale_code"], kind="stable")
        visit = scored["visit"].to_numpy()
        scored = scored.assign(
            enrol=enrol[rows][visit],
            visit_no=visit_no[visit],
            visit_age_days=day[visit].astype(np.int64),
        )
    return visits, scored.reset_index(drop=True)


def _with_baseline_visits(
    sim: SimulatedPatients, roster: pd.DataFrame, rows: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Add a baseline visit before every therapy start seen in a clinician registry.

    Each start (any slot) on or after entry and recorded before exit gets a visit
    ``baseline_offset_<slot>`` whole days (0-14) before the start's day. Where the entry visit
    is itself within 14 days before the start, it is the baseline visit (no second visit).
    Scheduled visits within 14 days (either side) of a baseline visit are dropped, so a patient
    is not seen twice in a fortnight. The entry visit is never dropped: an entry 15-28 days
    before a start leaves it and the baseline visit under 14 days apart (rare, about 4 in
    10,000 clinician visits). Same-day duplicates are merged by the caller.

    Parameters
    ----------
    sim
        Simulated patients (for the treatment plan).
    roster
        The registry's enrolments (``person, entry_m, exit_age_days, baseline_offset_<slot>``).
    rows, day
        Scheduled visits: row into ``roster`` and whole-day age, sorted by row then day, the
        first of each row at entry.

    Returns
    -------
    tuple of numpy.ndarray
        Rows and days of all visits, sorted by row then day (duplicates on a day possible).
    """
    person = roster["person"].to_numpy()
    entry_day = np.floor(roster["entry_m"].to_numpy() * DAYS_PER_MONTH)[:, None]
    exit_day = roster["exit_age_days"].to_numpy()[:, None]
    offset = roster[[f"baseline_offset_{k}" for k in range(N_SLOTS)]].to_numpy()
    start_exact, start_day = _start_days(sim.plan.start[person])
    base = np.where(start_day - _BASELINE_MAX_DAYS <= entry_day, entry_day, start_day - offset)
    seen = (
        np.isfinite(start_day)
        & (start_day >= entry_day)
        & (start_exact <= exit_day)
        & (base < exit_day)
    )
    base = np.where(seen, base, np.nan)
    near = (np.abs(day[:, None] - base[rows]) <= _BASELINE_MAX_DAYS).any(axis=1)
    first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.empty(0, dtype=bool)
    keep = first | ~near
    base_rows, base_slot = np.nonzero(seen)
    all_rows = np.concatenate([rows[keep], base_rows])
    all_day = np.concatenate([day[keep], base[base_rows, base_slot]])
    order = np.lexsort((all_day, all_rows))
    return all_rows[order], all_day[order]


def _empty_assessments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "visit": np.empty(0, np.int64),
            "scale_code": np.empty(0, np.int64),
            "score": np.empty(0),
            "enrol": np.empty(0, np.int64),
            "visit_no": np.empty(0, np.int64),
            "visit_age_days": np.empty(0, np.int64),
        }
    )


def _rank_within(rows: np.ndarray) -> np.ndarray:
    """1, 2, ... within each run of equal (sorted) ``rows``."""
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64)
    start = np.r_[True, rows[1:] != rows[:-1]]
    first = np.flatnonzero(start)
    counts = np.diff(np.r_[first, len(rows)])
    return np.arange(len(rows)) - np.repeat(first, counts) + 1


def _reserve_near(sim: SimulatedPatients, person: np.ndarray, age_months: np.ndarray) -> np.ndarray:
    """Motor-neuron reserve at the nearest grid age (enough for a weakness grade)."""
    grid = sim.history.grid
    idx = np.clip(np.searchsorted(grid, age_months), 0, len(grid) - 1)
    return sim.history.reserve[person, idx].astype(float)


def _status(
    sim: SimulatedPatients,
    reg: RegistrySpec,
    person: np.ndarray,
    day: np.ndarray,
    ability: np.ndarray,
    reserve: np.ndarray,
    people: _People,
    params: DiseaseParams,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Milestones, clinical status and body weight at each visit (missing entries as NA)."""
    patients = sim.patients
    n = len(person)
    out: dict[str, np.ndarray] = {}
    for m in MILESTONES:
        now = ability >= params.milestone_threshold[m]
        out[m] = now
        out[f"ever_{m}"] = now | (patients[f"{m}_age_days"].to_numpy()[person] <= day)
    out["ambulant"] = out["walking"]
    ventilated = patients["permanent_ventilation_age_days"].to_numpy()[person] <= day
    threshold = people.niv_threshold[person]
    part_time = np.clip(
        np.round(4.0 + 40.0 * (threshold - reserve) + rng.standard_normal(n)), 1.0, 12.0
    )
    full_time = 16.0 + np.floor(9.0 * rng.random(n))
    out["ventilation_hours_per_day"] = np.where(
        ventilated, full_time, np.where(reserve < threshold, part_time, 0.0)
    )
    out["feeding_tube"] = patients["feeding_tube_age_days"].to_numpy()[person] <= day
    out["scoliosis_surgery"] = patients["scoliosis_surgery_age_days"].to_numpy()[person] <= day
    years = day / 365.25
    sex = patients["sex"].to_numpy()[person]
    reference = np.where(
        sex == "F",
        np.interp(years, _WEIGHT_AGE_YEARS, _WEIGHT_KG["F"]),
        np.interp(years, _WEIGHT_AGE_YEARS, _WEIGHT_KG["M"]),
    )
    weight = reference * (0.7 + 0.3 * reserve) * people.weight_factor[person]
    out["weight_kg"] = np.round(weight * (1.0 + 0.015 * rng.standard_normal(n)), 1)
    # Missing entries: weight is skipped as often as a score, the rest half as often.
    status_missing = reg.missing_rate / 2.0
    status: dict[str, Any] = {}
    for key, values in out.items():
        rate = reg.missing_rate if key == "weight_kg" else status_missing
        gone = rng.random(n) < rate
        if values.dtype == bool:
            status[key] = pd.arrays.BooleanArray(values, mask=gone)
        else:
            status[key] = np.where(gone, np.nan, values)
    status["current_therapy"] = _current_therapy(sim, person, day / DAYS_PER_MONTH)
    return status


def _current_therapy(
    sim: SimulatedPatients, person: np.ndarray, age_months: np.ndarray
) -> pd.Categorical:
    """Return the therapy a patient is on at each age (the later course wins; NA: none)."""
    plan = sim.plan
    current = np.full(len(person), -1, dtype=np.int64)
    for k in range(N_SLOTS):
        code = plan.code[person, k]
        on = (
            (code >= 0)
            & (plan.start[person, k] <= age_months)
            & (age_months < plan.stop[person, k])
        )
        current = np.where(on, code, current)
    return pd.Categorical.from_codes(current, categories=list(THERAPIES))


# ----------------------------------------------------------------------------- assembly


def _assemble(
    sim: SimulatedPatients,
    regs: list[RegistrySpec],
    roster: pd.DataFrame,
    visits: pd.DataFrame,
    assessments: pd.DataFrame,
    people: _People,
) -> RegistryData:
    """Turn the internal enrolment codes into the public long tables."""
    reg_names = [r.name for r in regs]
    local_ids = roster["local_id"].to_numpy()

    def keys(enrol: np.ndarray) -> dict[str, object]:
        return _keys(roster, reg_names, enrol)

    patients_out = pd.concat(
        [pd.DataFrame(keys(np.arange(len(roster)))), _roster_table(sim, regs, roster, people)],
        axis=1,
    )
    visits_out = pd.concat(
        [pd.DataFrame(keys(visits["enrol"].to_numpy())), visits.drop(columns="enrol")], axis=1
    )
    assessments_out = pd.DataFrame(
        {
            **keys(assessments["enrol"].to_numpy()),
            "visit_no": assessments["visit_no"].to_numpy(dtype=np.int64),
            "visit_age_days": assessments["visit_age_days"].to_numpy(dtype=np.int64),
            "scale": pd.Categorical.from_codes(
                assessments["scale_code"].to_numpy(dtype=np.int64), categories=list(SCALES)
            ),
            "score": assessments["score"].to_numpy(dtype=float),
        }
    )
    exit_days = roster["exit_age_days"].to_numpy()
    # Treatments: every course started before exit; a stop after exit is not known yet.
    enrol_of = pd.DataFrame(
        {"enrol": np.arange(len(roster)), "person_id": roster["person"].to_numpy()}
    )
    courses = enrol_of.merge(sim.treatments, on="person_id", how="inner", sort=False)
    enrol = courses["enrol"].to_numpy()
    courses = courses.loc[courses["start_age_days"].to_numpy() <= exit_days[enrol]]
    enrol = courses["enrol"].to_numpy()
    stop = courses["stop_age_days"].to_numpy()
    treatments_out = pd.DataFrame(
        {
            **keys(enrol),
            "line": courses["slot"].to_numpy() + 1,
            "therapy": pd.Categorical(courses["therapy"].to_numpy(), categories=list(THERAPIES)),
            "start_age_days": courses["start_age_days"].to_numpy(),
            "stop_age_days": np.where(stop <= exit_days[enrol], stop, np.nan),
        }
    ).sort_values(["local_id", "line"], kind="stable")
    # Events up to exit (death is known only to the registry the patient was still in).
    frames = []
    person = roster["person"].to_numpy()
    for code, event in enumerate(EVENTS):
        age = sim.patients[f"{event}_age_days"].to_numpy()[person]
        hit = np.flatnonzero(age <= exit_days)
        frames.append(pd.DataFrame({"enrol": hit, "event_code": code, "age_days": age[hit]}))
    found = pd.concat(frames, ignore_index=True).sort_values(
        ["enrol", "age_days", "event_code"], kind="stable"
    )
    events_out = pd.DataFrame(
        {
            **keys(found["enrol"].to_numpy()),
            "event": pd.Categorical.from_codes(
                found["event_code"].to_numpy(), categories=list(EVENTS)
            ),
            "age_days": found["age_days"].to_numpy(),
        }
    )
    is_shared = roster["shared"].to_numpy()
    shared_rows = np.flatnonzero(is_shared)
    home = roster.loc[~is_shared, ["reg", "person", "local_id"]]
    source = roster.loc[is_shared, ["person", "source_reg"]].merge(
        home, left_on=["person", "source_reg"], right_on=["person", "reg"], how="left"
    )
    shared_out = pd.DataFrame(
        {
            "person_id": person[shared_rows],
            "registry": np.array(reg_names, dtype=object)[roster["reg"].to_numpy()[shared_rows]],
            "local_id": local_ids[shared_rows],
            "source_registry": np.array(reg_names, dtype=object)[source["source_reg"].to_numpy()],
            "source_local_id": source["local_id"].to_numpy(),
        }
    )
    return RegistryData(
        patients=patients_out,
        visits=visits_out,
        assessments=assessments_out,
        treatments=treatments_out.reset_index(drop=True),
        events=events_out.reset_index(drop=True),
        shared=shared_out,
    )


def _keys(roster: pd.DataFrame, reg_names: list[str], enrol: np.ndarray) -> dict[str, object]:
    """Key columns of rows belonging to enrolments ``enrol`` (categoricals keep them small)."""
    enrol = np.asarray(enrol, dtype=np.int64)
    return {
        "registry": pd.Categorical.from_codes(
            roster["reg"].to_numpy()[enrol], categories=reg_names
        ),
        "local_id": pd.Categorical.from_codes(enrol, categories=roster["local_id"].to_numpy()),
        "person_id": roster["person"].to_numpy()[enrol],
    }


def _roster_table(
    sim: SimulatedPatients,
    regs: list[RegistrySpec],
    roster: pd.DataFrame,
    people: _People,
) -> pd.DataFrame:
    """One row per enrolment: window, demographics as recorded, direct identifiers."""
    patients = sim.patients
    person = roster["person"].to_numpy()
    reg_index = roster["reg"].to_numpy()
    reporter = np.array([r.reporter for r in regs], dtype=object)[reg_index]
    u_type, u_sub, u_copies = (roster[c].to_numpy() for c in ("u_type", "u_subtype", "u_copies"))
    sma_type = patients["sma_type"].to_numpy()[person].astype(object)
    sma_type[(reporter == "patient") & (u_type < _TYPE_UNKNOWN_PATIENT)] = None
    presymptomatic = patients["presymptomatic"].to_numpy()[person]
    # Screening reports the copy number, so a presymptomatic diagnosis always has it.
    p_unknown = np.where(
        reporter == "patient", _COPIES_UNKNOWN["patient"], _COPIES_UNKNOWN["clinician"]
    )
    copies_unknown = (u_copies < p_unknown) & ~presymptomatic
    copies = pd.array(
        np.where(copies_unknown, None, patients["smn2_copies"].to_numpy()[person]), dtype="Int64"
    )
    onset = patients["onset_age_days"].to_numpy()[person]
    exit_days = roster["exit_age_days"].to_numpy()
    first_start = (
        sim.treatments.loc[sim.treatments["slot"] == 0]
        .set_index("person_id")["start_age_days"]
        .reindex(person)
        .to_numpy()
    )
    # Symptoms are seen only before exit, and never in a presymptomatic patient treated first.
    unseen = (onset > exit_days) | (presymptomatic & (first_start < onset))
    # SMA type is defined by the untreated course: it is not knowable for a child diagnosed and
    # treated before symptoms (or not yet symptomatic), so the record carries none.
    sma_type[presymptomatic & unseen] = None
    return pd.DataFrame(
        {
            "site": roster["site"].to_numpy(),
            "shared": roster["shared"].to_numpy(dtype=bool),
            "entry_age_days": np.floor(roster["entry_m"].to_numpy() * DAYS_PER_MONTH),
            "exit_age_days": exit_days,
            "exit_reason": roster["exit_reason"].to_numpy(),
            "sex": patients["sex"].to_numpy()[person],
            "sma_type": sma_type,
            "subtype_known": ~np.isin(sma_type, ["3a", "3b"]) | (u_sub < _SUBTYPE_KNOWN),
            "smn2_copies": copies,
            "onset_age_days": np.where(unseen, np.nan, onset),
            "diagnosis_age_days": patients["diagnosis_age_days"].to_numpy()[person],
            "presymptomatic": presymptomatic,
            "first_name": people.first_name[person],
            "last_name": people.last_name[person],
            "birth_date": people.birth_date[person],
            "record_number": roster["record_number"].to_numpy(),
        }
    )


def summarise_registries(data: RegistryData, spec: SimulationSpec) -> pd.DataFrame:
    """Per-registry counts and first-therapy mix (``SimulationResult.registries``)."""
    rows = []
    for reg in spec.registries:
        part = data.registry(reg.name)
        first = part.treatments.loc[part.treatments["line"] == 1, "therapy"].astype(str)
        mix = first.value_counts(normalize=True)
        rows.append(
            {
                "registry": reg.name,
                "region": reg.region,
                "format": reg.export_format,
                "reporter": reg.reporter,
                "patients": len(part.patients),
                "shared": int(part.patients["shared"].sum()),
                "visits": len(part.visits),
                "assessments": int(part.assessments["score"].notna().sum()),
                **{t: float(mix.get(t, 0.0)) for t in THERAPIES},
            }
        )
    return pd.DataFrame(rows)
