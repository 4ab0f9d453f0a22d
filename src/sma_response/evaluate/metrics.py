"""Discrimination, calibration and clinical usefulness, with bootstrap confidence intervals.

Every function is pure and returns ``dict[str, float]`` with flat keys (``auroc``,
``auroc_ci_low``, ``auroc_ci_high``, ...); the pipeline adds namespaces such as ``cv/``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from sma_response.evaluate.uncertainty import (
    bootstrap_ci,
    bootstrap_counts,
    percentile_intervals,
)

__all__ = [
    "CLASSIFICATION_CI_METRICS",
    "NET_BENEFIT_THRESHOLDS",
    "REGRESSION_CI_METRICS",
    "auroc",
    "average_precision",
    "calibration_in_the_large",
    "calibration_intercept_slope",
    "classification_metrics",
    "compare_models",
    "compute_metrics",
    "fractional_classification",
    "model_vs_oracle",
    "net_benefit",
    "not_estimable",
    "oracle_metrics",
    "regression_metrics",
    "weighted_metrics",
]

log = logging.getLogger(__name__)

#: Decision thresholds (predicted probability of response) for the net benefit.
NET_BENEFIT_THRESHOLDS = (0.2, 0.3, 0.5)
#: Predicted probabilities are clipped to [eps, 1 - eps] before the logit.
_EPS = 1e-8
_NEWTON_MAX_ITER = 50
_NEWTON_TOL = 1e-10
#: Larger recalibration coefficients mean (quasi-)separation: the estimate does not exist.
_MAX_COEF = 1e3


def _nb_key(threshold: float) -> str:
    return f"net_benefit_{threshold:g}"


CLASSIFICATION_CI_METRICS = (
    "auroc",
    "auprc",
    "brier",
    "calibration_intercept",
    "calibration_slope",
    *(_nb_key(t) for t in NET_BENEFIT_THRESHOLDS),
)
REGRESSION_CI_METRICS = ("mae", "rmse", "r2", "calibration_intercept", "calibration_slope")


def _as_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    """``(B, n)`` row weights (bootstrap counts); one row of ones when ``None``."""
    if weights is None:
        return np.ones((1, n))
    return np.atleast_2d(np.asarray(weights, dtype=float))


def _score_groups(
    y: np.ndarray, p: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights of events and non-events per distinct score, highest score first.

    Returns the distinct scores ``(G,)`` and the ``(B, G)`` weights of events and non-events
    at each, for every row of weights: the shared basis of AUROC and average precision.
    """
    order = np.argsort(-p, kind="mergesort")
    scores = p[order]
    starts = np.flatnonzero(np.r_[True, np.diff(scores) != 0])
    wo, yo = w[:, order], y[order]
    if len(order) == 0:
        empty = np.zeros((w.shape[0], 0))
        return scores, empty, empty
    pos = np.add.reduceat(wo * yo, starts, axis=1)
    neg = np.add.reduceat(wo * (1.0 - yo), starts, axis=1)
    return scores[starts], pos, neg


def _weighted_auroc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
    neg_below = n_neg[:, None] - np.cumsum(neg, axis=1)  # non-events scored lower
    wins = np.sum(pos * (neg_below + 0.5 * neg), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), wins / (n_pos * n_neg), np.nan)


def _weighted_average_precision(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    tps = np.cumsum(pos, axis=1)
    flagged = np.cumsum(pos + neg, axis=1)
    n_pos = tps[:, -1] if tps.shape[1] else np.zeros(len(tps))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(flagged > 0, tps / flagged, 0.0)
        recall = tps / n_pos[:, None]
        ap = np.sum(np.diff(recall, axis=1, prepend=0.0) * precision, axis=1)
    return np.where(n_pos > 0, ap, np.nan)


def auroc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN with one class.

    Examples
    --------
    >>> auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    _, pos, neg = _score_groups(y, p, _as_weights(None, len(y)))
    return float(_weighted_auroc(pos, neg)[0])


def average_precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's definition).

    Examples
    --------
    >>> average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.8333333333333333
    """
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    _, pos, neg = _score_groups(y, p, _as_weights(None, len(y)))
    return float(_weighted_average_precision(pos, neg)[0])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _newton_intercepts(y: np.ndarray, offset: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Newton-Raphson for ``a`` in ``logit P(y=1) = a + offset``, one fit per row of ``w``.

    NaN where the estimate does not exist (no convergence, separation).
    """
    a = np.zeros(len(w))
    done = np.zeros(len(w), dtype=bool)
    failed = np.zeros(len(w), dtype=bool)
    for _ in range(_NEWTON_MAX_ITER):
        active = ~(done | failed)
        if not active.any():
            break
        mu = expit(a[active, None] + offset[None, :])
        wa = w[active]
        hessian = np.sum(wa * mu * (1 - mu), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.sum(wa * (y[None, :] - mu), axis=1) / hessian
        new = a[active] + step
        bad = ~(hessian > 0) | ~np.isfinite(new) | (np.abs(new) > _MAX_COEF)
        a[active] = np.where(bad, a[active], new)
        failed[active] = bad
        done[active] = ~bad & (np.abs(step) < _NEWTON_TOL)
    return np.where(done, a, np.nan)


def _newton_lines(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newton-Raphson for ``(a, b)`` in ``logit P(y=1) = a + b x``, one fit per row of ``w``.

    Closed-form 2x2 steps from ``(0, 1)`` (perfect calibration: few steps when nearly
    calibrated); NaN where the estimate does not exist.
    """
    a, b = np.zeros(len(w)), np.ones(len(w))
    done = np.zeros(len(w), dtype=bool)
    failed = np.zeros(len(w), dtype=bool)
    for _ in range(_NEWTON_MAX_ITER):
        active = ~(done | failed)
        if not active.any():
            break
        mu = expit(a[active, None] + b[active, None] * x[None, :])
        wa = w[active]
        h = wa * mu * (1 - mu)
        r = wa * (y[None, :] - mu)
        g0, g1 = r.sum(axis=1), r @ x
        h00, h01, h11 = h.sum(axis=1), h @ x, h @ (x * x)
        det = h00 * h11 - h01 * h01
        with np.errstate(invalid="ignore", divide="ignore"):
            da = (h11 * g0 - h01 * g1) / det
            db = (h00 * g1 - h01 * g0) / det
        na, nb = a[active] + da, b[active] + db
        bad = (
            ~(det > 0)
            | ~(np.isfinite(na) & np.isfinite(nb))
            | (np.maximum(np.abs(na), np.abs(nb)) > _MAX_COEF)
        )
        a[active] = np.where(bad, a[active], na)
        b[active] = np.where(bad, b[active], nb)
        failed[active] = bad
        done[active] = ~bad & (np.maximum(np.abs(da), np.abs(db)) < _NEWTON_TOL)
    return np.where(done, a, np.nan), np.where(done, b, np.nan)


def _fit_intercept(y: np.ndarray, offset: np.ndarray) -> float:
    """Newton-Raphson for ``a`` in ``logit P(y=1) = a + offset``; NaN if it does not exist."""
    y, offset = np.asarray(y, dtype=float), np.asarray(offset, dtype=float)
    return float(_newton_intercepts(y, offset, _as_weights(None, len(y)))[0])


def _fit_line(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Newton-Raphson for ``(a, b)`` in ``logit P(y=1) = a + b x`` (closed-form 2x2 steps)."""
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    a, b = _newton_lines(y, x, _as_weights(None, len(y)))
    return float(a[0]), float(b[0])


def calibration_intercept_slope(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration: calibration-in-the-large and slope of ``logit(p)``.

    The intercept is ``a`` in ``logit P(y=1) = a + logit(p)`` (slope fixed at 1: 0 when the mean
    prediction matches the event rate); the slope is ``b`` in ``logit P(y=1) = a' + b logit(p)``
    (1 when predictions are neither too extreme, ``b < 1``, nor too modest, ``b > 1``).

    Returns
    -------
    tuple of float
        ``(intercept, slope)``; NaN when the fit does not exist (one class, separation).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 20000)
    >>> a, b = calibration_intercept_slope(rng.random(20000) < p, p)
    >>> round(a, 1) == 0.0, round(b, 1)
    (True, 1.0)
    """
    y = np.asarray(y_true, dtype=float)
    out = _weighted_classification(y, np.asarray(y_pred, dtype=float), None)
    return float(out["calibration_intercept"][0]), float(out["calibration_slope"][0])


def net_benefit(y_true: np.ndarray, y_pred: np.ndarray, threshold: float) -> float:
    """Net benefit of treating when ``p >= threshold``: TP/n - FP/n * t/(1-t) (Vickers 2006).

    Examples
    --------
    >>> net_benefit(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.1, 0.1]), 0.5)
    0.0
    """
    y = np.asarray(y_true, dtype=float)
    flagged = np.asarray(y_pred, dtype=float) >= threshold
    n = len(y)
    if n == 0:
        return float("nan")
    tp = float(np.sum(flagged & (y == 1)))
    fp = float(np.sum(flagged & (y == 0)))
    return tp / n - fp / n * threshold / (1 - threshold)


def _weighted_classification(
    y: np.ndarray, p: np.ndarray, weights: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Compute the interval metrics (:data:`CLASSIFICATION_CI_METRICS`) per row of ``weights``.

    A row of integer weights is a bootstrap resample (how often each row was drawn), so one
    call computes every resample at once; ``None`` is the sample itself (one row of ones).
    Each value is an array with one entry per row of weights.
    """
    w = _as_weights(weights, len(y))
    _, pos, neg = _score_groups(y, p, w)
    n = w.sum(axis=1)
    n_pos = pos.sum(axis=1)
    one_class = (n_pos == 0) | (n_pos == n)
    lp = _logit(p)
    intercept = _newton_intercepts(y, lp, w)
    _, slope = _newton_lines(y, lp, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "auroc": _weighted_auroc(pos, neg),
            "auprc": _weighted_average_precision(pos, neg),
            "brier": (w @ ((p - y) ** 2)) / n,
            "calibration_intercept": np.where(one_class, np.nan, intercept),
            "calibration_slope": np.where(one_class, np.nan, slope),
        }
        for t in NET_BENEFIT_THRESHOLDS:
            flagged = (p >= t).astype(float)
            tp = w @ (flagged * y)
            fp = w @ (flagged * (1 - y))
            out[_nb_key(t)] = tp / n - fp / n * t / (1 - t)
    return out


def fractional_classification(
    y: np.ndarray, p: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Compute the classification interval metrics per row of ``weights``, ``y`` in [0, 1].

    A fractional ``y`` (a true probability) counts as ``y`` of an event and ``1 - y`` of a
    non-event: the AUROC is then the share of concordant event/non-event weight (a row's event
    and non-event parts tie with each other: a pull towards 0.5 of order 1/n), and the
    calibration fits are quasi-likelihood logistic fits. With 0/1 ``y`` and a row of ones it is
    :func:`classification_metrics`.

    Examples
    --------
    >>> y, p = np.array([0.2, 0.5, 0.9]), np.array([0.1, 0.5, 0.8])
    >>> round(float(fractional_classification(y, p, np.ones((1, 3)))["auroc"][0]), 3)
    0.812
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    return _weighted_classification(y, p, np.atleast_2d(np.asarray(weights, dtype=float)))


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Point estimates for a binary outcome and predicted probabilities (no intervals).

    Returns
    -------
    dict
        ``auroc, auprc, brier, calibration_intercept, calibration_slope, net_benefit_<t>``
        and ``net_benefit_treat_all_<t>`` for every ``t`` in :data:`NET_BENEFIT_THRESHOLDS`.

    Examples
    --------
    >>> m = classification_metrics(np.array([0, 1, 0, 1]), np.array([0.2, 0.8, 0.3, 0.6]))
    >>> m["auroc"], round(m["brier"], 4)
    (1.0, 0.0825)
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if len(y) == 0:
        out = dict.fromkeys(CLASSIFICATION_CI_METRICS, float("nan"))
    else:
        out = {k: float(v[0]) for k, v in _weighted_classification(y, p, None).items()}
    prevalence = float(y.sum()) / max(len(y), 1)
    for t in NET_BENEFIT_THRESHOLDS:
        out[f"net_benefit_treat_all_{t:g}"] = prevalence - (1 - prevalence) * t / (1 - t)
    return out


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Point estimates for a continuous outcome (no intervals).

    ``calibration_slope`` and ``calibration_intercept`` come from the least-squares line of
    observed on predicted (slope 1 and intercept 0 when calibrated).

    Examples
    --------
    >>> m = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    >>> m["mae"], m["r2"], m["calibration_slope"]
    (0.0, 1.0, 1.0)
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if len(y) == 0:
        return dict.fromkeys(REGRESSION_CI_METRICS, float("nan"))
    resid = y - p
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    p_c = p - p.mean()
    var_p = float(np.sum(p_c**2))
    slope = float(np.sum(p_c * (y - y.mean())) / var_p) if var_p > 0 else float("nan")
    return {
        "mae": float(np.mean(np.abs(resid))),
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "r2": 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan"),
        "calibration_intercept": float(y.mean() - slope * p.mean()),
        "calibration_slope": slope,
    }


def compute_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    task: str,
    rng: np.random.Generator,
    n_boot: int = 200,
    alpha: float = 0.05,
    clusters: np.ndarray | None = None,
) -> dict[str, float]:
    """All metrics of a task with percentile bootstrap confidence intervals.

    Parameters
    ----------
    y_true
        Observed outcome (0/1 for classification).
    y_pred
        Predicted probability of 1 (classification) or predicted value (regression).
    task
        ``classification`` or ``regression``.
    rng
        Random generator for the bootstrap (consumed).
    n_boot
        Bootstrap resamples (0: no intervals, the ``*_ci_*`` keys are NaN).
    alpha
        Two-sided level of the intervals (0.05: 95 % intervals).
    clusters
        Patient of each row (:func:`~sma_response.evaluate.uncertainty.patient_clusters`):
        resamples draw whole patients; ``None``: rows are independent.

    Returns
    -------
    dict
        ``n`` and, for classification, ``n_events, prevalence`` and the keys of
        :func:`classification_metrics`; for regression the keys of :func:`regression_metrics`.
        Each metric in :data:`CLASSIFICATION_CI_METRICS` / :data:`REGRESSION_CI_METRICS` also has
        ``<metric>_ci_low`` and ``<metric>_ci_high``. Resamples are not stratified by outcome
        (the number of events varies as between samples); a resample in which a metric does
        not exist (one class only) is left out of its interval, and an interval backed by
        fewer than half the resamples is NaN.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1] * 10)
    >>> m = compute_metrics(y, y * 0.8 + 0.1, task="classification",
    ...                     rng=np.random.default_rng(0), n_boot=20)
    >>> m["auroc"], m["auroc_ci_low"], m["n_events"]
    (1.0, 1.0, 20.0)
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if y.shape != p.shape:
        msg = f"y_true and y_pred differ in shape <{y.shape} != {p.shape}>"
        raise ValueError(msg)
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(p))):
        msg = "y_true and y_pred must be finite (no NaN)"
        raise ValueError(msg)
    if task == "classification":
        if not np.isin(y, (0.0, 1.0)).all():
            msg = "task: 'classification' needs a 0/1 y_true"
            raise ValueError(msg)
        point = classification_metrics(y, p)
        ci_names: Sequence[str] = CLASSIFICATION_CI_METRICS
        head = {"n": float(len(y)), "n_events": float(y.sum()), "prevalence": _mean(y)}
        if n_boot > 0 and len(y):
            # All resamples at once: weighted metrics over bootstrap counts.
            counts = bootstrap_counts(len(y), rng=rng, n_boot=n_boot, clusters=clusters)
            cis = percentile_intervals(_weighted_classification(y, p, counts), alpha=alpha)
        else:
            cis = dict.fromkeys(ci_names, (np.nan, np.nan))
    elif task == "regression":
        point = regression_metrics(y, p)
        ci_names = REGRESSION_CI_METRICS
        head = {"n": float(len(y))}
        cis = bootstrap_ci(
            regression_metrics, y, p, rng=rng, n_boot=n_boot, alpha=alpha, clusters=clusters
        )
    else:
        msg = f"task: unknown task {task!r}; expected 'classification' or 'regression'"
        raise ValueError(msg)
    out = {**head, **point}
    for name in ci_names:
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = cis[name]
    return out


def _weighted_regression(
    y: np.ndarray, p: np.ndarray, weights: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Compute :data:`REGRESSION_CI_METRICS` per row of ``weights`` (:func:`regression_metrics`).

    With a row of ones it gives exactly :func:`regression_metrics`; a row of bootstrap counts
    times case weights gives one weighted resample.
    """
    w = _as_weights(weights, len(y))
    n = w.sum(axis=1)
    resid = y[None, :] - p[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        y_bar, p_bar = (w @ y) / n, (w @ p) / n
        y_c, p_c = y[None, :] - y_bar[:, None], p[None, :] - p_bar[:, None]
        ss_tot, var_p = np.sum(w * y_c**2, axis=1), np.sum(w * p_c**2, axis=1)
        sse = np.sum(w * resid**2, axis=1)
        slope = np.where(var_p > 0, np.sum(w * p_c * y_c, axis=1) / var_p, np.nan)
        return {
            "mae": np.sum(w * np.abs(resid), axis=1) / n,
            "rmse": np.sqrt(sse / n),
            "r2": np.where(ss_tot > 0, 1.0 - sse / ss_tot, np.nan),
            "calibration_intercept": y_bar - slope * p_bar,
            "calibration_slope": slope,
        }


def weighted_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    sample_weight: np.ndarray,
    *,
    task: str,
    rng: np.random.Generator,
    n_boot: int = 200,
    alpha: float = 0.05,
    clusters: np.ndarray | None = None,
) -> dict[str, float]:
    """Compute the interval metrics of a task with case weights (inverse-probability weights).

    Each row counts ``sample_weight`` times: what the metric would be in the population the
    weights stand for (all eligible index events, when they are IPC weights). The bootstrap
    resamples rows (whole ``clusters`` when given) and keeps each row's weight, so the
    intervals carry the weights' own variability only through the resampled rows (the
    censoring model is not refitted per resample: intervals somewhat too narrow).

    Returns
    -------
    dict
        ``n``, ``n_effective`` (Kish), for classification ``prevalence`` (weighted), and each
        metric of :data:`CLASSIFICATION_CI_METRICS` / :data:`REGRESSION_CI_METRICS` with its
        ``_ci_low`` / ``_ci_high``.

    Examples
    --------
    >>> y, p = np.array([0, 0, 1, 1.0]), np.array([0.1, 0.6, 0.4, 0.9])
    >>> plain = weighted_metrics(y, p, np.ones(4), task="classification",
    ...                          rng=np.random.default_rng(0), n_boot=0)
    >>> heavy = weighted_metrics(y, p, np.array([1, 1, 3, 1.0]), task="classification",
    ...                          rng=np.random.default_rng(0), n_boot=0)
    >>> plain["auroc"], heavy["auroc"], round(heavy["prevalence"], 3)
    (0.75, 0.625, 0.667)
    """
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    w = np.asarray(sample_weight, dtype=float)
    if not (y.shape == p.shape == w.shape) or not np.all(np.isfinite(w) & (w >= 0)):
        msg = "y_true, y_pred and sample_weight need one finite, non-negative value per row"
        raise ValueError(msg)
    compute = {"classification": _weighted_classification, "regression": _weighted_regression}
    if task not in compute:
        msg = f"task: unknown task {task!r}; expected 'classification' or 'regression'"
        raise ValueError(msg)
    names = CLASSIFICATION_CI_METRICS if task == "classification" else REGRESSION_CI_METRICS
    fn = compute[task]
    out = {"n": float(len(y)), "n_effective": float(w.sum() ** 2 / np.sum(w**2)) if len(w) else 0.0}
    if task == "classification":
        out["prevalence"] = float(w @ y / w.sum()) if w.sum() > 0 else float("nan")
    point = fn(y, p, w[None, :]) if len(y) else {}
    cis: dict[str, tuple[float, float]] = dict.fromkeys(names, (np.nan, np.nan))
    if n_boot > 0 and len(y):
        counts = bootstrap_counts(len(y), rng=rng, n_boot=n_boot, clusters=clusters)
        cis = percentile_intervals(fn(y, p, counts * w[None, :]), alpha=alpha)
    for name in names:
        out[name] = float(point[name][0]) if name in point else float("nan")
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = cis[name]
    return out


def compare_models(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_pred_other: np.ndarray,
    *,
    task: str,
    rng: np.random.Generator,
    n_boot: int = 200,
    alpha: float = 0.05,
    clusters: np.ndarray | None = None,
) -> dict[str, float]:
    """Differences of every interval metric between two models on the same rows (paired).

    Both models are evaluated on the same bootstrap resamples, so the interval of each
    difference accounts for their correlation (a model comparison, not two separate CIs).

    Parameters
    ----------
    y_true
        Observed outcome.
    y_pred, y_pred_other
        Predictions of the model and of the comparator, row for row.
    task, rng, n_boot, alpha, clusters
        As in :func:`compute_metrics`.

    Returns
    -------
    dict
        ``<metric>_diff`` (model minus comparator) with ``<metric>_diff_ci_low`` and
        ``<metric>_diff_ci_high`` for each metric with an interval.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1] * 10)
    >>> out = compare_models(y, y * 0.8 + 0.1, np.full(40, 0.5), task="classification",
    ...                      rng=np.random.default_rng(0), n_boot=20)
    >>> out["auroc_diff"], out["auroc_diff_ci_low"]
    (0.5, 0.5)
    """
    y = np.asarray(y_true, dtype=float)
    p, q = np.asarray(y_pred, dtype=float), np.asarray(y_pred_other, dtype=float)
    if task == "classification":
        names: Sequence[str] = CLASSIFICATION_CI_METRICS
        a, b = classification_metrics(y, p), classification_metrics(y, q)
        if n_boot > 0 and len(y):
            counts = bootstrap_counts(len(y), rng=rng, n_boot=n_boot, clusters=clusters)
            wa = _weighted_classification(y, p, counts)
            wb = _weighted_classification(y, q, counts)
            cis = percentile_intervals({k: wa[k] - wb[k] for k in names}, alpha=alpha)
        else:
            cis = dict.fromkeys(names, (np.nan, np.nan))
    elif task == "regression":
        names = REGRESSION_CI_METRICS
        a, b = regression_metrics(y, p), regression_metrics(y, q)

        def difference(yt: np.ndarray, pq: np.ndarray) -> dict[str, float]:
            ma, mb = regression_metrics(yt, pq[:, 0]), regression_metrics(yt, pq[:, 1])
            return {k: ma[k] - mb[k] for k in names}

        cis = bootstrap_ci(
            difference, y, np.column_stack([p, q]), rng=rng, n_boot=n_boot, alpha=alpha,
            clusters=clusters,
        )  # fmt: skip
    else:
        msg = f"task: unknown task {task!r}; expected 'classification' or 'regression'"
        raise ValueError(msg)
    out: dict[str, float] = {}
    for name in names:
        out[f"{name}_diff"] = a[name] - b[name]
        out[f"{name}_diff_ci_low"], out[f"{name}_diff_ci_high"] = cis[name]
    return out


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def oracle_metrics(
    y_true: np.ndarray,
    oracle_pred: np.ndarray,
    *,
    task: str,
    rng: np.random.Generator,
    n_boot: int = 200,
    clusters: np.ndarray | None = None,
) -> dict[str, float]:
    """Metrics of the oracle: the simulator's true response probability (or expected change).

    The oracle knows every patient's latent parameters, so its metrics bound what any model can
    reach on the same rows (up to outcome noise). Same keys as :func:`compute_metrics`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> truth = rng.uniform(0, 1, 2000)
    >>> m = oracle_metrics(rng.random(2000) < truth, truth, task="classification",
    ...                    rng=rng, n_boot=0)
    >>> 0.8 < m["auroc"] < 0.9
    True
    """
    return compute_metrics(
        y_true, oracle_pred, task=task, rng=rng, n_boot=n_boot, clusters=clusters
    )


def model_vs_oracle(
    model: Mapping[str, float],
    oracle: Mapping[str, float],
    *,
    keys: Sequence[str] | None = None,
) -> dict[str, float]:
    """Compare a model's metrics with the oracle's on the same rows.

    Parameters
    ----------
    model, oracle
        Outputs of :func:`compute_metrics` and :func:`oracle_metrics`.
    keys
        Metrics to compare (default: every metric with an interval present in both).

    Returns
    -------
    dict
        ``<metric>_ratio`` (model / oracle: near 1 is as good as the oracle for AUROC; for
        errors such as Brier or RMSE a ratio above 1 is worse) and ``<metric>_gap``
        (model - oracle). NaN where the oracle's value is 0 or missing.

    Examples
    --------
    >>> out = model_vs_oracle({"auroc": 0.72}, {"auroc": 0.8}, keys=["auroc"])
    >>> {k: round(v, 3) for k, v in out.items()}
    {'auroc_ratio': 0.9, 'auroc_gap': -0.08}
    """
    if keys is None:
        candidates = (*CLASSIFICATION_CI_METRICS, *REGRESSION_CI_METRICS)
        keys = [k for k in dict.fromkeys(candidates) if k in model and k in oracle]
    out: dict[str, float] = {}
    for key in keys:
        m, o = float(model.get(key, np.nan)), float(oracle.get(key, np.nan))
        out[f"{key}_ratio"] = m / o if o != 0.0 and np.isfinite(o) else float("nan")
        out[f"{key}_gap"] = m - o
    return out


def not_estimable(
    metrics: Mapping[str, float], y_true: np.ndarray, y_pred: np.ndarray, *, task: str
) -> dict[str, str]:
    """Say why each figure of :func:`compute_metrics` that is NaN could not be computed.

    A NaN is never left unexplained: the run logs these reasons beside its metrics.

    Examples
    --------
    >>> y = np.array([1.0, 1.0, 1.0])
    >>> m = compute_metrics(y, np.array([0.7, 0.8, 0.9]), task="classification",
    ...                     rng=np.random.default_rng(0), n_boot=0)
    >>> not_estimable(m, y, np.array([0.7, 0.8, 0.9]), task="classification")["auroc"]
    'one outcome class only (3 events among 3)'
    """
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    n, events = len(y), float(np.sum(y))
    reasons: dict[str, str] = {}
    for key, value in metrics.items():
        if not (isinstance(value, float) and math.isnan(value)):
            continue
        metric = key.rsplit("_ci_", 1)[0]
        if n == 0:
            reasons[key] = "no rows"
        elif task == "classification" and events in (0.0, float(n)):
            reasons[key] = f"one outcome class only ({events:.0f} events among {n})"
        elif key.endswith(("_ci_low", "_ci_high")):
            base = metrics.get(metric)
            reasons[key] = (
                "no interval: the point estimate itself is not estimable"
                if base is None or math.isnan(base)
                else "no interval: defined in fewer than half the bootstrap resamples, or no "
                "bootstrap (evaluate.n_boot=0)"
            )
        elif metric.startswith("calibration_"):
            reasons[key] = (
                "the logistic recalibration fit does not exist (predictions separate the "
                "outcomes perfectly, or sit at 0 or 1)"
            )
        elif task == "regression" and float(np.var(y)) == 0.0:
            reasons[key] = "the observed values do not vary"
        elif task == "regression" and float(np.var(p)) == 0.0:
            reasons[key] = "the predictions do not vary"
        else:
            reasons[key] = "not defined on these rows"
    return reasons


def calibration_in_the_large(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metrics: Mapping[str, float],
    *,
    task: str,
    unit: str = "responders",
) -> dict[str, Any]:
    """Observed against expected overall, with a plain verdict.

    For a binary outcome: observed and expected events, their ratio O/E with the 95% interval
    of Debray et al. (BMJ 2017; ``var ln(O/E) = (1 - O/N) / O``), and the verdict from the
    calibration intercept's interval in ``metrics`` (the logistic fit with the prediction as
    offset, :func:`compute_metrics`): below 0 the model predicts too high, above 0 too low,
    spanning 0 no evidence of a shift. For a continuous outcome: the mean observed and
    predicted values, their difference with a normal 95% interval (``sd / sqrt(n)`` of the
    residuals), and the verdict from that interval.

    Examples
    --------
    >>> m = {"calibration_intercept": -0.27, "calibration_intercept_ci_low": -0.46,
    ...      "calibration_intercept_ci_high": -0.06}
    >>> y = np.r_[np.ones(40), np.zeros(60)]
    >>> out = calibration_in_the_large(y, np.full(100, 0.47), m, task="classification")
    >>> round(out["oe_ratio"], 2), out["verdict"]
    (0.85, 'too_high')
    >>> out["sentence"][:60]
    'The model predicts too high here: 40 responders observed whe'
    """
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    n = len(y)
    out: dict[str, Any] = {"n": n}
    if task == "classification":
        est = metrics.get("calibration_intercept", float("nan"))
        low = metrics.get("calibration_intercept_ci_low", float("nan"))
        high = metrics.get("calibration_intercept_ci_high", float("nan"))
        observed, expected = float(y.sum()), float(p.sum())
        oe = observed / expected if expected > 0 else float("nan")
        se = math.sqrt((1 - observed / n) / observed) if 0 < observed < n else float("nan")
        oe_low, oe_high = oe * math.exp(-1.96 * se), oe * math.exp(1.96 * se)
        out |= {"observed": observed, "expected": expected, "oe_ratio": oe}
        out |= {"oe_ci_low": oe_low, "oe_ci_high": oe_high}
        scale = "calibration intercept"
        head = f"{observed:.0f} {unit} observed where {expected:.1f} were expected"
        details = [f"O/E {oe:.2f}, 95% CI {oe_low:.2f} to {oe_high:.2f}"]
    else:
        observed, expected = float(y.mean()), float(p.mean())
        est = observed - expected
        half = 1.96 * float(np.std(y - p, ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
        low, high = est - half, est + half
        out |= {"observed": observed, "expected": expected, "difference": est}
        out |= {"difference_ci_low": low, "difference_ci_high": high}
        scale = "difference"
        head = f"mean observed {observed:+.1f} against {expected:+.1f} predicted"
        details = []
    if not (np.isfinite(low) and np.isfinite(high)):
        verdict = "no_interval"
        details.append(f"{scale} {est:.2f}, no interval")
    else:
        verdict = "too_high" if high < 0 else "too_low" if low > 0 else "consistent"
        details.append(f"{scale} {est:.2f}, 95% CI {low:.2f} to {high:.2f}")
    shown = f"{head} ({'; '.join(details)})"
    out["verdict"] = verdict
    out["sentence"] = {
        "too_high": f"The model predicts too high here: {shown}. The {scale}'s interval lies "
        "below 0: recalibrate (below) before relying on its values at this site.",
        "too_low": f"The model predicts too low here: {shown}. The {scale}'s interval lies "
        "above 0: recalibrate (below) before relying on its values at this site.",
        "consistent": f"No sign of predicting too high or too low overall: {shown}; the "
        "interval includes 0.",
        "no_interval": f"Calibration in the large: {shown}; with no interval there is no verdict.",
    }[verdict]
    return out
