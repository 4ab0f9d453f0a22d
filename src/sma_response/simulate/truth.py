"""Ground truth: what each therapy option would do for each patient (the oracle).

Written beside the exports and never read by training. For a patient and an index age, each
option (every therapy, and no therapy) is simulated from the same latent state, so the difference
between options is the true individual effect under the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sma_response.simulate.disease import (
    Population,
    Treatments,
    ability,
    event_free_probability,
)
from sma_response.simulate.params import ARMS, MEANINGFUL_CHANGE, SCALES, DiseaseParams
from sma_response.simulate.scales import expected_score, response_probability

DAYS_PER_MONTH = 30.4375


def primary_scale(
    ability_at_index: np.ndarray, age_months: np.ndarray, params: DiseaseParams
) -> np.ndarray:
    """Primary scale by function at baseline: CHOP INTEND for non-sitters, else HFMSE.

    Examples
    --------
    >>> from sma_response.simulate.params import DiseaseParams
    >>> primary_scale(np.array([10.0, 40.0]), np.array([6.0, 60.0]), DiseaseParams()).tolist()
    ['chop_intend', 'hfmse']
    """
    sits = np.asarray(ability_at_index) >= params.milestone_threshold["sitting"]
    return np.where(sits, "hfmse", "chop_intend").astype(object)


def counterfactual_outcomes(
    pop: Population,
    index_age_months: np.ndarray,
    params: DiseaseParams,
    *,
    horizon_months: float = 12.0,
    person_id: np.ndarray | None = None,
) -> pd.DataFrame:
    """Compute the expected change and response probability on every scale under every option.

    Parameters
    ----------
    pop
        The patients (one index age each).
    index_age_months
        Age at which each option would start (first therapy start, or first registry visit
        for patients never treated).
    params
        Disease parameters.
    horizon_months
        Months from index to outcome.
    person_id
        Identifier written in the output (default 0..n-1).

    Returns
    -------
    pandas.DataFrame
        Long table, one row per patient, option and scale: ``person_id, option,
        index_age_days, scale, expected_baseline, expected_change, meaningful_change,
        response_probability, event_free_probability, is_primary``. Scores are noise-free;
        the response probability accounts for measurement noise at both assessments (the
        chance an observed change reaches the meaningful change) and is conditional on being
        alive (the latent course). ``event_free_probability`` is the chance of reaching the
        horizon alive and free of permanent ventilation under the option
        (:func:`~sma_response.simulate.disease.event_free_probability`); the event noise is
        independent of the latent course, so the truth of the composite estimand (a
        meaningful gain, and alive without permanent ventilation) is the product of the two.
    """
    n = len(pop)
    person_id = np.arange(n) if person_id is None else np.asarray(person_id)
    t0 = np.asarray(index_age_months, dtype=float)
    t1 = t0 + horizon_months
    none = Treatments.none(n)
    a0 = ability(pop, none, t0[:, None], params)[:, 0]
    primary = primary_scale(a0, t0, params)
    frames = []
    for option in ARMS:
        plan = none if option == "untreated" else Treatments.single(option, t0)
        a1 = ability(pop, plan, t1[:, None], params)[:, 0]
        event_free = event_free_probability(pop, plan, t0, t1, params)
        for scale in SCALES:
            base = expected_score(scale, a0)
            change = expected_score(scale, a1) - base
            mcid = MEANINGFUL_CHANGE[scale]
            prob = response_probability(scale, change, t0, mcid, params, expected_start=base)
            frames.append(
                pd.DataFrame(
                    {
                        "person_id": person_id,
                        "option": option,
                        "index_age_days": np.round(t0 * DAYS_PER_MONTH, 1),
                        "scale": scale,
                        "expected_baseline": base,
                        "expected_change": change,
                        "meaningful_change": float(mcid),
                        "response_probability": np.where(np.isnan(change), np.nan, prob),
                        "event_free_probability": event_free,
                        "is_primary": primary == scale,
                    }
                )
            )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["person_id", "option", "scale"], kind="stable").reset_index(drop=True)
