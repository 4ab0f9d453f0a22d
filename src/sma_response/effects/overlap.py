"""Propensity of each therapy, common support and overlap diagnostics.

The propensity model (gradient-boosted, multi-class) is cross-fitted in patient-grouped folds,
so a patient's propensity never comes from a model that saw that patient. A contrast is
estimable for a patient only where both of its therapies had a propensity of at least
``min_propensity``: outside that, no comparable patient received one of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.model_selection import GroupKFold
from xgboost import XGBClassifier

from sma_response.effects.spec import ARMS

__all__ = ["cross_fitted_propensity", "in_support", "overlap_figure", "overlap_table"]


def propensity_model(*, trees: int, seed: int) -> XGBClassifier:
    """Return the gradient-boosted model of the therapy a patient received."""
    return XGBClassifier(
        n_estimators=trees, max_depth=2, learning_rate=0.05, subsample=0.8,
        n_jobs=2, random_state=seed,
    )  # fmt: skip


def cross_fitted_propensity(
    Z: np.ndarray, therapy: np.ndarray, groups: np.ndarray, *, n_splits: int, trees: int, seed: int
) -> np.ndarray:
    """Return the held-out probability of each therapy of :data:`ARMS` (rows of ``Z``).

    ``therapy`` holds codes into :data:`ARMS`; folds are grouped by ``groups`` (patients).
    """
    out = np.zeros((len(Z), len(ARMS)))
    for train, test in GroupKFold(n_splits=n_splits).split(Z, therapy, groups):
        model = propensity_model(trees=trees, seed=seed)
        present = np.unique(therapy[train])
        codes = np.searchsorted(present, therapy[train])
        model.fit(Z[train], codes)
        out[np.ix_(test, present)] = model.predict_proba(Z[test])
    return out


def in_support(propensity: np.ndarray, arm: int, reference: int, threshold: float) -> np.ndarray:
    """Return where both therapies of a contrast had a propensity of at least ``threshold``.

    Examples
    --------
    >>> in_support(np.array([[0.9, 0.08, 0.02], [0.5, 0.3, 0.2]]), 2, 0, 0.05).tolist()
    [False, True]
    """
    return (propensity[:, arm] >= threshold) & (propensity[:, reference] >= threshold)


def overlap_table(propensity: np.ndarray, therapy: np.ndarray, threshold: float) -> pd.DataFrame:
    """Return per therapy: starts, effective sample size of its IPW weights, share in support.

    The effective sample size is ``(sum w)^2 / sum w^2`` with ``w = 1 / e`` over the patients
    who received the therapy: far below the starts, a few patients carry the weighted arm.
    """
    rows = []
    for code, arm in enumerate(ARMS):
        got = therapy == code
        weights = 1.0 / np.clip(propensity[got, code], 1e-6, None)
        ess = float(weights.sum() ** 2 / (weights**2).sum()) if got.any() else 0.0
        rows.append(
            {
                "therapy": arm,
                "n_starts": int(got.sum()),
                "effective_n": round(ess, 1),
                "share_in_support": float(np.mean(propensity[:, code] >= threshold)),
                "median_propensity": float(np.median(propensity[:, code])),
            }
        )
    return pd.DataFrame(rows)


def overlap_figure(propensity: np.ndarray, therapy: np.ndarray, threshold: float) -> Figure:
    """Histogram of each therapy's propensity, by the therapy actually received."""
    fig = Figure(figsize=(9.0, 3.2))
    axes = fig.subplots(1, len(ARMS), sharey=False)
    bins = np.linspace(0.0, 1.0, 21)
    for code, (ax, arm) in enumerate(zip(axes, ARMS, strict=True)):
        for got, label in ((therapy == code, f"received {arm}"), (therapy != code, "other")):
            if got.any():
                ax.hist(propensity[got, code], bins=bins, alpha=0.55, label=label, density=True)
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1)
        ax.set_title(f"P({arm})", fontsize=9)
        ax.set_xlabel("propensity", fontsize=8)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("density")
    fig.suptitle(f"Overlap: dashed line = support threshold {threshold:g}", fontsize=9)
    fig.tight_layout()
    return fig
