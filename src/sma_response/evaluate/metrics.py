"""Discrimination, calibration and clinical usefulness, with bootstrap confidence intervals.

Every function is pure and returns ``dict[str, float]`` with flat keys (``auroc``,
``auroc_ci_low``, ``auroc_ci_high``, ...); the pipeline adds namespaces such as ``cv/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata

from sma_response.evaluate.uncertainty import MetricFn, bootstrap_ci

__all__ = [
    "CLASSIFICATION_CI_METRICS",
    "NET_BENEFIT_THRESHOLDS",
    "REGRESSION_CI_METRICS",
    "auroc",
    "average_precision",
    "calibration_intercept_slope",
    "classification_metrics",
    "compute_metrics",
    "model_vs_oracle",
    "net_benefit",
    "oracle_metrics",
    "regression_metrics",
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


def auroc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN with one class.

    Examples
    --------
    >>> auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y_true, dtype=float)
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(y_pred, dtype=float))
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's definition).

    Examples
    --------
    >>> average_precision(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.8333333333333333
    """
    y = np.asarray(y_true, dtype=float)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-np.asarray(y_pred, dtype=float), kind="mergesort")
    p_sorted = np.asarray(y_pred, dtype=float)[order]
    last = np.r_[np.diff(p_sorted) != 0, True]  # last row of each distinct threshold
    tps = np.cumsum(y[order])[last]
    n_flagged = (np.arange(len(y)) + 1)[last]
    precision = tps / n_flagged
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _fit_intercept(y: np.ndarray, offset: np.ndarray) -> float:
    """Newton-Raphson for ``a`` in ``logit P(y=1) = a + offset``; NaN if it does not exist."""
    a = 0.0
    for _ in range(_NEWTON_MAX_ITER):
        mu = expit(a + offset)
        hessian = float(np.dot(mu, 1 - mu))
        if hessian <= 0:
            return float("nan")
        step = float(np.sum(y - mu)) / hessian
        a += step
        if not np.isfinite(a) or abs(a) > _MAX_COEF:
            return float("nan")
        if abs(step) < _NEWTON_TOL:
            return a
    return float("nan")


def _fit_line(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Newton-Raphson for ``(a, b)`` in ``logit P(y=1) = a + b x`` (closed-form 2x2 steps)."""
    a, b = 0.0, 1.0  # start at perfect calibration: few steps when nearly calibrated
    for _ in range(_NEWTON_MAX_ITER):
        mu = expit(a + b * x)
        w = mu * (1 - mu)
        r = y - mu
        g0, g1 = float(r.sum()), float(np.dot(r, x))
        wx = w * x
        h00, h01, h11 = float(w.sum()), float(wx.sum()), float(np.dot(wx, x))
        det = h00 * h11 - h01 * h01
        if not det > 0:
            return float("nan"), float("nan")
        da = (h11 * g0 - h01 * g1) / det
        db = (h00 * g1 - h01 * g0) / det
        a, b = a + da, b + db
        if not (np.isfinite(a) and np.isfinite(b)) or max(abs(a), abs(b)) > _MAX_COEF:
            return float("nan"), float("nan")
        if max(abs(da), abs(db)) < _NEWTON_TOL:
            return a, b
    return float("nan"), float("nan")


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
    if y.sum() == 0 or y.sum() == len(y):
        return float("nan"), float("nan")
    lp = _logit(y_pred)
    return _fit_intercept(y, lp), _fit_line(y, lp)[1]


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
    intercept, slope = calibration_intercept_slope(y, p)
    out = {
        "auroc": auroc(y, p),
        "auprc": average_precision(y, p),
        "brier": float(np.mean((p - y) ** 2)) if len(y) else float("nan"),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
    }
    n = max(len(y), 1)
    prevalence = float(y.sum()) / n
    for t in NET_BENEFIT_THRESHOLDS:
        flagged = p >= t
        tp = float(np.dot(flagged, y))
        odds = t / (1 - t)
        out[_nb_key(t)] = tp / n - (float(flagged.sum()) - tp) / n * odds if len(y) else np.nan
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

    Returns
    -------
    dict
        ``n`` and, for classification, ``n_events, prevalence`` and the keys of
        :func:`classification_metrics`; for regression the keys of :func:`regression_metrics`.
        Each metric in :data:`CLASSIFICATION_CI_METRICS` / :data:`REGRESSION_CI_METRICS` also has
        ``<metric>_ci_low`` and ``<metric>_ci_high``. Classification resamples events and
        non-events separately (stratified), so every resample has both classes.

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
        strata: np.ndarray | None = y

        def with_interval(yt: np.ndarray, yp: np.ndarray) -> dict[str, float]:
            m = classification_metrics(yt, yp)
            return {k: m[k] for k in ci_names}

        metric_fn: MetricFn = with_interval

        head = {"n": float(len(y)), "n_events": float(y.sum()), "prevalence": _mean(y)}
    elif task == "regression":
        point = regression_metrics(y, p)
        ci_names = REGRESSION_CI_METRICS
        strata = None
        metric_fn = regression_metrics
        head = {"n": float(len(y))}
    else:
        msg = f"task: unknown task {task!r}; expected 'classification' or 'regression'"
        raise ValueError(msg)
    cis = bootstrap_ci(metric_fn, y, p, rng=rng, n_boot=n_boot, alpha=alpha, strata=strata)
    out = {**head, **point}
    for name in ci_names:
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = cis[name]
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
    return compute_metrics(y_true, oracle_pred, task=task, rng=rng, n_boot=n_boot)


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
