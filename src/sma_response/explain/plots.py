"""SHAP figures for the run: global bar, beeswarm, per-region importance, dependence.

Built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no display). They show
SHAP values and feature values only, never an identifier.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sma_response.explain.shap_values import shap_matrix
from sma_response.explain.summarise import global_importance, group_importance
from sma_response.features.labels import feature_label, feature_unit

__all__ = [
    "explanation_figures",
    "plot_beeswarm",
    "plot_dependence",
    "plot_group_importance",
    "plot_importance_bar",
]

_OUTPUT = "SHAP value (log-odds of a meaningful gain)"


def _xlabel(task: str) -> str:
    return _OUTPUT if task == "classification" else "SHAP value (points of predicted change)"


def plot_importance_bar(
    shap_values: pd.DataFrame, *, n_top: int = 12, task: str = "classification"
) -> Figure:
    """Horizontal bars of the mean absolute SHAP value of the top features.

    Examples
    --------
    >>> long = pd.DataFrame({"index_id": ["a", "b"], "feature": ["x", "x"], "value": None,
    ...                      "shap": [0.5, -0.3], "base_value": 0.0})
    >>> plot_importance_bar(long).axes[0].get_yticklabels()[0].get_text()
    'x'
    """
    imp = global_importance(shap_values).head(n_top).iloc[::-1]
    fig = Figure(figsize=(6.4, 0.35 * len(imp) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([feature_label(f) for f in imp["feature"]], imp["mean_abs_shap"], color="C0")
    ax.set(xlabel=f"mean |{_xlabel(task)}|", title="Global feature importance")
    return fig


def _colour_values(values: pd.Series) -> np.ndarray:
    """Feature values scaled to [0, 1] by rank (NaN for missing or categorical)."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() < 2:
        return np.full(len(values), np.nan)
    return numeric.rank(pct=True).to_numpy(dtype=float)


def plot_beeswarm(
    shap_values: pd.DataFrame,
    X: pd.DataFrame,
    *,
    n_top: int = 12,
    task: str = "classification",
    seed: int = 0,
) -> Figure:
    """Beeswarm: one dot per patient and feature, coloured by the feature's value (rank).

    Parameters
    ----------
    shap_values
        Long SHAP table.
    X
        Feature frame indexed by ``index_id`` (colours; categorical features are grey).
    n_top
        Features shown, most important on top.
    task
        ``classification`` or ``regression`` (axis wording).
    seed
        Seed of the vertical jitter.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rng = np.random.default_rng(seed)
    wide = shap_matrix(shap_values)
    features = global_importance(shap_values)["feature"].head(n_top).tolist()[::-1]
    fig = Figure(figsize=(7.2, 0.42 * len(features) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    scatter = None
    for row, feature in enumerate(features):
        values = wide[feature].to_numpy(dtype=float)
        colour = _colour_values(X[feature].reindex(wide.index)) if feature in X else None
        jitter = rng.uniform(-0.3, 0.3, size=len(values))
        if colour is None or np.isnan(colour).all():
            ax.scatter(values, row + jitter, s=6, color="0.6", linewidths=0)
            continue
        missing = np.isnan(colour)
        ax.scatter(values[missing], row + jitter[missing], s=6, color="0.75", linewidths=0)
        scatter = ax.scatter(
            values[~missing],
            row + jitter[~missing],
            s=6,
            c=colour[~missing],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
            linewidths=0,
        )
    ax.axvline(0, color="0.4", linewidth=0.8)
    ax.set_yticks(range(len(features)), [feature_label(f) for f in features])
    ax.set(xlabel=_xlabel(task), title="SHAP values per patient")
    if scatter is not None:
        bar = fig.colorbar(scatter, ax=ax, shrink=0.6, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value (grey: missing or category)")
    return fig


def plot_group_importance(
    shap_values: pd.DataFrame,
    groups: pd.Series,
    *,
    n_top: int = 10,
    title: str = "Feature importance by region",
    task: str = "classification",
) -> Figure:
    """Mean absolute SHAP value of the top features, one bar per group, side by side."""
    table = group_importance(shap_values, groups).head(n_top).iloc[::-1]
    levels = [c for c in table.columns if c != "overall"]
    fig = Figure(figsize=(7.2, 0.55 * len(table) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    height = 0.8 / max(len(levels), 1)
    y = np.arange(len(table))
    for i, level in enumerate(levels):
        ax.barh(y + (i - (len(levels) - 1) / 2) * height, table[level], height=height, label=level)
    ax.set_yticks(y, [feature_label(f) for f in table.index])
    ax.set(xlabel=f"mean |{_xlabel(task)}|", title=title)
    ax.legend(title=groups.name or "group", fontsize="small")
    return fig


def plot_dependence(
    shap_values: pd.DataFrame, X: pd.DataFrame, *, feature: str, task: str = "classification"
) -> Figure:
    """SHAP value of one feature against its value (categories as columns of dots)."""
    wide = shap_matrix(shap_values)
    y = wide[feature].to_numpy(dtype=float)
    raw = X[feature].reindex(wide.index)
    fig = Figure(figsize=(5.2, 3.8), layout="constrained")
    ax = fig.add_subplot()
    unit = feature_unit(feature)
    if isinstance(raw.dtype, pd.CategoricalDtype):
        levels = [str(c) for c in raw.cat.categories]
        codes = raw.cat.codes.to_numpy()
        jitter = np.random.default_rng(0).uniform(-0.2, 0.2, size=len(y))
        shown = codes >= 0
        ax.scatter(codes[shown] + jitter[shown], y[shown], s=8, alpha=0.6, linewidths=0)
        ax.set_xticks(range(len(levels)), levels, rotation=30, ha="right")
        xlabel = feature_label(feature)
    else:
        x = raw.to_numpy(dtype=float)
        ax.scatter(x, y, s=8, alpha=0.6, linewidths=0)
        n_missing = int(np.isnan(x).sum())
        xlabel = feature_label(feature) + (f" ({unit})" if unit else "")
        if n_missing:
            xlabel += f"; {n_missing} missing not shown"
    ax.axhline(0, color="0.4", linewidth=0.8)
    ax.set(xlabel=xlabel, ylabel=_xlabel(task), title=f"Dependence: {feature_label(feature)}")
    return fig


def explanation_figures(
    shap_values: pd.DataFrame,
    features: pd.DataFrame,
    regions: pd.Series,
    *,
    importance: pd.DataFrame,
    n_top: int,
    n_dependence: int,
    task: str,
) -> dict[str, Figure]:
    """Every SHAP figure of a run, keyed by its artifact path (``explain/plots/...``).

    Bar, beeswarm and per-region importance, and a dependence plot of each of the
    ``n_dependence`` most important features (``importance`` order).
    """
    figures = {
        "explain/plots/importance_bar.png": plot_importance_bar(
            shap_values, n_top=n_top, task=task
        ),
        "explain/plots/beeswarm.png": plot_beeswarm(shap_values, features, n_top=n_top, task=task),
        "explain/plots/importance_by_region.png": plot_group_importance(
            shap_values, regions.rename("region"), n_top=n_top, task=task
        ),
    }
    for feature in importance["feature"].head(n_dependence):
        figures[f"explain/plots/dependence_{feature}.png"] = plot_dependence(
            shap_values, features, feature=str(feature), task=task
        )
    return figures
