"""The analysis cohort: one row per index event (a therapy start), with an attrition table."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sma_response.cohort.lookup import latest_within
from sma_response.cohort.spec import INDEX_KINDS, CohortSpec, TargetSpec
from sma_response.cohort.target import (
    OUTCOME_RULES,
    TARGET_RULES,
    describe_estimand,
    label_index_events,
)
from sma_response.schemas import THERAPY_CODES

__all__ = [
    "ATTRITION_COLUMNS",
    "COHORT_COLUMNS",
    "NO_THERAPY_START",
    "build_cohort",
    "check_cohort_spec",
    "cohort_exclusions",
]

log = logging.getLogger(__name__)

COHORT_COLUMNS = (
    "index_id",
    "patient_id",
    "linked_id",
    "registry",
    "region",
    "index_age_days",
    "therapy",
    "line",
    "prior_therapy",
)
ATTRITION_COLUMNS = (
    "step",
    "rule",
    "description",
    "n_patients",
    "n_index_events",
    "excluded",
    "excluded_patients",
)
NO_PRIOR_THERAPY = "none"


def check_cohort_spec(spec: CohortSpec) -> None:
    """Raise ``ValueError`` naming the offending key if ``spec`` is invalid.

    Examples
    --------
    >>> check_cohort_spec(CohortSpec()) is None
    True
    """
    if spec.index not in INDEX_KINDS:
        msg = f"cohort.index: unknown index {spec.index!r}; expected one of {list(INDEX_KINDS)}"
        raise ValueError(msg)
    unknown = sorted(set(spec.therapies) - set(THERAPY_CODES))
    if unknown or not spec.therapies:
        msg = f"cohort.therapies: {unknown or 'empty'}; expected some of {list(THERAPY_CODES)}"
        raise ValueError(msg)
    for key in ("baseline_window_days", "outcome_days", "outcome_tolerance_days"):
        if getattr(spec, key) < 0:
            msg = f"cohort.{key}: must be >= 0, got {getattr(spec, key)}"
            raise ValueError(msg)
    if spec.outcome_tolerance_days >= spec.outcome_days:
        msg = (
            "cohort.outcome_tolerance_days: must be smaller than cohort.outcome_days, so the "
            f"outcome is after the index <{spec.outcome_tolerance_days} >= {spec.outcome_days}>"
        )
        raise ValueError(msg)
    lo, hi = spec.min_index_age_days, spec.max_index_age_days
    if lo is not None and hi is not None and lo > hi:
        msg = f"cohort.min_index_age_days: {lo} is above cohort.max_index_age_days {hi}"
        raise ValueError(msg)


@dataclass
class _Tracker:
    """Attrition in the spirit of ehrapy's CohortTracker: every rule, in order, with counts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    #: patient_id -> (rule, description) of the rule that removed the patient's last event
    dropped: dict[str, tuple[str, str]] = field(default_factory=dict)

    def add(
        self,
        rule: str,
        description: str,
        *,
        n_patients: int,
        n_events: int | None,
    ) -> None:
        prev = self.rows[-1] if self.rows else None
        prev_events = prev["n_index_events"] if prev else None
        prev_patients = prev["n_patients"] if prev else None
        self.rows.append(
            {
                "step": len(self.rows),
                "rule": rule,
                "description": description,
                "n_patients": n_patients,
                "n_index_events": n_events,
                "excluded": (
                    None if prev_events is None or n_events is None else prev_events - n_events
                ),
                "excluded_patients": None if prev_patients is None else prev_patients - n_patients,
            }
        )

    def keep(
        self, events: pd.DataFrame, mask: np.ndarray, rule: str, description: str
    ) -> pd.DataFrame:
        kept = events.loc[np.asarray(mask, dtype=bool)].reset_index(drop=True)
        self.add(rule, description, n_patients=kept["patient_id"].nunique(), n_events=len(kept))
        gone = set(events["patient_id"].astype(str)) - set(kept["patient_id"].astype(str))
        for patient in gone:
            self.dropped.setdefault(patient, (rule, description))
        return kept

    def frame(self) -> pd.DataFrame:
        out = pd.DataFrame(self.rows, columns=list(ATTRITION_COLUMNS))
        for col in ("n_patients", "n_index_events", "excluded", "excluded_patients"):
            out[col] = out[col].astype("Int64")
        return out


def _index_events(treatments: pd.DataFrame) -> pd.DataFrame:
    """Every therapy start, numbered by line within patient, with the previous therapy."""
    courses = treatments[["patient_id", "therapy", "start_age_days"]].assign(
        patient_id=lambda d: d["patient_id"].astype(str),
        therapy=lambda d: d["therapy"].astype(str),
        start_age_days=lambda d: d["start_age_days"].astype(float),
    )
    courses = courses.sort_values(["patient_id", "start_age_days", "therapy"], kind="stable")
    grouped = courses.groupby("patient_id", sort=False)
    line = grouped.cumcount().to_numpy() + 1
    prior = grouped["therapy"].shift(1).fillna(NO_PRIOR_THERAPY)
    return pd.DataFrame(
        {
            "index_id": courses["patient_id"].to_numpy() + "#" + line.astype(str),
            "patient_id": courses["patient_id"].to_numpy(),
            "index_age_days": courses["start_age_days"].to_numpy(),
            "therapy": courses["therapy"].to_numpy(),
            "line": line.astype(np.int64),
            "prior_therapy": prior.astype(str).to_numpy(),
        }
    )


def build_cohort(
    cdm: Mapping[str, pd.DataFrame],
    *,
    spec: CohortSpec,
    target: TargetSpec | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Select index events (therapy starts) and record every exclusion rule with its counts.

    Rules, in order: a therapy start (the first per patient, or every one); the therapy is
    in ``spec.therapies``; age at index within bounds (when set); a motor score within the
    baseline window (removes patient-reported registries); when ``target`` is given, the rules
    that make a label possible (baseline and outcome on the target scale, see
    :data:`~sma_response.cohort.target.TARGET_RULES`); finally one registry record per linked
    person (the one with the most assessments, ties broken by ``patient_id``).

    Parameters
    ----------
    cdm
        Validated CDM tables (``patients``, ``treatments``, ``assessments``; ``milestones``
        when a target needs them).
    spec
        Cohort definition.
    target
        Target definition; when given, index events that cannot be labelled are excluded here
        and counted in the attrition table.

    Returns
    -------
    cohort : pandas.DataFrame
        ``index_id`` (``patient_id#line``), ``patient_id, linked_id, registry, region,
        index_age_days, therapy, line, prior_therapy`` (``"none"`` for a first line); schema
        :class:`~sma_response.schemas.Cohort`.
    attrition : pandas.DataFrame
        ``step, rule, description, n_patients, n_index_events, excluded`` (index events removed
        by the rule), ``excluded_patients``; step 0 counts the registry records.

    Examples
    --------
    >>> pats = pd.DataFrame({"patient_id": ["a", "b"], "linked_id": ["a", "b"],
    ...                      "registry": ["r", "r"], "region": ["DE", "DE"]})
    >>> tr = pd.DataFrame({"patient_id": ["a"], "therapy": ["risdiplam"],
    ...                    "start_age_days": [900.0], "stop_age_days": [np.nan]})
    >>> a = pd.DataFrame({"patient_id": ["a"], "age_days": [880.0], "scale": ["hfmse"],
    ...                   "score": [20.0]})
    >>> cohort, attrition = build_cohort({"patients": pats, "treatments": tr, "assessments": a},
    ...                                  spec=CohortSpec())
    >>> cohort["index_id"].tolist(), attrition["n_patients"].tolist()
    (['a#1'], [2, 1, 1, 1, 1])
    """
    cohort, attrition, _ = _build(cdm, spec, target)
    return cohort, attrition


#: Rule and reason of a patient with no therapy start in the CDM at all.
NO_THERAPY_START = ("therapy_start", "no start of a disease-modifying therapy recorded")


def cohort_exclusions(
    cdm: Mapping[str, pd.DataFrame],
    *,
    spec: CohortSpec,
    target: TargetSpec | None = None,
) -> pd.DataFrame:
    """Name every patient of the CDM left without an index event, with the rule that did it.

    The same rules as :func:`build_cohort`, in the same order; a patient is named with the
    first rule that removed their last index event.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, rule, reason`` (pseudonymous ids), sorted by ``patient_id``.

    Examples
    --------
    >>> pats = pd.DataFrame({"patient_id": ["a", "b"], "linked_id": ["a", "b"],
    ...                      "registry": ["r", "r"], "region": ["DE", "DE"]})
    >>> tr = pd.DataFrame({"patient_id": ["a", "b"], "therapy": ["risdiplam"] * 2,
    ...                    "start_age_days": [900.0, 400.0], "stop_age_days": [np.nan] * 2})
    >>> a = pd.DataFrame({"patient_id": ["a"], "age_days": [880.0], "scale": ["hfmse"],
    ...                   "score": [20.0]})
    >>> cohort_exclusions({"patients": pats, "treatments": tr, "assessments": a},
    ...                   spec=CohortSpec()).values.tolist()
    [['b', 'baseline_score', 'a motor score within 180 days before index']]
    """
    cohort, _, tracker = _build(cdm, spec, target)
    kept = set(cohort["patient_id"].astype(str))
    rows = []
    for patient in sorted(set(cdm["patients"]["patient_id"].astype(str)) - kept):
        rule, reason = tracker.dropped.get(patient, NO_THERAPY_START)
        rows.append({"patient_id": patient, "rule": rule, "reason": reason})
    return pd.DataFrame(rows, columns=["patient_id", "rule", "reason"])


def _build(
    cdm: Mapping[str, pd.DataFrame], spec: CohortSpec, target: TargetSpec | None
) -> tuple[pd.DataFrame, pd.DataFrame, _Tracker]:
    check_cohort_spec(spec)
    patients = cdm["patients"]
    tracker = _Tracker()
    tracker.add(
        "registry_records",
        "patient records in the CDM",
        n_patients=int(patients["patient_id"].nunique()),
        n_events=None,
    )
    events = _index_events(cdm["treatments"])
    if spec.index == "first_start":
        events = events.loc[events["line"] == 1].reset_index(drop=True)
    events = tracker.keep(
        events,
        np.ones(len(events), dtype=bool),
        "therapy_start",
        f"index event: {spec.index.replace('_', ' ')} of a disease-modifying therapy",
    )
    events = tracker.keep(
        events,
        events["therapy"].isin(spec.therapies).to_numpy(),
        "therapy",
        f"therapy at index in {sorted(spec.therapies)}",
    )
    if spec.min_index_age_days is not None:
        events = tracker.keep(
            events,
            (events["index_age_days"] >= spec.min_index_age_days).to_numpy(),
            "min_index_age",
            f"age at index >= {spec.min_index_age_days:g} days",
        )
    if spec.max_index_age_days is not None:
        events = tracker.keep(
            events,
            (events["index_age_days"] <= spec.max_index_age_days).to_numpy(),
            "max_index_age",
            f"age at index <= {spec.max_index_age_days:g} days",
        )
    if spec.require_baseline_score:
        scored = cdm["assessments"][["patient_id", "age_days"]].drop_duplicates()
        found = latest_within(
            events[["index_id", "patient_id", "index_age_days"]],
            scored.assign(_seen=1.0),
            window_days=spec.baseline_window_days,
        )
        events = tracker.keep(
            events,
            found["_seen"].notna().to_numpy(),
            "baseline_score",
            f"a motor score within {spec.baseline_window_days:g} days before index",
        )
    if target is not None:
        events = _target_steps(events, cdm, spec, target, tracker)
    if spec.deduplicate_linked:
        events = _deduplicate(events, patients, cdm["assessments"], tracker)
    meta = patients[["patient_id", "linked_id", "registry", "region"]].astype(str)
    cohort = events.merge(meta, on="patient_id", how="left", validate="many_to_one")
    cohort = cohort[list(COHORT_COLUMNS)].reset_index(drop=True)
    attrition = tracker.frame()
    log.info(
        "build_cohort: %d index events of %d patients (from %d records)",
        len(cohort),
        cohort["patient_id"].nunique(),
        int(attrition["n_patients"].iloc[0]),
    )
    return cohort, attrition, tracker


def _target_steps(
    events: pd.DataFrame,
    cdm: Mapping[str, pd.DataFrame],
    spec: CohortSpec,
    target: TargetSpec,
    tracker: _Tracker,
) -> pd.DataFrame:
    """Exclude the index events the target cannot label; state the estimand and its rules.

    The estimand and each rule that labels an event without an observed outcome (a death, a
    scale change) are steps that exclude nothing; their description gives the count.
    """
    labelled = label_index_events(events, cdm, spec=target, cohort_spec=spec)
    reason = labelled["reason"].to_numpy()
    rule_of = labelled["outcome_rule"].to_numpy()
    everyone = np.ones(len(events), dtype=bool)
    events = tracker.keep(
        events, everyone, "estimand", f"estimand {describe_estimand(target, spec)}"
    )
    rules = _rules_for(target)
    for rule in rules:
        if rule == rules[-1]:  # labels set by a rule are counted before the last exclusion
            for kind in OUTCOME_RULES:
                n = int((rule_of == kind).sum())
                if kind != "observed" and n:
                    description = f"kept and labelled ({n} index events): {OUTCOME_RULES[kind]}"
                    events = tracker.keep(
                        events, np.ones(len(events), dtype=bool), kind, description
                    )
        keep = reason != rule
        events = tracker.keep(events, keep, rule, TARGET_RULES[rule])
        reason, rule_of = reason[keep], rule_of[keep]
    return events


def _rules_for(target: TargetSpec) -> tuple[str, ...]:
    """Attrition rules of a target kind, in the order they are applied."""
    if target.kind == "milestone_gain":
        return ("no_baseline_milestones", "nothing_to_gain", "no_outcome_milestones")
    return ("no_baseline_on_scale", "no_outcome_on_scale")


def _deduplicate(
    events: pd.DataFrame,
    patients: pd.DataFrame,
    assessments: pd.DataFrame,
    tracker: _Tracker,
) -> pd.DataFrame:
    """Keep the index events of one record per linked person: the one with most assessments."""
    linked = patients[["patient_id", "linked_id"]].astype(str)
    n_scores = assessments["patient_id"].astype(str).value_counts()
    records = (
        events[["patient_id"]]
        .drop_duplicates()
        .merge(linked, on="patient_id", how="left")
        .assign(n_scores=lambda d: d["patient_id"].map(n_scores).fillna(0))
        .sort_values(["linked_id", "n_scores", "patient_id"], ascending=[True, False, True])
    )
    chosen = set(records.drop_duplicates("linked_id")["patient_id"])
    return tracker.keep(
        events,
        events["patient_id"].isin(chosen).to_numpy(),
        "one_record_per_person",
        "one registry record per linked person (the one with most assessments)",
    )
