"""Common-data-model tables built straight from the simulator, for tests of the later stages.

Harmonisation turns registry *files* into the CDM; these helpers skip the files and map the
simulator's neutral :class:`~sma_response.simulate.registries.RegistryData` to the CDM directly,
so the cohort, feature, model and evaluation tests do not depend on the exporters or readers.
The keys follow the CDM rules: ``patient_id`` is a hash of registry and local id (unkeyed here:
test data only), ``linked_id`` the ``patient_id`` of the person's first (home) record.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pandas as pd

from sma_response.schemas import MILESTONE_CODES, validate_cdm
from sma_response.simulate.cohort import SimulatedPatients, simulate_patients
from sma_response.simulate.registries import RegistryData, observe_registries
from sma_response.simulate.spec import RegionSpec, RegistrySpec, SimulationSpec

__all__ = [
    "cached_cdm",
    "cdm_from_registry_data",
    "copy_cdm",
    "simulate_cdm",
    "small_simulation_spec",
]

_STATUS_COLUMNS = (
    "ventilation_hours_per_day",
    "feeding_tube",
    "scoliosis_surgery",
    "ambulant",
    "weight_kg",
)


def small_simulation_spec(n_patients: int) -> SimulationSpec:
    """Four regions and four registries, one of them patient-reported and sharing patients."""
    regions = [
        RegionSpec("DE", weight=1.2, nbs_start_year=2021.8),
        RegionSpec("IT", nbs_start_year=2023.0),
        RegionSpec("NL", weight=0.5, nbs_start_year=2022.5),
        RegionSpec("US", weight=1.5, nbs_start_year=2018.5),
    ]
    registries = [
        RegistrySpec(
            "smartcare_dach",
            "DE",
            "dach_csv",
            start_year=2018,
            nusinersen_visit_interval_months=4.0,
            scales=["chop_intend", "hine2", "hfmse", "rulm", "6mwt"],
        ),
        RegistrySpec("ismac_itu", "IT", "xlsx"),
        RegistrySpec("nl_sma", "NL", "parquet", start_year=2017),
        RegistrySpec(
            "cure_pr",
            "US",
            "pr",
            start_year=2017,
            reporter="patient",
            visit_interval_months=12,
            share_from=["smartcare_dach", "ismac_itu", "nl_sma"],
            share_fraction=0.03,
        ),
    ]
    spec = SimulationSpec(
        n_patients=n_patients, chunk_size=5000, regions=regions, registries=registries
    )
    return spec.validate()


def _pseudonym(registry: pd.Series, local_id: pd.Series) -> np.ndarray:
    keys = registry.astype(str) + "|" + local_id.astype(str)
    return np.array([hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys], dtype=object)


def cdm_from_registry_data(data: RegistryData, *, spec: SimulationSpec) -> dict[str, pd.DataFrame]:
    """Map the simulator's registry tables to validated CDM tables.

    Parameters
    ----------
    data
        What the registries saw.
    spec
        The simulation spec (gives each registry's region and reporter).

    Returns
    -------
    dict of DataFrame
        ``patients, treatments, assessments, milestones, events, clinical_status``.
    """
    region_of = {r.name: r.region for r in spec.registries}
    reporter_of = {r.name: r.reporter for r in spec.registries}
    pats = data.patients
    pid = pd.Series(_pseudonym(pats["registry"], pats["local_id"]), index=pats.index)
    # The home (unshared) record comes first; a shared record links to it.
    order = pats.assign(_pid=pid).sort_values(["shared"], kind="stable")
    linked = order.groupby("person_id", sort=False)["_pid"].first()
    key = pd.DataFrame(
        {
            "registry": pats["registry"].astype(str),
            "local_id": pats["local_id"].astype(str),
            "patient_id": pid,
        }
    )
    sma_type = pats["sma_type"].astype(object)
    type3 = sma_type.isin(["3a", "3b"]) & ~pats["subtype_known"].astype(bool)
    sma_type = sma_type.where(~type3, "3")
    patients = pd.DataFrame(
        {
            "patient_id": pid,
            "linked_id": pats["person_id"].map(linked),
            "registry": pats["registry"].astype(str),
            "region": pats["registry"].astype(str).map(region_of),
            "sex": pats["sex"].astype("string"),
            "birth_year": pd.to_datetime(pats["birth_date"]).dt.year.astype("Int64"),
            "sma_type": sma_type.astype("string"),
            "smn2_copies": pats["smn2_copies"].astype("Int64"),
            "onset_age_days": pats["onset_age_days"].astype("Float64"),
            "diagnosis_age_days": pats["diagnosis_age_days"].astype("Float64"),
            "presymptomatic": pats["presymptomatic"].astype("boolean"),
            "reporter": pats["registry"].astype(str).map(reporter_of),
        }
    )

    def keyed(df: pd.DataFrame) -> pd.DataFrame:
        out = df.assign(registry=df["registry"].astype(str), local_id=df["local_id"].astype(str))
        return out.merge(key, on=["registry", "local_id"], how="left", validate="many_to_one")

    treatments = keyed(data.treatments)[
        ["patient_id", "therapy", "start_age_days", "stop_age_days"]
    ].assign(therapy=lambda d: d["therapy"].astype(str))
    assessments = (
        keyed(data.assessments)
        .dropna(subset=["score"])
        .assign(
            age_days=lambda d: d["visit_age_days"].astype(float),
            scale=lambda d: d["scale"].astype(str),
        )
    )[["patient_id", "age_days", "scale", "score"]]
    visits = keyed(data.visits).assign(age_days=lambda d: d["visit_age_days"].astype(float))
    milestones = pd.concat(
        [
            pd.DataFrame(
                {
                    "patient_id": visits["patient_id"],
                    "age_days": visits["age_days"],
                    "milestone": m,
                    "able": visits[m].astype("boolean"),
                    "ever": visits[f"ever_{m}"].astype("boolean"),
                }
            )
            for m in MILESTONE_CODES
        ],
        ignore_index=True,
    )
    milestones = milestones.loc[milestones["able"].notna() | milestones["ever"].notna()]
    milestones = milestones.sort_values(["patient_id", "age_days", "milestone"], kind="stable")
    events = keyed(data.events).assign(event=lambda d: d["event"].astype(str))[
        ["patient_id", "event", "age_days"]
    ]
    status = visits[["patient_id", "age_days", *_STATUS_COLUMNS]]
    tables = {
        "patients": patients.reset_index(drop=True),
        "treatments": treatments.reset_index(drop=True),
        "assessments": assessments.reset_index(drop=True),
        "milestones": milestones.reset_index(drop=True),
        "events": events.reset_index(drop=True),
        "clinical_status": status.reset_index(drop=True),
    }
    return validate_cdm(tables)


def simulate_cdm(
    n_patients: int, *, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], SimulatedPatients, RegistryData]:
    """Simulate ``n_patients`` people, observe them through the registries, map to the CDM."""
    spec = small_simulation_spec(n_patients)
    sim = simulate_patients(spec, seed=seed)
    data = observe_registries(sim, spec, seed=seed + 1)
    return cdm_from_registry_data(data, spec=spec), sim, data


@functools.cache
def cached_cdm(n_patients: int = 1500, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The CDM of :func:`simulate_cdm`, simulated once per test process (do not mutate it)."""
    cdm, _, _ = simulate_cdm(n_patients, seed=seed)
    return cdm


def copy_cdm(cdm: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Deep copy of every table (for tests that modify the data)."""
    return {name: table.copy(deep=True) for name, table in cdm.items()}
