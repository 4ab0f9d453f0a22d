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
from sma_response.cohort.spec import (
    ESTIMANDS,
    MEANINGFUL_CHANGE,
    SCALE_CHANGE_RULES,
    TARGET_KINDS,
    CohortSpec,
    TargetSpec,
)
from sma_response.schemas import MILESTONE_CODES, SCALE_CODES

__all__ = [
    "CENSORING_REASONS",
    "COMPOSITE_EVENTS",
    "OUTCOME_RULES",
    "TARGET_COLUMNS",
    "TARGET_RULES",
    "check_target_spec",
    "define_target",
    "describe_estimand",
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
    "outcome_rule",
)

#: How a labelled index event got its label (column ``outcome_rule``).
OUTCOME_RULES: dict[str, str] = {
    "observed": "scores (or milestones) at baseline and at the outcome visit",
    "death_or_ventilation": "death or permanent ventilation inside the outcome window: "
    "non-response (composite estimand)",
    "scale_change_sitting": "CHOP INTEND at baseline, another scale at the outcome visit and "
    "independent sitting gained: response",
}
#: CDM events that end the outcome window as non-response under the composite estimand.
COMPOSITE_EVENTS = ("death", "permanent_ventilation")

#: Why an index event has no label, in the order the rules are applied (attrition steps).
TARGET_RULES: dict[str, str] = {
    "no_baseline_on_scale": "baseline score on the target scale within the baseline window",
    "no_outcome_on_scale": "outcome score on the same scale within the outcome tolerance",
    "no_baseline_milestones": "milestone status recorded within the baseline window",
    "nothing_to_gain": "at least one milestone not held at baseline",
    "no_outcome_milestones": "milestone status recorded within the outcome tolerance",
}

#: Reasons that mean the outcome is missing (censoring), not that the event cannot have one.
CENSORING_REASONS = ("no_outcome_on_scale", "no_outcome_milestones")

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
    if spec.estimand not in ESTIMANDS:
        msg = f"target.estimand: unknown {spec.estimand!r}; expected one of {list(ESTIMANDS)}"
        raise ValueError(msg)
    if spec.kind == "delta" and spec.estimand == "composite":
        msg = (
            "target.estimand: a change target has no value for a child who died or needs "
            "permanent ventilation; use target.estimand=while_alive (or target=responder)"
        )
        raise ValueError(msg)
    if spec.scale_change not in SCALE_CHANGE_RULES:
        msg = (
            f"target.scale_change: unknown {spec.scale_change!r}; expected one of "
            f"{list(SCALE_CHANGE_RULES)}"
        )
        raise ValueError(msg)


def describe_estimand(spec: TargetSpec, cohort_spec: CohortSpec) -> str:
    """One sentence stating what the target estimates (for the attrition table and reports).

    Examples
    --------
    >>> describe_estimand(TargetSpec(estimand="composite"), CohortSpec())[:60]
    'composite (treatment policy): death or permanent ventilation'
    """
    days = f"{cohort_spec.outcome_days:g} days"
    if spec.estimand == "composite":
        return (
            "composite (treatment policy): death or permanent ventilation within "
            f"{days} of the therapy start counts as non-response, whatever the scores"
        )
    return (
        "while alive: the label is read from the scores alone, so an index event without an "
        f"outcome score (deaths included) within {days} +- "
        f"{cohort_spec.outcome_tolerance_days:g} days is left out"
    )


def _composite_events(
    events: pd.DataFrame, cdm: Mapping[str, pd.DataFrame], windows: CohortSpec
) -> pd.Series:
    """Age of the first death or permanent ventilation after each index, inside the window.

    Indexed by ``index_id``; NaN where there is none (or the CDM has no ``events`` table).
    """
    table = cdm.get("events")
    if table is None or table.empty:
        return pd.Series(np.nan, index=events["index_id"].to_numpy(), dtype=float)
    ev = table.loc[table["event"].isin(COMPOSITE_EVENTS), ["patient_id", "age_days"]]
    ev = ev.assign(patient_id=ev["patient_id"].astype(str), age_days=ev["age_days"].astype(float))
    joined = events[["index_id", "patient_id", "index_age_days"]].merge(
        ev, on="patient_id", how="inner"
    )
    start = joined["index_age_days"].astype(float)
    inside = (joined["age_days"] > start) & (joined["age_days"] <= start + windows.outcome_days)
    first = joined.loc[inside].groupby("index_id")["age_days"].min()
    return first.reindex(events["index_id"].to_numpy()).astype(float)


def _sitting_gained(
    events: pd.DataFrame, miles: pd.DataFrame, until: pd.Series, base_sitting: pd.Series
) -> pd.Series:
    """Whether independent sitting, not held at baseline, is recorded after index by ``until``.

    ``until`` (indexed by ``index_id``) is the age of the outcome visit; ``base_sitting`` the
    sitting status at baseline (:func:`baseline_milestones`).
    """
    sits = miles.loc[
        (miles["milestone"] == "sitting") & (as_float(miles["able"]) == 1.0),
        ["patient_id", "age_days"],
    ]
    joined = events[["index_id", "patient_id", "index_age_days"]].merge(
        sits.astype({"patient_id": str, "age_days": float}), on="patient_id", how="inner"
    )
    limit = joined["index_id"].map(until).to_numpy(dtype=float)
    age = joined["age_days"].to_numpy(dtype=float)
    after = (age > joined["index_age_days"].to_numpy(dtype=float)) & (age <= limit)
    ids = events["index_id"].to_numpy()
    gained = pd.Series(np.isin(ids, joined.loc[after, "index_id"].unique()), index=ids)
    return gained & (base_sitting.reindex(gained.index) != 1.0)


def _events(cohort: pd.DataFrame) -> pd.DataFrame:
    return cohort[["index_id", "patient_id", "index_age_days"]].reset_index(drop=True)


def _scale_target(
    events: pd.DataFrame, cdm: Mapping[str, pd.DataFrame], spec: TargetSpec, windows: CohortSpec
) -> pd.DataFrame:
    """Baseline and outcome on one scale per event (primary by function, or a fixed scale)."""
    base = baseline_scores(events, cdm["assessments"], window_days=windows.baseline_window_days)
    miles = None
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
    out["outcome_rule"] = np.where(out["reason"] == "", "observed", "")
    if spec.kind == "responder" and spec.scale_change == "sitting" and miles is not None:
        out = _scale_change(out, events, cdm, daily, windows, base_sitting=miles["sitting"])
    if spec.estimand == "composite":
        out = _composite(out, events, cdm, windows, gate=out["reason"] != "no_baseline_on_scale")
    return out


def _scale_change(
    out: pd.DataFrame,
    events: pd.DataFrame,
    cdm: Mapping[str, pd.DataFrame],
    daily: pd.DataFrame,
    windows: CohortSpec,
    *,
    base_sitting: pd.Series,
) -> pd.DataFrame:
    """Label a move off CHOP INTEND by the sitting gained (rule ``scale_change_sitting``).

    Clinics stop CHOP INTEND once a child sits (and HFMSE starts then): an outcome visit with
    another scale only, after a CHOP INTEND baseline, is that gain, far beyond CHOP INTEND's
    meaningful 4 points. Without a record of sitting gained the event stays unlabelled.
    """
    candidate = (out["primary_scale"] == "chop_intend") & (out["reason"] == "no_outcome_on_scale")
    if not candidate.any():
        return out
    probe = events.loc[candidate.to_numpy()]
    visit = _outcome_visit(probe, daily, windows).set_index("index_id")["age_days"]
    gained = _sitting_gained(probe, cdm["milestones"], visit, base_sitting)
    ids = gained.index[gained.to_numpy() & visit.reindex(gained.index).notna().to_numpy()]
    rows = out["index_id"].isin(ids).to_numpy()
    return _set_label(out, rows, at=visit, target=1.0, rule="scale_change_sitting")


def _outcome_visit(events: pd.DataFrame, dated: pd.DataFrame, windows: CohortSpec) -> pd.DataFrame:
    """Return the visit (a distinct ``patient_id, age_days`` of ``dated``) nearest the outcome."""
    return nearest_within(
        events,
        dated[["patient_id", "age_days"]].drop_duplicates(),
        offset_days=windows.outcome_days,
        tolerance_days=windows.outcome_tolerance_days,
    )


def _set_label(
    out: pd.DataFrame, rows: np.ndarray, *, at: pd.Series, target: float, rule: str
) -> pd.DataFrame:
    """Label ``rows`` by ``rule``: ``target``, no reason left, the age ``at`` (by ``index_id``)."""
    if rows.any():
        out.loc[rows, "outcome_age_days"] = out.loc[rows, "index_id"].map(at).to_numpy()
        out.loc[rows, ["target", "reason", "outcome_rule"]] = [target, "", rule]
    return out


def _composite(
    out: pd.DataFrame,
    events: pd.DataFrame,
    cdm: Mapping[str, pd.DataFrame],
    windows: CohortSpec,
    *,
    gate: pd.Series,
) -> pd.DataFrame:
    """Label a death or permanent ventilation inside the window non-response (``gate`` rows).

    The observed outcome score, where there is one, is kept (it describes the change while
    alive); ``outcome_age_days`` becomes the age at the event, which set the label.
    """
    event_age = _composite_events(events, cdm, windows)
    rows = gate.to_numpy() & out["index_id"].map(event_age).notna().to_numpy()
    return _set_label(out, rows, at=event_age, target=0.0, rule="death_or_ventilation")


def _milestone_target(
    events: pd.DataFrame, cdm: Mapping[str, pd.DataFrame], spec: TargetSpec, windows: CohortSpec
) -> pd.DataFrame:
    """Gain of a milestone not held at baseline, read at the outcome visit."""
    base = baseline_milestones(events, cdm["milestones"], window_days=windows.baseline_window_days)
    known = cdm["milestones"].loc[cdm["milestones"]["able"].notna()]
    visit = _outcome_visit(events, known, windows)
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
    out = pd.DataFrame(
        {
            "index_id": base.index.to_numpy(),
            "primary_scale": MILESTONE_SCALE,
            "baseline_score": (base == 1).sum(axis=1).where(base_known).to_numpy(dtype=float),
            "outcome_score": (at_visit == 1).sum(axis=1).where(out_known).to_numpy(dtype=float),
            "outcome_age_days": visit["age_days"].to_numpy(dtype=float),
            "target": np.where(reason == "", gained.astype(float), np.nan),
            "reason": reason,
            "outcome_rule": np.where(reason == "", "observed", ""),
        }
    )
    if spec.estimand == "composite":
        gate = ~out["reason"].isin(["no_baseline_milestones", "nothing_to_gain"])
        out = _composite(out, events, cdm, windows, gate=gate)
    return out


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
        out = _milestone_target(events, cdm, spec, cohort_spec)
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

    The estimand (``spec.estimand``): under ``composite`` a death or permanent ventilation
    within ``cohort_spec.outcome_days`` after the index is non-response (0) whatever the scores
    (rule ``death_or_ventilation``); under ``while_alive`` the scores alone decide. With
    ``spec.scale_change="sitting"`` a ``responder`` whose CHOP INTEND baseline is followed only
    by another scale at the outcome visit is a responder when sitting was gained (rule
    ``scale_change_sitting``). ``outcome_rule`` (:data:`OUTCOME_RULES`) says which rule gave
    each label.

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
        ``index_id, target, primary_scale, baseline_score, outcome_score, outcome_age_days,
        outcome_rule`` (schema :class:`~sma_response.schemas.Targets`), in cohort order;
        ``outcome_score`` is NaN where no score on the scale was observed (a label set by
        a death or a scale change), ``outcome_age_days`` is the age that set the label.
        Pass ``target=spec`` to ``build_cohort`` to count the events without a label in the
        attrition table.

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
        primary_scale=out["primary_scale"].astype(str),
        target=out["target"].astype(float),
        outcome_rule=out["outcome_rule"].astype(str),
    )
