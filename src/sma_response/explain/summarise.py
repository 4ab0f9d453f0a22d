"""Summaries of SHAP values: global and per-group importance, each patient's top factors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sma_response.explain.shap_values import shap_matrix

__all__ = ["global_importance", "group_importance", "top_contributions"]


def global_importance(shap_values: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute SHAP value per feature, largest first, with its rank (1 = most important).

    Examples
    --------
    >>> long = pd.DataFrame({"index_id": ["a", "a", "b", "b"], "feature": ["x", "y"] * 2,
    ...                      "value": None, "shap": [0.5, -0.1, -0.3, 0.0], "base_value": 0.0})
    >>> global_importance(long).to_dict("list")
    {'feature': ['x', 'y'], 'mean_abs_shap': [0.4, 0.05], 'rank': [1, 2]}
    """
    imp = (
        shap_values.assign(abs_shap=shap_values["shap"].abs())
        .groupby("feature", sort=False)["abs_shap"]
        .mean()
        .sort_values(ascending=False, kind="stable")
    )
    return pd.DataFrame(
        {
            "feature": imp.index.astype(str),
            "mean_abs_shap": imp.to_numpy(dtype=float),
            "rank": np.arange(1, len(imp) + 1),
        }
    )


def group_importance(shap_values: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Mean absolute SHAP value per feature within each group (e.g. region), side by side.

    Parameters
    ----------
    shap_values
        Long SHAP table (``index_id, feature, shap, ...``).
    groups
        Group label per ``index_id`` (indexed by ``index_id``).

    Returns
    -------
    pandas.DataFrame
        Indexed by feature (ordered by overall importance), one column per group, plus
        ``overall``; the row ``n`` is not included (see :func:`global_importance`).

    Examples
    --------
    >>> long = pd.DataFrame({"index_id": ["a", "a", "b", "b"], "feature": ["x", "y"] * 2,
    ...                      "value": None, "shap": [0.5, -0.1, -0.3, 0.0], "base_value": 0.0})
    >>> group_importance(long, pd.Series({"a": "DE", "b": "IT"})).round(2).to_dict("index")
    {'x': {'DE': 0.5, 'IT': 0.3, 'overall': 0.4}, 'y': {'DE': 0.1, 'IT': 0.0, 'overall': 0.05}}
    """
    wide = shap_matrix(shap_values).abs()
    label = groups.reindex(wide.index).astype(str)
    table = wide.groupby(label.to_numpy(), sort=True).mean().T
    table["overall"] = wide.mean(axis=0)
    table = table.sort_values("overall", ascending=False, kind="stable")
    table.index.name = "feature"
    table.columns.name = None
    return table


def top_contributions(shap_values: pd.DataFrame, *, index_id: str, k: int = 5) -> pd.DataFrame:
    """Return the ``k`` largest positive and negative contributions of one index event.

    Returns
    -------
    pandas.DataFrame
        ``feature, value, shap, direction`` (``up``/``down``), ordered by ``|shap|``, largest
        first; zero contributions are left out.

    Examples
    --------
    >>> long = pd.DataFrame({"index_id": ["a"] * 3, "feature": ["x", "y", "z"], "value": None,
    ...                      "shap": [0.5, -0.1, 0.0], "base_value": 0.0})
    >>> top_contributions(long, index_id="a", k=1)[["feature", "direction"]].values.tolist()
    [['x', 'up'], ['y', 'down']]
    """
    rows = shap_values.loc[shap_values["index_id"] == index_id, ["feature", "value", "shap"]]
    up = rows.loc[rows["shap"] > 0].nlargest(k, "shap").assign(direction="up")
    down = rows.loc[rows["shap"] < 0].nsmallest(k, "shap").assign(direction="down")
    out = pd.concat([up, down], ignore_index=True)
    order = np.argsort(-out["shap"].abs().to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True)
