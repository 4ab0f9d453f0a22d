"""The design matrix of a run: cohort -> target -> features -> ``X``, ``y`` and attrition.

Training, external validation and reports of new patients all build their data through
:func:`build_design`, so a cohort, a label and a feature row mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sma_response.cohort.build import build_cohort
from sma_response.cohort.spec import CohortSpec, TargetSpec
from sma_response.cohort.target import CENSORING_REASONS, define_target, label_index_events
from sma_response.features.engineer import make_features
from sma_response.features.spec import FeatureSpec
from sma_response.schemas import Cohort, FeatureFrame, Targets

__all__ = [
    "Design",
    "DesignError",
    "EligibleEvents",
    "build_design",
    "eligible_events",
    "observed_change",
    "split_confirmation",
    "synthetic_example",
]


class DesignError(ValueError):
    """Too few index events meet the cohort and target definition."""


@dataclass
class Design:
    """What a run is fitted, validated or scored on.

    Attributes
    ----------
    cohort
        Index events (:class:`~sma_response.schemas.Cohort`); with a target, only labelled ones.
    attrition
        Every inclusion rule with its counts.
    X
        Feature frame (:class:`~sma_response.schemas.FeatureFrame`), indexed by ``index_id``.
    targets, y
        Labels (:class:`~sma_response.schemas.Targets`) and the target of each row of ``X``;
        ``None`` when built without a target (new patients to score).
    """

    cohort: pd.DataFrame
    attrition: pd.DataFrame
    X: pd.DataFrame
    targets: pd.DataFrame | None = None
    y: pd.Series | None = None


def build_design(
    cdm: Mapping[str, pd.DataFrame],
    *,
    cohort_spec: CohortSpec,
    feature_spec: FeatureSpec,
    target_spec: TargetSpec | None = None,
    min_events: int = 1,
) -> Design:
    """Build cohort, labels and features from validated CDM tables.

    Parameters
    ----------
    cdm
        Validated CDM tables.
    cohort_spec, feature_spec
        Cohort and feature definitions (those of the run, for validation and scoring).
    target_spec
        Target definition; ``None`` for patients without an outcome (scoring).
    min_events
        Fewest index events to go on with.

    Returns
    -------
    Design
        Every frame checked against its schema (lazily: one error lists every violation).

    Raises
    ------
    DesignError
        With fewer than ``min_events`` index events (the message gives the count).
    """
    cohort, attrition = build_cohort(cdm, spec=cohort_spec, target=target_spec)
    targets = None
    if target_spec is not None:
        targets = define_target(cohort, cdm, spec=target_spec, cohort_spec=cohort_spec)
        cohort = cohort.loc[cohort["index_id"].isin(targets["index_id"])].reset_index(drop=True)
    if len(cohort) < max(min_events, 1):
        msg = f"{len(cohort)} index events meet the cohort and target definition"
        raise DesignError(msg)
    X = make_features(cdm, cohort, spec=feature_spec)
    # Checked, not replaced: the stages hand on their own frames (no coercion here).
    Cohort.validate(cohort, lazy=True)
    FeatureFrame.validate(X, lazy=True)
    y = None
    if targets is not None:
        Targets.validate(targets, lazy=True)
        y = targets.set_index("index_id")["target"].loc[X.index]
    return Design(cohort=cohort, attrition=attrition, X=X, targets=targets, y=y)


def split_confirmation(design: Design, persons: pd.Index) -> tuple[Design, Design]:
    """Split off the index events of reserved ``persons`` (``linked_id``) as a confirmation set.

    Returns the development part (its attrition gains a ``confirmation`` step counting what
    remains) and the confirmation part (the reserved events; same attrition as before).

    Examples
    --------
    >>> cohort = pd.DataFrame({"index_id": ["a#1", "b#1", "c#1"], "patient_id": ["a", "b", "c"],
    ...                        "linked_id": ["a", "b", "c"]})
    >>> X = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=cohort["index_id"])
    >>> d = Design(cohort=cohort, attrition=pd.DataFrame(columns=["step"]), X=X,
    ...            targets=pd.DataFrame({"index_id": cohort["index_id"], "target": [0, 1, 0.0]}),
    ...            y=pd.Series([0, 1, 0.0], index=X.index))
    >>> dev, held = split_confirmation(d, pd.Index(["b"]))
    >>> dev.X.index.tolist(), held.X.index.tolist(), dev.attrition["rule"].tolist()
    (['a#1', 'c#1'], ['b#1'], ['confirmation'])
    """

    def part(keep: np.ndarray, attrition: pd.DataFrame) -> Design:
        cohort = design.cohort.loc[keep].reset_index(drop=True)
        ids = pd.Index(cohort["index_id"])
        targets = None
        if design.targets is not None:
            targets = design.targets.loc[design.targets["index_id"].isin(ids)]
            targets = targets.reset_index(drop=True)
        y = None if design.y is None else design.y.loc[ids]
        return Design(cohort=cohort, attrition=attrition, X=design.X.loc[ids], targets=targets, y=y)

    held = design.cohort["linked_id"].astype(str).isin(persons.astype(str)).to_numpy()
    last = design.attrition.iloc[-1] if len(design.attrition) else None
    kept = design.cohort.loc[~held]
    n_kept = kept["patient_id"].nunique()
    row = {
        "step": len(design.attrition),
        "rule": "confirmation",
        "description": (
            f"{int(held.sum())} index events of {len(persons)} persons reserved for the "
            "confirmation set: never fitted on, validated in the folds, or tuned on"
        ),
        "n_patients": n_kept,
        "n_index_events": len(kept),
        "excluded": int(held.sum()),
        "excluded_patients": None if last is None else last["n_patients"] - n_kept,
    }
    attrition = pd.concat([design.attrition, pd.DataFrame([row])], ignore_index=True)
    for col in ("n_patients", "n_index_events", "excluded", "excluded_patients"):
        if col in attrition:
            attrition[col] = attrition[col].astype("Int64")
    return part(~held, attrition), part(held, design.attrition)


@dataclass
class EligibleEvents:
    """Every index event the target applies to, labelled or censored (for drop-out analyses).

    Attributes
    ----------
    cohort
        The eligible index events (:class:`~sma_response.schemas.Cohort` columns).
    labels
        ``index_id, target, primary_scale, reason``: ``target`` NaN where the outcome is
        missing (``reason`` one of :data:`~sma_response.cohort.target.CENSORING_REASONS`).
    X
        Features at the index of every eligible event.
    """

    cohort: pd.DataFrame
    labels: pd.DataFrame
    X: pd.DataFrame

    @property
    def labelled(self) -> pd.Series:
        """Whether each event (by ``index_id``) has an outcome."""
        return self.labels.set_index("index_id")["target"].notna()

    def without(self, persons: pd.Index) -> EligibleEvents:
        """Return the events of every person but ``persons`` (``linked_id``)."""
        keep = ~self.cohort["linked_id"].astype(str).isin(persons.astype(str))
        cohort = self.cohort.loc[keep].reset_index(drop=True)
        ids = pd.Index(cohort["index_id"])
        labels = self.labels.loc[self.labels["index_id"].isin(ids)].reset_index(drop=True)
        return EligibleEvents(cohort=cohort, labels=labels, X=self.X.loc[ids])


def eligible_events(
    cdm: Mapping[str, pd.DataFrame],
    *,
    cohort_spec: CohortSpec,
    feature_spec: FeatureSpec,
    target_spec: TargetSpec,
) -> EligibleEvents:
    """Return the index events whose label is defined but may be missing, with features.

    The cohort rules apply as in :func:`build_design`; of the target's rules only those that
    make the target undefined (no baseline on its scale, nothing to gain) exclude; an event
    left without an outcome stays in, censored.
    """
    cohort, _ = build_cohort(cdm, spec=cohort_spec)
    labels = label_index_events(cohort, cdm, spec=target_spec, cohort_spec=cohort_spec)
    keep = labels["reason"].isin(["", *CENSORING_REASONS]).to_numpy()
    cohort, labels = cohort.loc[keep].reset_index(drop=True), labels.loc[keep]
    labels = labels[["index_id", "target", "primary_scale", "reason"]].reset_index(drop=True)
    X = make_features(cdm, cohort, spec=feature_spec)
    return EligibleEvents(cohort=cohort, labels=labels, X=X)


def observed_change(targets: pd.DataFrame, index: pd.Index) -> pd.Series:
    """Observed change on the outcome scale (outcome minus baseline score) of each row of ``index``.

    Examples
    --------
    >>> t = pd.DataFrame({"index_id": ["a", "b"], "baseline_score": [10.0, 20.0],
    ...                   "outcome_score": [14.0, 18.0]})
    >>> observed_change(t, pd.Index(["b", "a"])).tolist()
    [-2.0, 4.0]
    """
    by_id = targets.set_index("index_id")
    return (by_id["outcome_score"] - by_id["baseline_score"]).reindex(index)


def synthetic_example(X: pd.DataFrame) -> pd.DataFrame:
    """Two made-up feature rows with ``X``'s columns and dtypes: a logged model's input example.

    No patient's row leaves with a shared model. Row ``example-1`` takes each numeric column's
    median and each categorical column's most frequent level, row ``example-2`` the lower
    quartiles and the second most frequent levels (both rounded to whole units); a row that
    happens to equal a patient's row has its numeric values shifted by a half unit.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [3.0, 8.0, 20.0], "sex": pd.Categorical(["F", "M", "F"])})
    >>> synthetic_example(X).to_dict("list")
    {'age': [8.0, 6.0], 'sex': ['F', 'M']}
    """
    rows: dict[str, list] = {}
    for col in X.columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            counts = s.value_counts(sort=True)
            levels = [lv for lv in counts.index if counts[lv] > 0] or list(s.cat.categories[:1])
            first = levels[0] if levels else None
            rows[col] = [first, levels[1] if len(levels) > 1 else first]
        elif pd.api.types.is_bool_dtype(s):
            rows[col] = [bool(s.mean() >= 0.5), bool(s.mean() < 0.5)]
        else:
            values = pd.to_numeric(s, errors="coerce").astype(float)
            seen = values[np.isfinite(values)]
            qs = np.round(np.quantile(seen, [0.5, 0.25])) if len(seen) else [np.nan, np.nan]
            rows[col] = [float(q) for q in qs]
    out = pd.DataFrame(rows, index=pd.Index(["example-1", "example-2"], name=X.index.name))
    for col in X.columns:
        out[col] = out[col].astype(X[col].dtype)
    numeric = [c for c in X.columns if pd.api.types.is_float_dtype(X[c])]
    for i in range(len(out)):
        if numeric and _matches_a_row(out.iloc[[i]], X):
            out.iloc[i, [out.columns.get_loc(c) for c in numeric]] += 0.5
    return out


def _matches_a_row(row: pd.DataFrame, X: pd.DataFrame) -> bool:
    """Whether ``row`` equals some row of ``X`` in every column (missing equals missing)."""
    same = np.ones(len(X), dtype=bool)
    for col in X.columns:
        value = row[col].iloc[0]
        column = X[col]
        if pd.isna(value):
            same &= column.isna().to_numpy()
        else:
            same &= (column == value).to_numpy(dtype=bool, na_value=False)
    return bool(same.any())
