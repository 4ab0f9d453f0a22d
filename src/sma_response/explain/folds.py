"""SHAP values of every out-of-fold prediction, checked against the logged predictions.

Each fold model explains only its own held-out rows, so the explanations of a run's held-out
predictions are those of the model that made them (never of a model that saw the patient).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.pipeline import Pipeline

from sma_response.explain.shap_values import AdditivityError, explain
from sma_response.explain.spec import ExplainSpec
from sma_response.schemas import ShapValues

__all__ = ["PREDICTION_TOLERANCE", "check_against_predictions", "explain_folds", "held_out_rows"]

#: Largest gap allowed between SHAP-implied and logged out-of-fold predictions.
PREDICTION_TOLERANCE = 1e-4


def held_out_rows(splits: pd.DataFrame, repeat: int, fold: int) -> pd.Index:
    """Index ids held out in fold ``fold`` of repeat ``repeat``.

    Examples
    --------
    >>> s = pd.DataFrame({"index_id": ["a", "b", "c"], "repeat": 0, "fold": [0, 1, 0]})
    >>> held_out_rows(s, 0, 0).tolist()
    ['a', 'c']
    """
    rows = splits.loc[(splits["repeat"] == repeat) & (splits["fold"] == fold), "index_id"]
    return pd.Index(rows.astype(str))


def explain_folds(
    models: Mapping[tuple[int, int], Pipeline],
    features: pd.DataFrame,
    splits: pd.DataFrame,
    *,
    spec: ExplainSpec,
) -> pd.DataFrame:
    """Long SHAP values of every fold model on its held-out rows (``repeat``, ``fold`` added).

    Parameters
    ----------
    models
        Fitted fold models keyed by ``(repeat, fold)``.
    features
        The run's feature frame, indexed by ``index_id``.
    splits
        ``index_id, repeat, fold`` of the run.
    spec
        SHAP settings (``method`` already resolved).

    Returns
    -------
    pandas.DataFrame
        Validated against :class:`~sma_response.schemas.ShapValues` (lazily: every violation).
    """
    parts = [
        explain(model, features.loc[held_out_rows(splits, repeat, fold)], spec=spec).assign(
            repeat=repeat, fold=fold
        )
        for (repeat, fold), model in sorted(models.items())
    ]
    return ShapValues.validate(pd.concat(parts, ignore_index=True), lazy=True)


def check_against_predictions(
    shap_oof: pd.DataFrame, predictions: pd.DataFrame, *, task: str
) -> float:
    """Check that each fold's SHAP values reproduce that fold's logged prediction.

    Returns the largest gap; raises :class:`AdditivityError` above :data:`PREDICTION_TOLERANCE`.

    Examples
    --------
    >>> shap = pd.DataFrame({"repeat": 0, "index_id": ["a", "a"], "shap": [0.5, -0.25],
    ...                      "base_value": 1.0})
    >>> preds = pd.DataFrame({"repeat": [0], "index_id": ["a"], "y_pred": [1.25]})
    >>> check_against_predictions(shap, preds, task="regression")
    0.0
    """
    margin = shap_oof.groupby(["repeat", "index_id"], sort=False).agg(
        shap=("shap", "sum"), base=("base_value", "first")
    )
    implied = margin["shap"] + margin["base"]
    implied = expit(implied) if task == "classification" else implied
    logged = predictions.set_index(["repeat", "index_id"])["y_pred"].reindex(implied.index)
    gap = float(np.nanmax(np.abs(implied.to_numpy() - logged.to_numpy()))) if len(implied) else 0.0
    if not np.isfinite(gap) or gap > PREDICTION_TOLERANCE:
        msg = f"out-of-fold SHAP values do not reproduce the logged predictions (gap {gap:.3g})"
        raise AdditivityError(msg)
    return gap
