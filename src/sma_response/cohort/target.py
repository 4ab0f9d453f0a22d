"""Labels of index events: responder, change on a scale, or milestone gain (``TargetSpec``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sma_response.cohort.lookup import (
    as_float,
    baseline_function,
    baseline_milestones,
    baseline_scores,
    daily_scores,
    nearest_within,
    primary_scale,
    score_on,
)
from sma_response.cohort.spec import MEANINGFUL_CHANGE, TARGET_KINDS, CohortSpec, TargetSpec
from sma_response.schemas import MILESTONE_CODES, SCALE_CODES

__all__ = [
    "TARGET_COLUMNS",
    "TARGET_RULES",
    "check_target_spec",
    "define_target",
    "label_index_events",
]

log = logging.getLogger(__name__)

TARGET_COLUMNS = (
    "index_id",
    "target",
    "primary_scale",
    "baseline_score",
    "outcome_score",
    "outcome_age_days",
)

#: Why an index event has no label, in the order the rules are applied (attrition steps).
TARGET_RULES: dict[str, str] = {
    "no_baseline_on_scale": "baseline score on the target scale within the baseline window",
    "no_outcome_on_scale": "outcome score on the same scale within the outcome tolerance",
    "no_baseline_milestones": "milestone status recorded within the baseline window",
    "nothing_to_gain": "at least one milestone not held at baseline",
    "no_outcome_milestones": "milestone status recorded within the outcome tolerance",
}

#: Label of milestone targets in the ``primary_scale`` column.
MILESTONE_SCALE = "milestones"


def check_target_spec(spec: TargetSpec) -> None:
    """Raise ``ValueError`` naming the offending key if ``spec`` is invalid.

    Examples
    --------
    >>> check_target_spec(TargetSpec(kind="delta", scale="hfmse")) is None
    True
    """
    if spec.kind not in TARGET_KINDS:
        msg = f"target.kind: unknown kind {spec.kind!r}; expected one of {list(TARGET_KINDS)}"
        raise ValueError(msg)
    if spec.kind == "delta" and spec.scale not in (*SCALE_CODES, "primary"):
        msg = f"target.scale: a delta target needs a scale or 'primary', got {spec.scale!r}"
        raise ValueError(msg)


def _events(cohort: pd.DataFrame) -> pd.DataFrame:
    return cohort[["index_id", "patient_id", "index_age_days"]].reset_index(drop=True)


def _scale_target(
    events: pd.DataFrame, cdm: Mapping[str, pd.DataFrame], spec: TargetSpec, windows: CohortSpec
) -> pd.DataFrame:
    """Baseline and outcome on one scale per event (primary by function, or a fixed scale)."""
    base = baseline_scores(events, cdm["assessments"], window_days=windows.baseline_window_days)
    if spec.kind == "delta" and spec.scale != "primary":
        scale = pd.Series(spec.scale, index=base.index, dtype="string")
    else:
        miles = baseline_milestones(
            events, cdm["milestones"], window_days=windows.baseline_window_days
        )
        function = baseline_function(miles, base, events.set_index("index_id")["index_age_days"])
        scale = primary_scale(function, base, primary_scales=spec.primary_scales)
    scale_arr = scale.to_numpy(dtype=object, na_value=None)
    baseline = score_on(base, scale_arr)
    daily = daily_scores(cdm["assessments"])
    probe = events.assign(scale=scale_arr).loc[lambda d: d["scale"].notna()]
    outcome = nearest_within(
        probe,
        daily,
        offset_days=windows.outcome_days,
        tolerance_days=windows.outcome_tolerance_days,
        by=("patient_id", "scale"),
    ).set_index("index_id")
    out = pd.DataFrame(
        {
            "index_id": events["index_id"].to_numpy(),
            "primary_scale": scale_arr,
            "baseline_score": baseline,
        }
    )
    out["outcome_score"] = out["index_id"].map(outcome["score"]).astype(float)
    out["outcome_age_days"] = out["index_id"].map(outcome["age_days"]).astype(float)
    change = out["outcome_score"] - out["baseline_score"]
    if spec.kind == "responder":
        mcid = out["primary_scale"].map(MEANINGFUL_CHANGE).astype(float)
        target = np.where(change.notna(), (change >= mcid).astype(float), np.nan)
    else:
        target = change.to_numpy(dtype=float)
    out["target"] = target
    out["reason"] = np.select(
        [out["baseline_score"].isna(), out["outcome_score"].isna()],
        ["no_baseline_on_scale", "no_outcome_on_scale"],
        default="",
    )
    return out


def _milestone_target(
    events: pd.DataFrame, cdm: Mapping[str, pd.DataFrame], windows: CohortSpec
) -> pd.DataFrame:
    """Gain of a milestone not held at baseline, read at the outcome visit."""
    base = baseline_milestones(events, cdm["milestones"], window_days=windows.baseline_window_days)
    known = cdm["milestones"].loc[cdm["milestones"]["able"].notna()]
    visits = known[["patient_id", "age_days"]].drop_duplicates()
    visit = nearest_within(
        events,
        visits,
        offset_days=windows.outcome_days,
        tolerance_days=windows.outcome_tolerance_days,
    )
    # Status of every milestone at that visit (exact age match); NaN where not recorded.
    at_visit = (
        visit[["index_id", "patient_id", "age_days"]]
        .dropna(subset=["age_days"])
        .merge(
            known.assign(able=as_float(known["able"]))[
                ["patient_id", "age_days", "milestone", "able"]
            ],
            on=["patient_id", "age_days"],
            how="inner",
        )
        .pivot_table(index="index_id", columns="milestone", values="able", aggfunc="max")
        .reindex(index=base.index, columns=list(MILESTONE_CODES))
    )
    gained = ((base == 0) & (at_visit == 1)).any(axis=1)
    base_known = base.notna().any(axis=1)
    all_held = (base == 1).all(axis=1)
    out_known = at_visit.notna().any(axis=1)
    reason = np.select(
        [~base_known, all_held, ~out_known],
        ["no_baseline_milestones", "nothing_to_gain", "no_outcome_milestones"],
        default="",
    )
    return pd.DataFrame(
        {
            "index_id": base.index.to_numpy(),
            "primary_scale": MILESTONE_SCALE,
            "baseline_score": (base == 1).sum(axis=1).where(base_known).to_numpy(dtype=float),
            "outcome_score": (at_visit == 1).sum(axis=1).where(out_known).to_numpy(dtype=float),
            "outcome_age_days": visit["age_days"].to_numpy(dtype=float),
            "target": np.where(reason == "", gained.astype(float), np.nan),
            "reason": reason,
        }
    )


def label_index_events(
    cohort: pd.DataFrame,
    cdm: Mapping[str, pd.DataFrame],
    *,
    spec: TargetSpec,
    cohort_spec: CohortSpec,
) -> pd.DataFrame:
    """Target columns for every index event, with ``reason`` (``""`` when labelled).

    The building block of :func:`define_target` and of the target steps of the attrition table.
    ``reason`` is a key of :data:`TARGET_RULES`.
    """
    check_target_spec(spec)
    events = _events(cohort)
    if spec.kind == "milestone_gain":
        out = _milestone_target(events, cdm, cohort_spec)
    else:
        out = _scale_target(events, cdm, spec, cohort_spec)
    return out[[*TARGET_COLUMNS, "reason"]].reset_index(drop=True)


def define_target(
    cohort: pd.DataFrame,
    cdm: Mapping[str, pd.DataFrame],
    *,
    spec: TargetSpec,
    cohort_spec: CohortSpec,
) -> pd.DataFrame:
    """Label each index event of the cohort; events without a label are left out.

    Baseline is the latest assessment within ``cohort_spec.baseline_window_days`` before (or
    at) the index; outcome the assessment nearest to ``index + outcome_days`` within
    ``+- outcome_tolerance_days``, on the same scale as the baseline.

    * ``responder``: primary scale by function at baseline (CHOP INTEND for non-sitters; HFMSE,
      else RHS, else RULM for sitters and walkers); target 1 when the change reaches the scale's
      meaningful change (:data:`~sma_response.cohort.spec.MEANINGFUL_CHANGE`), else 0.
    * ``delta``: outcome minus baseline on ``spec.scale`` (or on the primary scale).
    * ``milestone_gain``: 1 when a milestone not held at baseline is held at the outcome visit;
      ``baseline_score``/``outcome_score`` count the milestones held.

    Parameters
    ----------
    cohort
        From :func:`~sma_response.cohort.build.build_cohort` (``index_id, patient_id,
        index_age_days`` are used).
    cdm
        CDM tables (``assessments`` and ``milestones`` are used).
    spec
        Target definition.
    cohort_spec
        Gives the baseline window and outcome timing (the same spec that built the cohort).

    Returns
    -------
    pandas.DataFrame
        ``index_id, target, primary_scale, baseline_score, outcome_score, outcome_age_days``
        (schema :class:`~sma_response.schemas.Targets`), in cohort order. Pass ``target=spec``
        to ``build_cohort`` to count the events without a label in the attrition table.

    Examples
    --------
    >>> cohort = pd.DataFrame({"index_id": ["a#1"], "patient_id": ["a"],
    ...                        "index_age_days": [1000.0]})
    >>> a = pd.DataFrame({"patient_id": ["a", "a"], "age_days": [990.0, 1370.0],
    ...                   "scale": ["hfmse", "hfmse"], "score": [20.0, 24.0]})
    >>> m = pd.DataFrame({"patient_id": ["a"], "age_days": [990.0], "milestone": ["sitting"],
    ...                   "able": [True], "ever": [True]})
    >>> t = define_target(cohort, {"assessments": a, "milestones": m}, spec=TargetSpec(),
    ...                   cohort_spec=CohortSpec())
    >>> t[["primary_scale", "target"]].values.tolist()
    [['hfmse', 1.0]]
    """
    labelled = label_index_events(cohort, cdm, spec=spec, cohort_spec=cohort_spec)
    keep = labelled["reason"] == ""
    if not keep.all():
        counts = labelled.loc[~keep, "reason"].value_counts().to_dict()
        log.info(
            "define_target: %d of %d index events unlabelled %s", (~keep).sum(), len(keep), counts
        )
    out = labelled.loc[keep, list(TARGET_COLUMNS)].reset_index(drop=True)
    return out.assign(
        primary_scale=out["primary_scale"].astype(str), target=out["target"].astype(float)
    )
