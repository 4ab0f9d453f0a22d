"""Time-windowed look-ups around index events: baseline scores, function, primary scale, outcome.

Every look-up is one :func:`pandas.merge_asof` over all index events at once (no loop per
patient). An *events* frame has at least ``index_id, patient_id, index_age_days``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sma_response.cohort.spec import FUNCTION_LEVELS, PRIMARY_SCALES
from sma_response.schemas import MILESTONE_CODES, SCALE_CODES

__all__ = [
    "as_float",
    "baseline_function",
    "baseline_milestones",
    "baseline_scores",
    "daily_scores",
    "latest_within",
    "nearest_within",
    "primary_scale",
    "score_on",
]

log = logging.getLogger(__name__)

#: Age from which CHOP INTEND alone marks a non-sitter (younger sitters are also scored on it).
_CHOP_ONLY_NON_SITTER_DAYS = 730.0


def as_float(values: pd.Series) -> np.ndarray:
    """Return a float array with NaN for missing, from numeric, nullable or boolean values.

    Examples
    --------
    >>> as_float(pd.Series([True, None, False], dtype="boolean")).tolist()
    [1.0, nan, 0.0]
    """
    return pd.Series(values).astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def _asof(
    events: pd.DataFrame,
    table: pd.DataFrame,
    *,
    left_on: str,
    by: list[str],
    tolerance: float,
    direction: str,
) -> pd.DataFrame:
    """``merge_asof`` of every event row (kept in its order) against ``table`` on ``age_days``."""
    left = events.assign(_row=np.arange(len(events)), _key=events[left_on].astype(float))
    left = left.sort_values("_key", kind="stable")
    right = table.assign(age_days=table["age_days"].astype(float)).sort_values(
        "age_days", kind="stable"
    )
    for col in by:
        # merge_asof needs identical key dtypes on both sides.
        left[col] = left[col].astype(str)
        right[col] = right[col].astype(str)
    merged = pd.merge_asof(
        left,
        right,
        left_on="_key",
        right_on="age_days",
        by=by,
        tolerance=tolerance,
        direction=direction,
        allow_exact_matches=True,
    )
    return merged.sort_values("_row", kind="stable").drop(columns=["_row", "_key"])


def latest_within(
    events: pd.DataFrame,
    table: pd.DataFrame,
    *,
    window_days: float,
    by: Sequence[str] = ("patient_id",),
) -> pd.DataFrame:
    """Attach the latest row of ``table`` dated in ``[index - window_days, index]`` to each event.

    Parameters
    ----------
    events
        ``index_id, patient_id, index_age_days`` (plus any ``by`` columns).
    table
        Dated rows: ``patient_id, age_days`` and value columns.
    window_days
        Look-back (days, inclusive).
    by
        Columns that must match exactly (e.g. ``("patient_id", "scale")``).

    Returns
    -------
    pandas.DataFrame
        ``events`` in their order, with ``table``'s columns (NaN where nothing in the window).

    Examples
    --------
    >>> ev = pd.DataFrame({"index_id": ["a#1"], "patient_id": ["a"], "index_age_days": [100.0]})
    >>> tab = pd.DataFrame({"patient_id": ["a", "a", "a"], "age_days": [10.0, 90.0, 120.0],
    ...                     "score": [1.0, 2.0, 3.0]})
    >>> latest_within(ev, tab, window_days=30)["score"].tolist()
    [2.0]
    """
    return _asof(
        events,
        table,
        left_on="index_age_days",
        by=list(by),
        tolerance=float(window_days),
        direction="backward",
    )


def nearest_within(
    events: pd.DataFrame,
    table: pd.DataFrame,
    *,
    offset_days: float,
    tolerance_days: float,
    by: Sequence[str] = ("patient_id",),
) -> pd.DataFrame:
    """Attach the row of ``table`` nearest to ``index + offset_days`` within +- ``tolerance_days``.

    Parameters
    ----------
    events
        ``index_id, patient_id, index_age_days`` (plus any ``by`` columns).
    table
        Dated rows: ``patient_id, age_days`` and value columns.
    offset_days
        Target time after the index (days).
    tolerance_days
        Largest allowed distance from the target time (days, inclusive).
    by
        Columns that must match exactly.

    Returns
    -------
    pandas.DataFrame
        ``events`` in their order with ``table``'s columns (NaN where none is close enough).

    Examples
    --------
    >>> ev = pd.DataFrame({"index_id": ["a#1"], "patient_id": ["a"], "index_age_days": [0.0]})
    >>> tab = pd.DataFrame({"patient_id": ["a", "a"], "age_days": [300.0, 380.0],
    ...                     "score": [1.0, 2.0]})
    >>> nearest_within(ev, tab, offset_days=365, tolerance_days=90)["score"].tolist()
    [2.0]
    """
    target = events.assign(_target=events["index_age_days"].astype(float) + float(offset_days))
    out = _asof(
        target,
        table,
        left_on="_target",
        by=list(by),
        tolerance=float(tolerance_days),
        direction="nearest",
    )
    return out.drop(columns="_target")


def daily_scores(assessments: pd.DataFrame) -> pd.DataFrame:
    """One score per patient, scale and day (same-day duplicates averaged).

    Examples
    --------
    >>> a = pd.DataFrame({"patient_id": ["a", "a"], "age_days": [5.0, 5.0],
    ...                   "scale": ["rulm", "rulm"], "score": [10.0, 12.0]})
    >>> daily_scores(a)["score"].tolist()
    [11.0]
    """
    return assessments.groupby(["patient_id", "scale", "age_days"], as_index=False, sort=True)[
        "score"
    ].mean()


def baseline_scores(
    events: pd.DataFrame, assessments: pd.DataFrame, *, window_days: float
) -> pd.DataFrame:
    """Latest score of every scale within the baseline window, one column per scale.

    Parameters
    ----------
    events
        ``index_id, patient_id, index_age_days``.
    assessments
        CDM ``assessments``.
    window_days
        Look-back from the index (days, inclusive).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``index_id`` (events' order), one float column per scale in
        :data:`sma_response.schemas.SCALE_CODES`, NaN when the scale has no score in the window.

    Examples
    --------
    >>> ev = pd.DataFrame({"index_id": ["a#1"], "patient_id": ["a"], "index_age_days": [100.0]})
    >>> a = pd.DataFrame({"patient_id": ["a"], "age_days": [90.0], "scale": ["hfmse"],
    ...                   "score": [30.0]})
    >>> baseline_scores(ev, a, window_days=180).loc["a#1", "hfmse"]
    np.float64(30.0)
    """
    keys = events[["index_id", "patient_id", "index_age_days"]]
    grid = keys.merge(pd.DataFrame({"scale": list(SCALE_CODES)}), how="cross")
    found = latest_within(
        grid, daily_scores(assessments), window_days=window_days, by=("patient_id", "scale")
    )
    wide = found.pivot_table(index="index_id", columns="scale", values="score", aggfunc="first")
    wide = wide.reindex(index=keys["index_id"], columns=list(SCALE_CODES)).astype(float)
    wide.columns.name = None
    return wide


def score_on(scores: pd.DataFrame, scales: np.ndarray) -> np.ndarray:
    """Pick each row's score on its own scale (NaN where the scale is missing or unknown).

    Examples
    --------
    >>> wide = pd.DataFrame({"hfmse": [20.0, 30.0], "rulm": [5.0, 6.0]})
    >>> score_on(wide, np.array(["rulm", None], dtype=object)).tolist()
    [5.0, nan]
    """
    pick = pd.Index(scores.columns).get_indexer(pd.Index(scales, dtype=object))
    values = scores.to_numpy(dtype=float)[np.arange(len(scores)), np.maximum(pick, 0)]
    return np.where(pick >= 0, values, np.nan)


def baseline_milestones(
    events: pd.DataFrame, milestones: pd.DataFrame, *, window_days: float
) -> pd.DataFrame:
    """Latest recorded ``able`` of every milestone within the baseline window.

    Parameters
    ----------
    events
        ``index_id, patient_id, index_age_days``.
    milestones
        CDM ``milestones``.
    window_days
        Look-back from the index (days, inclusive).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``index_id``, one float column per milestone (1 able, 0 not, NaN unknown).

    Examples
    --------
    >>> ev = pd.DataFrame({"index_id": ["a#1"], "patient_id": ["a"], "index_age_days": [100.0]})
    >>> m = pd.DataFrame({"patient_id": ["a"], "age_days": [100.0], "milestone": ["sitting"],
    ...                   "able": [True]})
    >>> baseline_milestones(ev, m, window_days=180).loc["a#1"].tolist()
    [nan, 1.0, nan, nan]
    """
    keys = events[["index_id", "patient_id", "index_age_days"]]
    known = milestones.loc[milestones["able"].notna(), ["patient_id", "age_days", "milestone"]]
    known = known.assign(able=as_float(milestones.loc[milestones["able"].notna(), "able"]))
    grid = keys.merge(pd.DataFrame({"milestone": list(MILESTONE_CODES)}), how="cross")
    found = latest_within(grid, known, window_days=window_days, by=("patient_id", "milestone"))
    wide = found.pivot_table(index="index_id", columns="milestone", values="able", aggfunc="first")
    wide = wide.reindex(index=keys["index_id"], columns=list(MILESTONE_CODES)).astype(float)
    wide.columns.name = None
    return wide


def baseline_function(
    milestones_at_baseline: pd.DataFrame,
    scores_at_baseline: pd.DataFrame,
    index_age_days: pd.Series,
) -> pd.Series:
    """Motor function at baseline: ``non_sitter``, ``sitter`` or ``walker`` (NA if unknown).

    Milestones decide first (walking -> walker; sitting or standing -> sitter; not sitting ->
    non-sitter). Without them, the scales recorded at baseline stand in, as clinics choose scales
    by function: a 6-minute walk test marks a walker, HFMSE or RHS a sitter, and CHOP INTEND
    alone from age 2 a non-sitter.

    Parameters
    ----------
    milestones_at_baseline
        From :func:`baseline_milestones`.
    scores_at_baseline
        From :func:`baseline_scores` (same index).
    index_age_days
        Age at index, aligned to the same index.

    Returns
    -------
    pandas.Series
        Categorical with categories :data:`~sma_response.cohort.spec.FUNCTION_LEVELS`.

    Examples
    --------
    >>> idx = pd.Index(["a#1", "b#1"], name="index_id")
    >>> m = pd.DataFrame({"head_control": [1.0, 1.0], "sitting": [1.0, 0.0],
    ...                   "standing": [np.nan, 0.0], "walking": [0.0, 0.0]}, index=idx)
    >>> s = pd.DataFrame({c: np.nan for c in SCALE_CODES}, index=idx)
    >>> baseline_function(m, s, pd.Series([900.0, 200.0], index=idx)).tolist()
    ['sitter', 'non_sitter']
    """
    m = milestones_at_baseline
    s = scores_at_baseline.reindex(m.index)
    age = pd.Series(index_age_days, index=m.index).astype(float)
    walks = m["walking"] == 1
    sits = (m["sitting"] == 1) | (m["standing"] == 1)
    not_sitting = m["sitting"] == 0
    by_scale_walker = s["6mwt"].notna()
    by_scale_sitter = s["hfmse"].notna() | s["rhs"].notna()
    by_scale_non_sitter = s["chop_intend"].notna() & (age >= _CHOP_ONLY_NON_SITTER_DAYS)
    level = np.select(
        [
            walks,
            sits,
            not_sitting,
            by_scale_walker,
            by_scale_sitter,
            by_scale_non_sitter,
        ],
        ["walker", "sitter", "non_sitter", "walker", "sitter", "non_sitter"],
        default="",
    )
    out = pd.Series(level, index=m.index).replace("", np.nan)
    return out.astype(pd.CategoricalDtype(list(FUNCTION_LEVELS))).rename("function")


def primary_scale(
    function: pd.Series,
    scores_at_baseline: pd.DataFrame,
    *,
    primary_scales: Mapping[str, Sequence[str]] | None = None,
) -> pd.Series:
    """Primary scale of each index event: the first scale for its function with a baseline score.

    Parameters
    ----------
    function
        From :func:`baseline_function`.
    scores_at_baseline
        From :func:`baseline_scores` (same index).
    primary_scales
        Ordered candidate scales per function level (default
        :data:`~sma_response.cohort.spec.PRIMARY_SCALES`).

    Returns
    -------
    pandas.Series
        Scale name per index event; NA when no candidate scale has a baseline score.

    Examples
    --------
    >>> idx = pd.Index(["a#1", "b#1"], name="index_id")
    >>> s = pd.DataFrame({c: np.nan for c in SCALE_CODES}, index=idx).assign(
    ...     chop_intend=[20.0, np.nan], rhs=[np.nan, 30.0])
    >>> primary_scale(pd.Series(["non_sitter", "sitter"], index=idx), s).tolist()
    ['chop_intend', 'rhs']
    """
    chains = PRIMARY_SCALES if primary_scales is None else primary_scales
    unknown = {sc for chain in chains.values() for sc in chain} - set(SCALE_CODES)
    if unknown:
        msg = f"target.primary_scales names unknown scales {sorted(unknown)}"
        raise ValueError(msg)
    func = pd.Series(function, index=scores_at_baseline.index).astype(object)
    out = pd.Series(np.nan, index=scores_at_baseline.index, dtype=object)
    for level, chain in chains.items():
        for scale in reversed(list(chain)):  # the first in the chain is applied last and wins
            pick = (func == level) & scores_at_baseline[scale].notna()
            out = out.where(~pick, scale)
    return out.astype("string").rename("primary_scale")
