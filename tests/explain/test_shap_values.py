"""SHAP values: both methods agree, add up to the model output, and match a golden file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier
from xgboost import XGBClassifier, XGBRegressor

from sma_response.explain.shap_values import (
    AdditivityError,
    contributions,
    explain,
    raw_margin,
    resolve_method,
    shap_matrix,
)
from sma_response.explain.spec import ExplainSpec
from sma_response.models.fit import fit_final
from sma_response.schemas import ShapValues

BASELINE = Path(__file__).parents[1] / "_fixtures" / "shap_baseline.npz"


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age_at_index_months": rng.uniform(0, 200, n),
            "baseline_hfmse": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 66, n)),
            "therapy": pd.Categorical(
                rng.choice(["nusinersen", "risdiplam", "onasemnogene"], n),
                categories=["nusinersen", "risdiplam", "onasemnogene"],
            ),
        },
        index=pd.Index([f"{i:016x}#1" for i in range(n)], name="index_id"),
    )
    logit = 2.0 - X["age_at_index_months"] / 50 + (X["therapy"] == "onasemnogene") * 0.8
    y = pd.Series((rng.random(n) < expit(logit)).astype(int), index=X.index)
    return X, y


def _model(X, y, estimator=None):
    est = estimator or XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1)
    return fit_final(X, y, estimator=est, preprocess_kind="tree")


def test_xgboost_native_and_tree_explainer_agree():
    X, y = _data()
    model = _model(X, y)
    a = explain(model, X, spec=ExplainSpec(method="xgboost_native"))
    b = explain(model, X, spec=ExplainSpec(method="tree_explainer"))
    np.testing.assert_allclose(a["shap"], b["shap"], atol=1e-5)
    np.testing.assert_allclose(a["base_value"], b["base_value"], atol=1e-5)


@pytest.mark.parametrize(
    "estimator",
    [
        XGBClassifier(n_estimators=15, max_depth=3, random_state=0, n_jobs=1),
        HistGradientBoostingClassifier(max_iter=15, random_state=0),
    ],
    ids=["xgboost", "hist_gb"],
)
def test_shap_values_add_up_to_the_raw_output_for_every_patient(estimator):
    X, y = _data()
    model = _model(X, y, estimator)
    out = ShapValues.validate(explain(model, X, spec=ExplainSpec()), lazy=True)
    total = out.groupby("index_id", sort=False).agg(s=("shap", "sum"), b=("base_value", "first"))
    margin = raw_margin(model, model[:-1].transform(X))
    np.testing.assert_allclose(total["s"] + total["b"], margin, atol=1e-4)
    np.testing.assert_allclose(expit(margin), model.predict_proba(X)[:, 1], atol=1e-5)


def test_one_hot_levels_and_missing_values_are_one_concept():
    X, y = _data()
    out = explain(_model(X, y), X, spec=ExplainSpec())
    assert out["feature"].unique().tolist() == list(X.columns)
    assert len(out) == len(X) * X.shape[1]
    first = out.loc[out["index_id"] == X.index[0]].set_index("feature")["value"]
    assert first["therapy"] == str(X["therapy"].iloc[0])
    missing = X.index[X["baseline_hfmse"].isna()][0]
    assert (
        out.loc[(out["index_id"] == missing) & (out["feature"] == "baseline_hfmse"), "value"]
        .isna()
        .all()
    )


def test_regression_values_add_up():
    X, y = _data()
    model = fit_final(
        X,
        y.astype(float) * 3,
        estimator=XGBRegressor(n_estimators=10, n_jobs=1),
        preprocess_kind="tree",
    )
    wide, base = contributions(model, X, spec=ExplainSpec())
    np.testing.assert_allclose(wide.sum(axis=1) + base, model.predict(X), atol=1e-4)


def test_additivity_failure_is_an_error():
    X, y = _data()
    with pytest.raises(AdditivityError, match="do not add up"):
        explain(_model(X, y), X, spec=ExplainSpec(additivity_tolerance=-1.0))


def test_unsupported_settings_are_clear_errors():
    X, y = _data()
    model = _model(X, y)
    with pytest.raises(ValueError, match="feature_perturbation"):
        explain(model, X, spec=ExplainSpec(feature_perturbation="interventional"))
    with pytest.raises(ValueError, match="xgboost_native' needs an xgboost model"):
        resolve_method(HistGradientBoostingClassifier(), method="xgboost_native")
    with pytest.raises(ValueError, match="unknown method"):
        resolve_method(XGBClassifier(), method="kernel")


def test_shap_values_match_the_golden_file():
    """Golden file (shap's *_baseline.npz pattern); regenerate with SMA_UPDATE_GOLDEN=1."""
    X, y = _data(n=40, seed=1)
    wide = shap_matrix(explain(_model(X, y), X, spec=ExplainSpec()))
    if os.environ.get("SMA_UPDATE_GOLDEN"):
        np.savez_compressed(
            BASELINE,
            shap=wide.to_numpy(dtype=np.float32),
            features=np.array(wide.columns, dtype=str),
        )
    golden = np.load(BASELINE, allow_pickle=False)
    assert golden["features"].tolist() == wide.columns.tolist()
    np.testing.assert_allclose(wide.to_numpy(), golden["shap"], rtol=1e-4, atol=1e-5)
