"""Percentile bootstrap confidence intervals for metric functions (explicit ``rng``).

Resampling is by patient (cluster bootstrap) and not stratified by outcome: a resample draws
patients with replacement and keeps every index event of each drawn patient, so the number of
events varies between resamples as it would between samples, and the events of one patient are
not treated as independent. (Stratifying by outcome fixes the prevalence and makes intervals
of prevalence-sensitive figures such as the calibration intercept too narrow.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "MetricFn",
    "bootstrap_ci",
    "bootstrap_counts",
    "bootstrap_indices",
    "patient_clusters",
    "percentile_intervals",
]

log = logging.getLogger(__name__)

MetricFn = Callable[[np.ndarray, np.ndarray], dict[str, float]]


def patient_clusters(index_ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """Return the patient of each index event (``<patient_id>#<line>``) as integer cluster codes.

    Examples
    --------
    >>> patient_clusters(["a1#1", "b2#1", "a1#2"]).tolist()
    [0, 1, 0]
    """
    patients = [str(i).rsplit("#", 1)[0] for i in index_ids]
    codes, _ = pd.factorize(pd.Series(patients, dtype=object), sort=False)
    return np.asarray(codes, dtype=np.int64)


def bootstrap_indices(
    n: int,
    *,
    rng: np.random.Generator,
    strata: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> np.ndarray:
    """Row indices of one bootstrap resample: of rows, of clusters, or within strata.

    With ``clusters`` (integer codes ``0..k-1``, e.g. :func:`patient_clusters`), ``k`` clusters
    are drawn with replacement and every row of a drawn cluster is kept (a resample then need
    not have ``n`` rows). Stratified resampling keeps the number of rows of each stratum fixed.

    Parameters
    ----------
    n
        Number of rows.
    rng
        Random generator (consumed).
    strata
        Optional stratum label per row.
    clusters
        Optional cluster code per row (takes precedence over ``strata``).

    Returns
    -------
    numpy.ndarray
        Indices in ``[0, n)`` (sorted by stratum, or by drawn cluster).

    Examples
    --------
    >>> strata = np.array([0, 0, 1, 1])
    >>> strata[bootstrap_indices(4, rng=np.random.default_rng(0), strata=strata)].tolist()
    [0, 0, 1, 1]
    >>> clusters = np.array([0, 0, 1])
    >>> idx = bootstrap_indices(3, rng=np.random.default_rng(1), clusters=clusters)
    >>> int(np.bincount(clusters[idx], minlength=2)[0]) % 2  # patient 0's two rows together
    0
    """
    if clusters is not None:
        clusters = np.asarray(clusters, dtype=np.int64)
        k = int(clusters.max()) + 1 if len(clusters) else 0
        if k == len(clusters):  # one row per cluster: the plain bootstrap, same draws
            return rng.integers(0, n, size=n)
        order = np.argsort(clusters, kind="stable")
        starts = np.searchsorted(clusters[order], np.arange(k + 1))
        drawn = rng.integers(0, k, size=k)
        return np.concatenate([order[starts[c] : starts[c + 1]] for c in drawn])
    if strata is None:
        return rng.integers(0, n, size=n)
    strata = np.asarray(strata)
    parts = []
    for level in np.unique(strata):
        members = np.flatnonzero(strata == level)
        parts.append(members[rng.integers(0, len(members), size=len(members))])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def bootstrap_counts(
    n: int,
    *,
    rng: np.random.Generator,
    n_boot: int,
    strata: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> np.ndarray:
    """How often each row is drawn in each of ``n_boot`` resamples: an ``(n_boot, n)`` array.

    The resamples are exactly those of ``n_boot`` successive :func:`bootstrap_indices` calls
    (same ``rng`` use), as counts, so that weighted metrics compute all of them at once.

    Examples
    --------
    >>> counts = bootstrap_counts(5, rng=np.random.default_rng(0), n_boot=3)
    >>> counts.shape, counts.sum(axis=1).tolist()
    ((3, 5), [5.0, 5.0, 5.0])
    """
    counts = np.zeros((max(n_boot, 0), n))
    for b in range(max(n_boot, 0)):
        idx = bootstrap_indices(n, rng=rng, strata=strata, clusters=clusters)
        counts[b] = np.bincount(idx, minlength=n)
    return counts


def percentile_intervals(
    draws: dict[str, np.ndarray], *, alpha: float = 0.05
) -> dict[str, tuple[float, float]]:
    """Percentile interval of each metric's bootstrap draws (NaN draws left out).

    ``(nan, nan)`` where fewer than half the draws are finite, or there are none.

    Examples
    --------
    >>> percentile_intervals({"m": np.arange(101.0)}, alpha=0.1)
    {'m': (5.0, 95.0)}
    """
    out: dict[str, tuple[float, float]] = {}
    for name, values in draws.items():
        values = np.asarray(values, dtype=float)
        valid = values[np.isfinite(values)]
        if len(values) == 0 or len(valid) < len(values) / 2:
            log.debug(
                "bootstrap: %s defined in only %d/%d resamples", name, len(valid), len(values)
            )
            out[name] = (np.nan, np.nan)
            continue
        lo, hi = np.percentile(valid, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        out[name] = (float(lo), float(hi))
    return out


def bootstrap_ci(
    metric_fn: MetricFn,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    rng: np.random.Generator,
    n_boot: int = 200,
    alpha: float = 0.05,
    strata: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of every metric ``metric_fn`` returns.

    Parameters
    ----------
    metric_fn
        ``(y_true, y_pred) -> {name: value}``; a NaN value (a degenerate resample, e.g. a
        slope that does not exist) is left out of that metric's percentiles.
    y_true, y_pred
        Observed and predicted values, one per row.
    rng
        Random generator (consumed; pass a fresh seeded one for reproducible intervals).
    n_boot
        Number of resamples.
    alpha
        Two-sided level: the interval spans the ``alpha/2`` and ``1 - alpha/2`` percentiles.
    strata, clusters
        Resample within these strata, or whole clusters (see :func:`bootstrap_indices`).

    Returns
    -------
    dict
        ``{name: (low, high)}``; ``(nan, nan)`` where fewer than half the resamples gave a
        value, or when ``n_boot`` is 0.

    Examples
    --------
    >>> def mean(y, p):
    ...     return {"mean": float(np.mean(y))}
    >>> y = np.arange(100.0)
    >>> lo, hi = bootstrap_ci(mean, y, y, rng=np.random.default_rng(0), n_boot=100)["mean"]
    >>> bool(lo < 49.5 < hi)
    True
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    names = list(metric_fn(y_true, y_pred))
    if n_boot <= 0 or len(y_true) == 0:
        return dict.fromkeys(names, (np.nan, np.nan))
    draws = np.full((n_boot, len(names)), np.nan)
    for b in range(n_boot):
        idx = bootstrap_indices(len(y_true), rng=rng, strata=strata, clusters=clusters)
        values = metric_fn(y_true[idx], y_pred[idx])
        draws[b] = [values.get(name, np.nan) for name in names]
    return percentile_intervals({name: draws[:, j] for j, name in enumerate(names)}, alpha=alpha)
