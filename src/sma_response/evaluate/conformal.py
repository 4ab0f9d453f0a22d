"""Per-patient prediction intervals for the predicted change: split-conformal on held-out residuals.

The method, in words a clinician can check: take every patient the model predicted without
having seen (out-of-fold), note how far the observed 12-month change fell from the predicted
change (the residual), separately for each motor scale. A patient's interval is the predicted
change plus the residuals' lower and upper ``(1 - level) / 2`` quantiles (with the finite-sample
correction of split-conformal prediction), clipped to what the scale allows from the patient's
baseline score. Under exchangeability, at least ``level`` of similar future patients fall inside.

Residuals are grouped Mondrian-style (group-conditional conformal prediction): a patient's
residuals are those of held-out patients in the same *cell*, the scale and, by configuration,
further groups such as age band and therapy (:func:`interval_cells`, e.g.
``chop_intend|0-6 mo|risdiplam``). A cell with fewer than ``min_n`` residuals falls back to the
next coarser cell (the last group dropped: ``chop_intend|0-6 mo``, then ``chop_intend``), and a
scale with too few to all scales together. So an infant on risdiplam gets the spread of infants
on risdiplam when there are enough of them, rather than the cohort's average spread.

Coverage is measured honestly by cross-conformal prediction (:func:`cross_conformal`): each
fold's intervals use only the residuals of the *other* folds, and coverage is the share of the
fold's observed changes inside them, reported overall and per subgroup (region, SMA type,
therapy, age band, scale).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CELL_SEP",
    "MIN_COVERAGE_GROUP",
    "POOLED",
    "QUINTILE_VARIABLE",
    "ConformalQuantiles",
    "conformal_interval",
    "coverage_metrics",
    "coverage_table",
    "cross_conformal",
    "fit_conformal",
    "gain_probability",
    "interval_cells",
    "predicted_quintiles",
]

#: Key of the residuals of all scales together (used for scales with too few patients).
POOLED = "_pooled"
#: Separates the parts of a Mondrian cell: ``<scale>|<group 1>|<group 2>``.
CELL_SEP = "|"
_PERCENTILES = np.arange(1, 100)


@dataclass
class ConformalQuantiles:
    """Residual quantiles per scale: everything needed to draw an interval for a new patient.

    Attributes
    ----------
    level
        Nominal coverage (e.g. 0.8).
    min_n
        Scales with fewer residuals use the pooled quantiles.
    bounds
        ``{cell: [low, high, n]}``: residual quantiles added to the prediction, and the number
        of residuals behind them, for every cell and every coarser cell (``hfmse``,
        ``hfmse|2-12 y``, ...); ``_pooled`` holds all scales together.
    percentiles
        ``{scale: [p1, ..., p99]}``: residual percentiles (the predictive distribution used by
        :func:`gain_probability`). Aggregates only.
    groups
        The groups after the scale that make a cell (e.g. ``["age_band", "therapy"]``; empty:
        one cell per scale).
    """

    level: float
    min_n: int
    bounds: dict[str, list[float]] = field(default_factory=dict)
    percentiles: dict[str, list[float]] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConformalQuantiles:
        """Inverse of :meth:`to_dict`."""
        return cls(
            level=float(data["level"]),
            min_n=int(data["min_n"]),
            # JSON has no infinity: an open bound is stored as null.
            bounds={
                k: [
                    -math.inf if v[0] is None else float(v[0]),
                    math.inf if v[1] is None else float(v[1]),
                    int(v[2]),
                ]
                for k, v in data["bounds"].items()
            },
            percentiles={k: [float(x) for x in v] for k, v in data["percentiles"].items()},
            groups=[str(g) for g in data.get("groups", [])],  # runs before Mondrian cells: none
        )

    def key(self, cell: str | None) -> str:
        """Return the key whose quantiles a patient in ``cell`` uses (finest with ``min_n``).

        Examples
        --------
        >>> bounds = {"hfmse": [-5, 5, 90], "hfmse|adult": [-3, 3, 12]}
        >>> q = ConformalQuantiles(0.8, 30, bounds=bounds)
        >>> q.key("hfmse|adult|risdiplam"), q.key("rulm|adult"), q.key(None)
        ('hfmse', '_pooled', '_pooled')
        """
        if cell is None:
            return POOLED
        parts = str(cell).split(CELL_SEP)
        for k in range(len(parts), 0, -1):
            candidate = CELL_SEP.join(parts[:k])
            found = self.bounds.get(candidate)
            if found is not None and found[2] >= self.min_n:
                return candidate
        return POOLED


def _label(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.array(["unknown" if pd.isna(v) else str(v) for v in values], dtype=object)


def interval_cells(
    scales: pd.Series | np.ndarray, frame: pd.DataFrame | None, groups: Sequence[str]
) -> np.ndarray:
    """Return each row's Mondrian cell: its scale, then its value of every group in ``groups``.

    A row without a scale has no cell (``None``: the pooled residuals); a missing group value
    is ``unknown``.

    Examples
    --------
    >>> f = pd.DataFrame({"age_band": ["0-6 mo", None], "therapy": ["risdiplam", "nusinersen"]})
    >>> interval_cells(pd.Series(["chop_intend", "hfmse"]), f, ["age_band", "therapy"]).tolist()
    ['chop_intend|0-6 mo|risdiplam', 'hfmse|unknown|nusinersen']
    """
    scale = np.asarray(scales, dtype=object)
    parts = [_label(scale)] + [
        _label(frame[g].to_numpy(dtype=object)) for g in groups if frame is not None
    ]
    joined = [CELL_SEP.join(p) for p in zip(*parts, strict=True)]
    return np.array(
        [None if pd.isna(s) else c for s, c in zip(scale, joined, strict=True)], dtype=object
    )


def _bounds(residuals: np.ndarray, level: float) -> list[float]:
    """Split-conformal lower/upper residual quantiles (finite-sample corrected) and n."""
    r = np.sort(np.asarray(residuals, dtype=float))
    n = len(r)
    alpha = 1.0 - level
    if n == 0:
        return [-math.inf, math.inf, 0]
    k_lo = math.floor((n + 1) * alpha / 2)
    k_hi = math.ceil((n + 1) * (1 - alpha / 2))
    lo = r[k_lo - 1] if k_lo >= 1 else -math.inf
    hi = r[k_hi - 1] if k_hi <= n else math.inf
    return [float(lo), float(hi), n]


def fit_conformal(
    residuals: np.ndarray,
    cells: np.ndarray,
    *,
    level: float = 0.8,
    min_n: int = 30,
    groups: Sequence[str] = (),
) -> ConformalQuantiles:
    """Residual quantiles per cell, every coarser cell and pooled, from held-out residuals.

    ``residuals`` are ``observed - predicted``; ``cells`` each residual's :func:`interval_cells`
    (a plain scale when ``groups`` is empty).

    Examples
    --------
    >>> q = fit_conformal(np.arange(-50.0, 50.0), np.array(["hfmse"] * 100), level=0.8)
    >>> q.bounds["hfmse"]
    [-41.0, 40.0, 100]
    >>> cells = np.array(["hfmse|adult"] * 40 + ["hfmse|2-12 y"] * 60)
    >>> q = fit_conformal(np.arange(100.0), cells, groups=["age_band"])
    >>> sorted(q.bounds), q.bounds["hfmse|adult"][2]
    (['_pooled', 'hfmse', 'hfmse|2-12 y', 'hfmse|adult'], 40)
    """
    if not 0.0 < level < 1.0:
        msg = f"interval level must be in (0, 1), got {level}"
        raise ValueError(msg)
    r = np.asarray(residuals, dtype=float)
    c = np.array(["" if pd.isna(v) else str(v) for v in np.asarray(cells, dtype=object)])
    keep = np.isfinite(r)
    r, c = r[keep], c[keep]
    out = ConformalQuantiles(level=level, min_n=min_n, groups=list(groups))
    prefixes = {
        CELL_SEP.join(cell.split(CELL_SEP)[:k])
        for cell in set(c.tolist()) - {""}
        for k in range(1, len(cell.split(CELL_SEP)) + 1)
    }
    parts = [(POOLED, r)]
    for key in sorted(prefixes):
        inside = (c == key) | np.char.startswith(c, key + CELL_SEP)
        parts.append((key, r[inside]))
    for key, part in parts:
        out.bounds[key] = _bounds(part, level)
        out.percentiles[key] = (
            np.percentile(part, _PERCENTILES).tolist() if len(part) else [0.0] * len(_PERCENTILES)
        )
    return out


def conformal_interval(
    predicted: np.ndarray,
    scales: np.ndarray,
    *,
    quantiles: ConformalQuantiles,
    lower_limit: np.ndarray | None = None,
    upper_limit: np.ndarray | None = None,
) -> pd.DataFrame:
    """Prediction interval of the change for each patient.

    Parameters
    ----------
    predicted
        Predicted change per patient.
    scales
        Cell of each patient's change (:func:`interval_cells`; a plain scale without groups):
        picks the residual quantiles.
    quantiles
        From :func:`fit_conformal`.
    lower_limit, upper_limit
        Smallest and largest change the scale allows from each patient's baseline (the interval
        is clipped to them); ``None``: no clipping.

    Returns
    -------
    pandas.DataFrame
        ``lower, upper, key`` (the residuals used: a scale or ``_pooled``).

    Examples
    --------
    >>> q = fit_conformal(np.arange(-50.0, 50.0), np.array(["hfmse"] * 100), level=0.8)
    >>> conformal_interval(np.array([2.0]), np.array(["hfmse"]), quantiles=q,
    ...                    upper_limit=np.array([10.0])).values.tolist()
    [[-39.0, 10.0, 'hfmse']]
    """
    pred = np.asarray(predicted, dtype=float)
    keys = [quantiles.key(None if pd.isna(s) else str(s)) for s in np.asarray(scales, dtype=object)]
    lo = pred + np.array([quantiles.bounds[k][0] for k in keys], dtype=float)
    hi = pred + np.array([quantiles.bounds[k][1] for k in keys], dtype=float)
    if lower_limit is not None:
        lo = np.maximum(lo, np.asarray(lower_limit, dtype=float))
    if upper_limit is not None:
        hi = np.minimum(hi, np.asarray(upper_limit, dtype=float))
    return pd.DataFrame({"lower": lo, "upper": np.maximum(hi, lo), "key": keys})


def gain_probability(
    predicted: np.ndarray,
    scales: np.ndarray,
    thresholds: np.ndarray,
    *,
    quantiles: ConformalQuantiles,
) -> np.ndarray:
    """Share of the predictive distribution (prediction + held-out residuals) at or above a gain.

    Used when the model predicts the change (a ``delta`` target): the chance of a meaningful
    gain is read from how far observed changes fell from predictions in held-out patients.

    Examples
    --------
    >>> q = fit_conformal(np.linspace(-5, 5, 101), np.array(["hfmse"] * 101))
    >>> gain_probability(np.array([3.0]), np.array(["hfmse"]), np.array([3.0]), quantiles=q)
    array([0.505051])
    """
    pred = np.asarray(predicted, dtype=float)
    thr = np.asarray(thresholds, dtype=float)
    out = np.empty(len(pred))
    for i, (p, s, t) in enumerate(zip(pred, np.asarray(scales, dtype=object), thr, strict=True)):
        pct = np.asarray(quantiles.percentiles[quantiles.key(None if pd.isna(s) else str(s))])
        out[i] = float(np.mean(p + pct >= t - 1e-9)) if len(pct) else np.nan
    return np.round(out, 6)


def cross_conformal(
    held_out: pd.DataFrame, *, level: float = 0.8, min_n: int = 30, groups: Sequence[str] = ()
) -> pd.DataFrame:
    """Intervals for held-out rows from the residuals of the other folds, and their coverage.

    Parameters
    ----------
    held_out
        ``index_id, fold, y_true, y_pred, scale`` (one row per index event; the first repeat of
        repeated cross-validation), the ``groups`` columns, optionally ``lower_limit,
        upper_limit``.
    level, min_n, groups
        As in :func:`fit_conformal`.

    Returns
    -------
    pandas.DataFrame
        ``index_id, lower, upper, covered`` (observed change inside the interval).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> held = pd.DataFrame({"index_id": [f"{i}" for i in range(400)], "fold": np.arange(400) % 4,
    ...                      "y_true": rng.normal(size=400), "y_pred": 0.0, "scale": "hfmse"})
    >>> out = cross_conformal(held, level=0.8)
    >>> bool(0.7 < out["covered"].mean() < 0.9)
    True
    """
    parts = []
    residual = held_out["y_true"].to_numpy(dtype=float) - held_out["y_pred"].to_numpy(dtype=float)
    folds = held_out["fold"].to_numpy()
    cells = interval_cells(held_out["scale"], held_out, groups)
    for fold in sorted(set(folds.tolist())):
        test = folds == fold
        q = fit_conformal(residual[~test], cells[~test], level=level, min_n=min_n, groups=groups)
        rows = held_out.loc[test]
        iv = conformal_interval(
            rows["y_pred"].to_numpy(dtype=float),
            cells[test],
            quantiles=q,
            lower_limit=rows["lower_limit"].to_numpy(dtype=float)
            if "lower_limit" in rows
            else None,
            upper_limit=rows["upper_limit"].to_numpy(dtype=float)
            if "upper_limit" in rows
            else None,
        )
        y = rows["y_true"].to_numpy(dtype=float)
        parts.append(
            pd.DataFrame(
                {
                    "index_id": rows["index_id"].to_numpy(),
                    "lower": iv["lower"].to_numpy(),
                    "upper": iv["upper"].to_numpy(),
                    "covered": (y >= iv["lower"].to_numpy() - 1e-9)
                    & (y <= iv["upper"].to_numpy() + 1e-9),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def coverage_table(intervals: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Empirical coverage and mean width of held-out intervals, overall and per group level.

    Parameters
    ----------
    intervals
        From :func:`cross_conformal`.
    groups
        Indexed by ``index_id``; each column a grouping variable (e.g. region, scale).

    Returns
    -------
    pandas.DataFrame
        ``variable, level, n, coverage, mean_width``.

    Examples
    --------
    >>> iv = pd.DataFrame({"index_id": ["a", "b"], "lower": [0.0, 0], "upper": [1.0, 3],
    ...                    "covered": [True, False]})
    >>> g = pd.DataFrame({"region": ["DE", "IT"]}, index=["a", "b"])
    >>> coverage_table(iv, g)["coverage"].tolist()
    [0.5, 1.0, 0.0]
    """
    table = groups.reindex(intervals["index_id"].to_numpy())
    width = (intervals["upper"] - intervals["lower"]).to_numpy(dtype=float)
    covered = intervals["covered"].to_numpy(dtype=bool)
    cells = [("overall", "all", np.ones(len(intervals), dtype=bool))]
    for variable in table.columns:
        values = table[variable].astype(object).to_numpy()
        for level in sorted({str(v) for v in values if not pd.isna(v)}):
            cells.append((str(variable), level, values == level))
    rows = [
        {
            "variable": variable,
            "level": level,
            "n": int(mask.sum()),
            "coverage": float(covered[mask].mean()) if mask.any() else np.nan,
            "mean_width": float(np.mean(width[mask])) if mask.any() else np.nan,
        }
        for variable, level, mask in cells
    ]
    return pd.DataFrame(rows)


#: Subgroups smaller than this are left out of the smallest and largest subgroup coverage.
MIN_COVERAGE_GROUP = 50
#: The coverage table's row variable for quintiles of the predicted change: not a patient
#: subgroup, so reported apart (``interval/coverage_min_quintile`` / ``_max_quintile``).
QUINTILE_VARIABLE = "predicted_change_quintile"


def predicted_quintiles(predicted: pd.Series) -> pd.Series:
    """Label each prediction with its quintile, ``Q1`` (lowest predicted change) to ``Q5``.

    Examples
    --------
    >>> predicted_quintiles(pd.Series(range(10), index=list("abcdefghij"))).tolist()
    ['Q1', 'Q1', 'Q2', 'Q2', 'Q3', 'Q3', 'Q4', 'Q4', 'Q5', 'Q5']
    """
    ranks = predicted.rank(method="first")
    return pd.qcut(ranks, 5, labels=[f"Q{i}" for i in range(1, 6)]).astype(str)


def coverage_metrics(
    coverage: pd.DataFrame, level: float, *, min_group: int = MIN_COVERAGE_GROUP
) -> dict[str, float]:
    """Flat metrics of a :func:`coverage_table` (``interval/coverage[/<variable>/<level>]``).

    ``interval/coverage_min_subgroup`` and ``interval/coverage_max_subgroup`` range over the
    subgroups of at least ``min_group`` patients (NaN when there is none);
    ``interval/coverage_min_quintile`` / ``_max_quintile`` over the quintiles of the predicted
    change (rows of :data:`QUINTILE_VARIABLE`, when the table has them).

    Examples
    --------
    >>> cov = pd.DataFrame({"variable": ["overall", "region", "region"],
    ...                     "level": ["all", "DE", "IT"], "n": [200, 150, 50],
    ...                     "coverage": [0.8, 0.75, 0.9],
    ...                     "mean_width": [6.0, 5.0, 7.0]})
    >>> m = coverage_metrics(cov, 0.8)
    >>> m["interval/coverage"], m["interval/coverage/region/DE"], m["interval/mean_width"]
    (0.8, 0.75, 6.0)
    >>> m["interval/coverage_min_subgroup"], m["interval/coverage_max_subgroup"]
    (0.75, 0.9)
    """
    out = {"interval/level": level}
    for r in coverage.itertuples(index=False):
        key = (
            "interval/coverage"
            if r.variable == "overall"
            else f"interval/coverage/{r.variable}/{r.level}"
        )
        out[key] = float(r.coverage)
        if r.variable == "overall":
            out["interval/mean_width"] = float(r.mean_width)
    big = coverage["n"] >= min_group
    quintile = coverage["variable"] == QUINTILE_VARIABLE
    for name, rows in (
        ("subgroup", coverage.loc[(coverage["variable"] != "overall") & ~quintile & big]),
        ("quintile", coverage.loc[quintile]),
    ):
        found = rows["coverage"].dropna()
        out[f"interval/coverage_min_{name}"] = float(found.min()) if len(found) else np.nan
        out[f"interval/coverage_max_{name}"] = float(found.max()) if len(found) else np.nan
    if not quintile.any():
        del out["interval/coverage_min_quintile"], out["interval/coverage_max_quintile"]
    return out
