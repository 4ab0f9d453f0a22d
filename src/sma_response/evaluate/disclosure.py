"""Aggregates that are safe to share: small cells suppressed, curves coarsened to safe steps.

An external validation exports results, never rows. Even aggregates can point at a person when
a cell is small ("the 3 type-0 patients treated with risdiplam: none responded"), and full-
resolution curves (every step of an ROC curve is one patient) are row-level data in disguise.
The rules here, applied to every table and figure ``sma-validate`` writes:

* **primary suppression**: a cell with fewer than ``min_cell`` index events, or (for a binary
  outcome) fewer than ``min_cell`` events or non-events, shows no counts and no statistics;
* **complementary suppression**: within each variable whose levels add up to the total, a
  single suppressed level could be recovered by subtraction, so the next smallest level is
  suppressed too;
* **coarsened curves**: calibration bins are merged until each holds ``min_cell`` events and
  non-events; ROC and decision-curve points are kept only where every step between kept points
  moves zero or at least ``min_cell`` events and non-events; no cut-off value is exported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "calibration_bins",
    "decision_curve",
    "roc_points",
    "suppress_small_cells",
]


def _small(count: np.ndarray, min_cell: int) -> np.ndarray:
    return np.asarray(count, dtype=float) < min_cell


def suppress_small_cells(
    table: pd.DataFrame,
    *,
    min_cell: int,
    n_col: str = "n",
    events_col: str | None = None,
    group_col: str = "variable",
    keep_cols: Sequence[str] = ("variable", "level"),
) -> pd.DataFrame:
    """Blank every statistic of cells that are too small, plus their complements.

    Parameters
    ----------
    table
        One row per cell: ``group_col``, the level, the count ``n_col`` and statistics.
    min_cell
        Smallest count shown.
    n_col
        Index events in the cell.
    events_col
        Events in the cell for a binary outcome (the non-events ``n - events`` must also reach
        ``min_cell``); ``None`` for a continuous outcome.
    group_col
        Cells of one value of this column partition the total (complementary suppression
        works within it); a group named ``overall`` is the total itself.
    keep_cols
        Columns left as they are in a suppressed row (its labels).

    Returns
    -------
    pandas.DataFrame
        A copy with a boolean ``suppressed`` column and its reason, ``suppression``:
        ``primary`` (the cell itself is small), ``complementary`` (suppressed only so that a
        small cell of the same variable, or the whole sample, cannot be recovered by
        subtraction) or empty. Suppressed rows hold missing values in every other
        column.

    Examples
    --------
    >>> t = pd.DataFrame({"variable": ["overall", "region", "region", "region"],
    ...                   "level": ["all", "DE", "IT", "NL"], "n": [60, 30, 25, 5],
    ...                   "auroc": [0.8, 0.8, 0.7, 0.9]})
    >>> suppress_small_cells(t, min_cell=10)[["level", "n", "suppressed"]].values.tolist()
    [['all', 60.0, False], ['DE', 30.0, False], ['IT', nan, True], ['NL', nan, True]]
    """
    out = table.copy().reset_index(drop=True)
    n = out[n_col].to_numpy(dtype=float)
    primary = _small(n, min_cell)
    if events_col is not None:
        events = out[events_col].to_numpy(dtype=float)
        primary |= _small(events, min_cell) | _small(n - events, min_cell)
    suppressed = primary.copy()
    reason = np.where(primary, "primary", "").astype(object)
    groups = out[group_col].astype(str).to_numpy()
    if (suppressed & (groups == "overall")).any():
        reason[~suppressed] = "complementary"  # the whole sample is too small: nothing shown
        suppressed[:] = True
    for group in pd.unique(groups):
        if group == "overall":
            continue
        rows = np.flatnonzero(groups == group)
        if suppressed[rows].sum() == 1 and len(rows) > 1:
            free = rows[~suppressed[rows]]
            cell = free[np.argmin(n[free])]
            suppressed[cell] = True
            reason[cell] = "complementary"
    for col in (c for c in out.columns if c not in keep_cols):
        numeric = pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(
            out[col]
        )
        out[col] = out[col].astype(float if numeric else object)
        out.loc[suppressed, col] = np.nan if numeric else None
    out["suppressed"] = suppressed
    out["suppression"] = reason
    return out


def calibration_bins(
    y_true: np.ndarray, y_pred: np.ndarray, *, min_cell: int, n_bins: int = 10, binary: bool = True
) -> pd.DataFrame:
    """Observed against predicted by bins of predictions, merged until every bin is safe.

    Bins start as ``n_bins`` equal-sized groups of the sorted predictions; neighbours are merged
    until each has ``min_cell`` index events (and, for a binary outcome, events and
    non-events). Bin edges are not returned (they would be individual predictions).

    Returns
    -------
    pandas.DataFrame
        ``bin, n, mean_predicted, observed`` (event rate or mean outcome) and, for a binary
        outcome, ``n_events``; empty when the whole sample is too small.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=400)
    >>> bins = calibration_bins(rng.random(400) < p, p, min_cell=10)
    >>> bool((bins["n_events"] >= 10).all()), len(bins) <= 10
    (True, True)
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    order = np.argsort(p, kind="mergesort")
    y, p = y[order], p[order]
    chunks = [c for c in np.array_split(np.arange(len(y)), max(1, min(n_bins, len(y)))) if len(c)]

    def ok(idx: np.ndarray) -> bool:
        if len(idx) < min_cell:
            return False
        if binary:
            events = float(y[idx].sum())
            return events >= min_cell and len(idx) - events >= min_cell
        return True

    merged: list[np.ndarray] = []
    current = np.array([], dtype=int)
    for chunk in chunks:
        current = np.concatenate([current, chunk])
        if ok(current):
            merged.append(current)
            current = np.array([], dtype=int)
    if len(current):
        if merged:
            merged[-1] = np.concatenate([merged[-1], current])
        elif ok(current):
            merged.append(current)
    rows = []
    for i, idx in enumerate(merged, start=1):
        row = {
            "bin": i,
            "n": len(idx),
            "mean_predicted": float(p[idx].mean()),
            "observed": float(y[idx].mean()),
        }
        if binary:
            row["n_events"] = int(y[idx].sum())
        rows.append(row)
    columns = ["bin", "n", "mean_predicted", "observed", *(["n_events"] if binary else [])]
    return pd.DataFrame(rows, columns=columns)


def _safe(step: int, min_cell: int) -> bool:
    return step == 0 or step >= min_cell


def _kept_cuts(
    y: np.ndarray, p: np.ndarray, cuts: np.ndarray, min_cell: int
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Find the ``cuts`` (ascending thresholds) whose steps are safe; return TP/FP at each."""
    pos = np.sort(p[y == 1])
    neg = np.sort(p[y == 0])
    tp = len(pos) - np.searchsorted(pos, cuts, side="left")  # flagged: p >= cut
    fp = len(neg) - np.searchsorted(neg, cuts, side="left")
    kept: list[int] = []
    ref_tp, ref_fp = len(pos), len(neg)
    for i in range(len(cuts)):
        if _safe(ref_tp - int(tp[i]), min_cell) and _safe(ref_fp - int(fp[i]), min_cell):
            kept.append(i)
            ref_tp, ref_fp = int(tp[i]), int(fp[i])
    # The last step, down to nobody flagged, must be safe too: drop cuts until it is.
    while kept and not (_safe(int(tp[kept[-1]]), min_cell) and _safe(int(fp[kept[-1]]), min_cell)):
        kept.pop()
    return kept, tp, fp


def roc_points(y_true: np.ndarray, y_pred: np.ndarray, *, min_cell: int) -> pd.DataFrame:
    """Return a coarse ROC curve: points whose every step moves 0 or >= ``min_cell`` patients.

    Returns
    -------
    pandas.DataFrame
        ``fpr, tpr`` from (0, 0) to (1, 1); empty when events or non-events are fewer than
        ``min_cell``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(300) < 0.4
    >>> pts = roc_points(y, y * 0.3 + rng.uniform(size=300), min_cell=10)
    >>> pts.iloc[[0, -1]].values.tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos < min_cell or n_neg < min_cell:
        return pd.DataFrame(columns=["fpr", "tpr"])
    cuts = np.unique(p)[1:]  # the lowest value flags everybody: that is the (1, 1) point
    kept, tp, fp = _kept_cuts(y, p, cuts, min_cell)
    fpr = [1.0, *(fp[i] / n_neg for i in kept), 0.0]
    tpr = [1.0, *(tp[i] / n_pos for i in kept), 0.0]
    return (
        pd.DataFrame({"fpr": fpr[::-1], "tpr": tpr[::-1]}).drop_duplicates().reset_index(drop=True)
    )


def decision_curve(
    y_true: np.ndarray, y_pred: np.ndarray, *, thresholds: Sequence[float], min_cell: int
) -> pd.DataFrame:
    """Net benefit of the model, of treating all and of treating none at each threshold.

    A threshold whose flagged group differs from the previous shown threshold's by fewer than
    ``min_cell`` events or non-events (but not zero) is not shown (``net_benefit`` missing).

    Returns
    -------
    pandas.DataFrame
        ``threshold, net_benefit, treat_all, treat_none``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=500)
    >>> dc = decision_curve(rng.random(500) < p, p, thresholds=[0.2, 0.5], min_cell=10)
    >>> dc["net_benefit"].notna().all()
    np.True_
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    t = np.asarray(sorted(thresholds), dtype=float)
    n = max(len(y), 1)
    prevalence = float(y.mean()) if len(y) else float("nan")
    kept, tp, fp = (
        _kept_cuts(y, p, t, min_cell) if len(y) else ([], np.zeros(len(t)), np.zeros(len(t)))
    )
    odds = t / (1 - t)
    nb = np.full(len(t), np.nan)
    idx = np.asarray(kept, dtype=int)
    nb[idx] = tp[idx] / n - fp[idx] / n * odds[idx]
    return pd.DataFrame(
        {
            "threshold": t,
            "net_benefit": nb,
            "treat_all": prevalence - (1 - prevalence) * odds,
            "treat_none": 0.0,
        }
    )
