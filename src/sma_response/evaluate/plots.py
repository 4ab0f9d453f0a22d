"""Evaluation figures: ROC, calibration, decision curve, per-region forest, predicted vs observed.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot state, no display
needed) and show aggregates only: no patient identifier ever reaches a plot. The same inputs give
the same figure; save with ``metadata={"Date": None}`` (PNG/PDF) or ``{"Date": None}`` for SVG to
get byte-identical files.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import norm

from sma_response.evaluate.metrics import auroc, net_benefit

__all__ = [
    "performance_figures",
    "plot_calibration",
    "plot_decision_curve",
    "plot_forest",
    "plot_learning_curve",
    "plot_predicted_vs_observed",
    "plot_roc",
]

log = logging.getLogger(__name__)

_SIZE = (4.8, 4.2)


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-p, kind="mergesort")
    y_sorted, p_sorted = y[order], p[order]
    last = np.r_[np.diff(p_sorted) != 0, True]
    tps = np.cumsum(y_sorted)[last]
    fps = np.cumsum(1 - y_sorted)[last]
    tpr = np.r_[0.0, tps / max(tps[-1], 1)]
    fpr = np.r_[0.0, fps / max(fps[-1], 1)]
    return fpr, tpr


def plot_roc(y_true: np.ndarray, y_pred: np.ndarray, *, title: str = "ROC curve") -> Figure:
    """ROC curve with the AUROC in the legend.

    Examples
    --------
    >>> fig = plot_roc(np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.4, 0.6]))
    >>> fig.axes[0].get_xlabel()
    'False positive rate (1 - specificity)'
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    fpr, tpr = _roc_points(y, p)
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1, label="chance")
    ax.step(fpr, tpr, where="post", color="C0", label=f"model (AUROC {auroc(y, p):.3f})")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="False positive rate (1 - specificity)",
        ylabel="True positive rate (sensitivity)",
        title=title,
    )
    ax.set_aspect("equal")
    ax.legend(loc="lower right", frameon=False)
    return fig


def _wilson(
    events: np.ndarray, n: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion."""
    z = norm.ppf(1 - alpha / 2)
    phat = events / n
    centre = (phat + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(phat * (1 - phat) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def plot_calibration(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    n_bins: int = 10,
    title: str = "Calibration",
) -> Figure:
    """Binned calibration curve (quantile bins) with 95 % Wilson intervals and a histogram.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=200)
    >>> fig = plot_calibration(rng.random(200) < p, p, n_bins=5)
    >>> len(fig.axes)
    2
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    n = np.bincount(which, minlength=len(edges) - 1).astype(float)
    events = np.bincount(which, weights=y, minlength=len(edges) - 1)
    mean_p = np.bincount(which, weights=p, minlength=len(edges) - 1)
    keep = n > 0
    n, events, mean_p = n[keep], events[keep], mean_p[keep] / n[keep]
    observed = events / n
    lo, hi = _wilson(events, n)
    # An all-event (or no-event) bin puts a Wilson bound on the proportion up to rounding
    # (1 - 1e-16): never a negative error bar.
    yerr = [np.clip(observed - lo, 0.0, None), np.clip(hi - observed, 0.0, None)]
    fig = Figure(figsize=(_SIZE[0], _SIZE[1] + 1.0), layout="constrained")
    ax, ax_hist = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1, label="ideal")
    ax.errorbar(
        mean_p,
        observed,
        yerr=yerr,
        fmt="o-",
        color="C0",
        capsize=2,
        label="observed (95% CI)",
    )
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="Observed proportion", title=title)
    ax.legend(loc="upper left", frameon=False)
    ax_hist.hist(p, bins=np.linspace(0, 1, 41), color="C0", alpha=0.6)
    ax_hist.set(xlabel="Predicted probability", ylabel="Count")
    return fig


def plot_decision_curve(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    thresholds: np.ndarray | None = None,
    title: str = "Decision curve",
) -> Figure:
    """Net benefit of the model against treat-all and treat-none over threshold probabilities.

    Examples
    --------
    >>> fig = plot_decision_curve(np.array([0, 1, 1, 0]), np.array([0.2, 0.7, 0.9, 0.4]))
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['treat none', 'treat all', 'model']
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    t = np.linspace(0.01, 0.8, 80) if thresholds is None else np.asarray(thresholds, dtype=float)
    model = np.array([net_benefit(y, p, th) for th in t])
    treat_all = np.array([net_benefit(y, np.ones_like(y), th) for th in t])
    prevalence = float(np.mean(y)) if len(y) else 0.0
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(t, np.zeros_like(t), color="black", linewidth=1, label="treat none")
    ax.plot(t, treat_all, color="grey", linestyle="--", linewidth=1, label="treat all")
    ax.plot(t, model, color="C0", label="model")
    ax.set(
        xlim=(float(t.min()), float(t.max())),
        ylim=(-0.05, max(prevalence, float(np.nanmax(model, initial=0.0))) * 1.1 + 0.01),
        xlabel="Threshold probability",
        ylabel="Net benefit",
        title=title,
    )
    ax.legend(loc="upper right", frameon=False)
    return fig


def plot_forest(
    subgroups: pd.DataFrame,
    *,
    metric: str = "auroc",
    variable: str | None = "region",
    title: str | None = None,
) -> Figure:
    """Forest plot of a metric with its interval per subgroup (e.g. AUROC per region).

    Parameters
    ----------
    subgroups
        From :func:`~sma_response.evaluate.subgroups.subgroup_metrics`.
    metric
        Metric with ``<metric>_ci_low``/``_ci_high`` columns.
    variable
        Grouping variable to show (``None``: all); the overall row is always drawn, as a line.
    title
        Figure title (default: the metric and variable).

    Returns
    -------
    matplotlib.figure.Figure
        Groups flagged ``small`` are drawn with hollow markers.

    Examples
    --------
    >>> sg = pd.DataFrame({"variable": ["overall", "region", "region"],
    ...                    "level": ["all", "DE", "IT"], "n": [60, 30, 30], "small": False,
    ...                    "auroc": [0.8, 0.75, 0.85], "auroc_ci_low": [0.7, 0.6, 0.7],
    ...                    "auroc_ci_high": [0.9, 0.9, 0.95]})
    >>> [t.get_text() for t in plot_forest(sg).axes[0].get_yticklabels()]
    ['IT (n=30)', 'DE (n=30)']
    """
    overall = subgroups.loc[subgroups["variable"] == "overall"]
    rows = subgroups.loc[subgroups["variable"] != "overall"]
    if variable is not None:
        rows = rows.loc[rows["variable"] == variable]
    rows = rows.iloc[::-1]  # first group at the top
    labels = [
        f"{level} (n={n})" if variable is not None else f"{var}: {level} (n={n})"
        for var, level, n in zip(rows["variable"], rows["level"], rows["n"], strict=True)
    ]
    est = rows[metric].to_numpy(dtype=float)
    lo = rows[f"{metric}_ci_low"].to_numpy(dtype=float)
    hi = rows[f"{metric}_ci_high"].to_numpy(dtype=float)
    small = rows["small"].to_numpy(dtype=bool)
    pos = np.arange(len(rows))
    fig = Figure(figsize=(_SIZE[0] + 0.8, 1.2 + 0.35 * max(len(rows), 1)), layout="constrained")
    ax = fig.add_subplot()
    ax.hlines(pos, lo, hi, color="C0", linewidth=1.5)
    ax.scatter(est[~small], pos[~small], color="C0", zorder=3, label="estimate (95% CI)")
    if small.any():
        ax.scatter(
            est[small],
            pos[small],
            facecolors="white",
            edgecolors="C0",
            zorder=3,
            label="small group",
        )
    if len(overall):
        ax.axvline(
            float(overall[metric].iloc[0]), color="grey", linestyle="--", linewidth=1,
            label="all patients",
        )  # fmt: skip
    if metric == "auroc":
        ax.axvline(0.5, color="black", linestyle=":", linewidth=1, label="chance (0.5)")
    ax.set_yticks(pos, labels)
    ax.set(xlabel=metric.replace("_", " ").upper() if metric == "auroc" else metric)
    ax.set_title(title or f"{metric} by {variable or 'subgroup'}")
    # below the axes, where a legend marker cannot be read as one more group's estimate
    fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    return fig


def plot_predicted_vs_observed(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    unit: str = "points",
    title: str = "Predicted vs observed",
) -> Figure:
    """Scatter of observed against predicted values with the identity and least-squares lines.

    Examples
    --------
    >>> fig = plot_predicted_vs_observed(np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0]))
    >>> fig.axes[0].get_xlabel()
    'Predicted (points)'
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    lo = float(min(y.min(), p.min())) if len(y) else 0.0
    hi = float(max(y.max(), p.max())) if len(y) else 1.0
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(p, y, s=8, alpha=0.5, color="C0", linewidths=0)
    ax.plot([lo, hi], [lo, hi], linestyle=":", color="grey", linewidth=1, label="identity")
    if len(y) > 1 and np.ptp(p) > 0:
        slope, intercept = np.polyfit(p, y, 1)
        ax.plot(
            [lo, hi],
            [intercept + slope * lo, intercept + slope * hi],
            color="C1",
            linewidth=1.2,
            label=f"fit (slope {slope:.2f})",
        )
    ax.set(xlabel=f"Predicted ({unit})", ylabel=f"Observed ({unit})", title=title)
    ax.legend(loc="upper left", frameon=False)
    return fig


def plot_learning_curve(
    runs: pd.DataFrame, *, metric: str = "auroc", n_required: float | None = None
) -> Figure:
    """Learning curve: a metric against the number of index events a model was developed on.

    Parameters
    ----------
    runs
        One row per run: ``n`` (index events developed on) and, for ``prefix`` in ``cv`` and
        ``confirm``, ``<prefix>/<metric>`` with ``_ci_low``/``_ci_high`` where known.
    metric
        The metric to draw (``auroc``, ``calibration_slope``, ``rmse`` ...).
    n_required
        Riley's minimum sample size, drawn as a vertical line (``None``: not drawn).

    Examples
    --------
    >>> runs = pd.DataFrame({"n": [200, 400], "cv/auroc": [0.8, 0.85],
    ...                      "cv/auroc_ci_low": [0.7, 0.8], "cv/auroc_ci_high": [0.9, 0.9],
    ...                      "confirm/auroc": [0.78, 0.84]})
    >>> [t.get_text() for t in plot_learning_curve(runs).axes[0].get_legend().get_texts()]
    ['cross-validated (developed on n)', 'reserved persons (final model)']
    """
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    runs = runs.sort_values("n")
    labels = {
        "cv": "cross-validated (developed on n)",
        "confirm": "reserved persons (final model)",
    }
    for shift, (prefix, label) in zip((-0.01, 0.01), labels.items(), strict=True):
        column = f"{prefix}/{metric}"
        if column not in runs or runs[column].isna().all():
            continue
        x = runs["n"].to_numpy(dtype=float) * (1 + shift)
        y = runs[column].to_numpy(dtype=float)
        low = runs.get(f"{column}_ci_low", pd.Series(np.nan, index=runs.index)).to_numpy(float)
        high = runs.get(f"{column}_ci_high", pd.Series(np.nan, index=runs.index)).to_numpy(float)
        err = np.vstack([y - low, high - y])
        ax.errorbar(x, y, yerr=np.where(np.isfinite(err), err, 0.0), marker="o", capsize=3,
                    label=label)  # fmt: skip
    if n_required is not None and np.isfinite(n_required):
        ax.axvline(n_required, color="grey", linestyle="--", linewidth=1)
        ax.annotate(
            f"Riley's minimum ({n_required:.0f})", (n_required, 1.0),
            xycoords=("data", "axes fraction"), xytext=(-4, -12), textcoords="offset points",
            color="grey", fontsize=8, ha="right",
        )  # fmt: skip
        ax.set_xlim(right=max(float(runs["n"].max()), n_required) * 1.05)
    if metric == "calibration_slope":
        ax.axhline(1.0, color="grey", linewidth=0.8)  # no over- or underfitting
    label = {"auroc": "AUROC", "rmse": "RMSE"}.get(metric, metric.replace("_", " "))
    ax.set_xlabel("index events the model was developed on")
    ax.set_ylabel(label)
    ax.set_title(f"Learning curve: {label} (95 % bootstrap intervals)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def performance_figures(
    y_true: np.ndarray, y_pred: np.ndarray, subgroups: pd.DataFrame, *, task: str
) -> dict[str, Figure]:
    """Every performance figure of a run, keyed by its artifact path (``plots/...``)."""
    if task == "classification":
        return {
            "plots/roc.png": plot_roc(y_true, y_pred),
            "plots/calibration.png": plot_calibration(y_true, y_pred),
            "plots/decision_curve.png": plot_decision_curve(y_true, y_pred),
            "plots/forest_region.png": plot_forest(subgroups, metric="auroc", variable="region"),
        }
    return {
        "plots/predicted_vs_observed.png": plot_predicted_vs_observed(y_true, y_pred),
        "plots/forest_region.png": plot_forest(subgroups, metric="rmse", variable="region"),
    }
