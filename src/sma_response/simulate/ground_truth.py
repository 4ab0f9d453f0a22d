"""Ground truth written beside the exports: latent parameters, links and counterfactual outcomes.

These tables are the oracle of a simulated dataset: who every registry record really is, each
patient's latent disease parameters and events, and what every therapy option would do for them.
Evaluation may read them; training never does. They hold no direct identifier (no name, record
number or exact birth date; the birth year is the only calendar information).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sma_response.simulate.cohort import DAYS_PER_MONTH, SimulatedPatients
from sma_response.simulate.params import DiseaseParams
from sma_response.simulate.registries import RegistryData
from sma_response.simulate.spec import SimulationSpec
from sma_response.simulate.truth import counterfactual_outcomes

__all__ = ["GROUND_TRUTH_TABLES", "build_ground_truth", "counterfactual_index"]

#: Table names (files ``ground_truth/<name>.parquet``).
GROUND_TRUTH_TABLES: tuple[str, ...] = (
    "patients",
    "registry_links",
    "counterfactuals",
    "shared_patients",
)


def counterfactual_index(sim: SimulatedPatients, data: RegistryData) -> pd.DataFrame:
    """Index age of each patient's counterfactual outcomes.

    The index is the first therapy start; for a patient never treated, the first registry
    visit; for a patient never seen by a registry, the diagnosis.

    Parameters
    ----------
    sim
        Simulated patients.
    data
        Registry observations of the same patients.

    Returns
    -------
    pandas.DataFrame
        ``person_id, index_kind, index_age_months``, one row per patient.
    """
    n = len(sim.patients)
    treated = sim.plan.code[:, 0] >= 0
    first_visit = (
        data.visits.groupby("person_id")["visit_age_days"]
        .min()
        .reindex(np.arange(n))
        .to_numpy(dtype=float)
        / DAYS_PER_MONTH
    )
    diagnosis = sim.patients["diagnosis_age_days"].to_numpy() / DAYS_PER_MONTH
    seen = ~np.isnan(first_visit)
    kind = np.where(treated, "first_therapy", np.where(seen, "first_visit", "diagnosis"))
    age = np.where(treated, sim.plan.start[:, 0], np.where(seen, first_visit, diagnosis))
    return pd.DataFrame(
        {"person_id": np.arange(n, dtype=np.int64), "index_kind": kind, "index_age_months": age}
    )


def build_ground_truth(
    sim: SimulatedPatients,
    data: RegistryData,
    *,
    spec: SimulationSpec,
    params: DiseaseParams | None = None,
) -> dict[str, pd.DataFrame]:
    """Build the ground-truth tables of a simulated dataset.

    Parameters
    ----------
    sim
        Simulated patients.
    data
        Their registry observations.
    spec
        Simulation spec (``truth_horizon_months`` sets the counterfactual horizon).
    params
        Disease parameters (calibrated defaults when ``None``).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``patients`` (one row per person: region, sex, birth year, true type and SMN2 copies,
        onset, diagnosis, event and milestone ages in days, latent parameters),
        ``registry_links`` (``registry, local_id -> person_id``, with the enrolment window),
        ``counterfactuals`` (:func:`sma_response.simulate.truth.counterfactual_outcomes` at
        :func:`counterfactual_index`, plus ``index_kind``) and ``shared_patients``.
    """
    params = params or DiseaseParams()
    patients = sim.patients
    birth_year = np.floor(patients["birth_year_decimal"].to_numpy()).astype(np.int64)
    truth_patients = patients.drop(columns="birth_year_decimal").assign(birth_year=birth_year)
    front = ["person_id", "region", "sex", "birth_year"]
    truth_patients = truth_patients[front + [c for c in truth_patients.columns if c not in front]]
    pt = data.patients
    links = pd.DataFrame(
        {
            "registry": pt["registry"].astype(str).to_numpy(dtype=object),
            "local_id": pt["local_id"].astype(str).to_numpy(dtype=object),
            "person_id": pt["person_id"].to_numpy(dtype=np.int64),
            "shared": pt["shared"].to_numpy(dtype=bool),
            "entry_age_days": pt["entry_age_days"].to_numpy(dtype=float),
            "exit_age_days": pt["exit_age_days"].to_numpy(dtype=float),
            "exit_reason": pt["exit_reason"].to_numpy(dtype=object),
        }
    )
    index = counterfactual_index(sim, data)
    counterfactuals = counterfactual_outcomes(
        sim.population,
        index["index_age_months"].to_numpy(),
        params,
        horizon_months=spec.truth_horizon_months,
        person_id=index["person_id"].to_numpy(),
    )
    kind = index["index_kind"].to_numpy()[counterfactuals["person_id"].to_numpy()]
    counterfactuals.insert(2, "index_kind", kind)
    shared = data.shared.astype(
        {
            "registry": object,
            "local_id": object,
            "source_registry": object,
            "source_local_id": object,
        }
    )
    return {
        "patients": truth_patients.reset_index(drop=True),
        "registry_links": links,
        "counterfactuals": counterfactuals,
        "shared_patients": shared.reset_index(drop=True),
    }
