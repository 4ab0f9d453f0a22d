"""Importance summaries and SHAP figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sma_response.explain.plots import (
    plot_beeswarm,
    plot_dependence,
    plot_group_importance,
    plot_importance_bar,
)
from sma_response.explain.summarise import global_importance, group_importance, top_contributions


def _long(rng):
    ids = [f"{i:016x}#1" for i in range(30)]
    X = pd.DataFrame(
        {"age": rng.uniform(0, 100, 30), "sex": pd.Categorical(rng.choice(["F", "M"], 30))},
        index=pd.Index(ids, name="index_id"),
    )
    shap = pd.DataFrame({"age": -X["age"] / 50, "sex": rng.normal(0, 0.1, 30)}, index=X.index)
    long = shap.stack().rename("shap").reset_index().rename(columns={"level_1": "feature"})
    return X, long.assign(value="1", base_value=0.0)


def test_global_and_group_importance(rng):
    X, long = _long(rng)
    imp = global_importance(long)
    assert imp["feature"].tolist() == ["age", "sex"]
    groups = pd.Series(np.where(np.arange(30) < 15, "DE", "IT"), index=X.index, name="region")
    table = group_importance(long, groups)
    assert list(table.columns) == ["DE", "IT", "overall"]
    np.testing.assert_allclose(
        table.loc["age", "overall"], imp.set_index("feature").loc["age", "mean_abs_shap"]
    )


def test_top_contributions_split_up_and_down(rng):
    X, long = _long(rng)
    top = top_contributions(long, index_id=X.index[0], k=1)
    assert set(top["direction"]) <= {"up", "down"}
    assert (top.loc[top["direction"] == "down", "shap"] < 0).all()


def test_figures_draw_without_a_display(rng):
    X, long = _long(rng)
    groups = pd.Series(np.where(np.arange(30) < 15, "DE", "IT"), index=X.index, name="region")
    for fig in (
        plot_importance_bar(long),
        plot_beeswarm(long, X),
        plot_group_importance(long, groups),
        plot_dependence(long, X, feature="age"),
        plot_dependence(long, X, feature="sex"),
    ):
        assert fig.axes
