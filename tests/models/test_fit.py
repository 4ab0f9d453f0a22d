from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier, XGBRegressor

from sma_response.evaluate.metrics import auroc
from sma_response.models import ValidationSpec, assign_splits, fit_cv, fit_final, predict
from sma_response.schemas import Predictions


def _xgb(**kw):
    return XGBClassifier(
        n_estimators=40,
        max_depth=3,
        learning_rate=0.1,
        subsample=0.8,
        n_jobs=1,
        random_state=0,
        **kw,
    )


@pytest.fixture(scope="module")
def splits(modelling):
    cohort, targets, _, _ = modelling
    return assign_splits(cohort, targets, spec=ValidationSpec(n_splits=5), seed=0)


@pytest.mark.parametrize(
    ("estimator", "kind"),
    [
        (_xgb(), "tree"),
        (LogisticRegression(max_iter=2000), "linear"),
        (HistGradientBoostingClassifier(max_iter=30, random_state=0), "tree"),
    ],
    ids=["xgboost", "logistic", "hist_gb"],
)
def test_out_of_fold_predictions(modelling, splits, estimator, kind):
    _, targets, X, y = modelling
    result = fit_cv(X, y, splits, estimator=estimator, preprocess_kind=kind, task="classification")
    pred = Predictions.validate(result.predictions)
    assert list(pred.columns) == ["index_id", "repeat", "fold", "y_true", "y_pred"]
    assert sorted(pred["index_id"]) == sorted(targets["index_id"])
    assert pred["y_pred"].between(0, 1).all()
    expected_fold = splits.set_index("index_id")["fold"]
    assert (pred["fold"].to_numpy() == expected_fold.loc[pred["index_id"]].to_numpy()).all()
    assert (pred["y_true"].to_numpy() == y.loc[pred["index_id"]].to_numpy()).all()
    assert auroc(pred["y_true"], pred["y_pred"]) > 0.6
    assert result.models == {}
    assert result.fit_seconds > 0


def test_preprocessing_is_fitted_on_training_folds_only(modelling, splits):
    _, _, X, y = modelling
    result = fit_cv(
        X,
        y,
        splits,
        estimator=LogisticRegression(max_iter=2000),
        preprocess_kind="linear",
        task="classification",
        keep_models=True,
    )
    assert set(result.models) == {(0, k) for k in range(5)}
    numeric = X.select_dtypes("number").columns
    full_median = X[numeric].median()
    differs = False
    for (_, fold), model in result.models.items():
        assert isinstance(model, Pipeline)
        train_ids = splits.loc[splits["fold"] != fold, "index_id"]
        train = X.loc[train_ids, numeric]
        steps = model.named_steps["preprocess"].named_transformers_["numeric"].named_steps
        np.testing.assert_allclose(steps["impute"].statistics_, train.median().fillna(0.0))
        imputed = train.fillna(train.median())
        np.testing.assert_allclose(steps["scale"].mean_[: len(numeric)], imputed.mean())
        differs |= not np.allclose(steps["impute"].statistics_, full_median.fillna(0.0))
    assert differs


@pytest.mark.parametrize(
    "make",
    [_xgb, lambda: HistGradientBoostingClassifier(max_iter=30, random_state=3)],
    ids=["xgboost", "hist_gb"],
)
def test_same_seed_same_predictions(modelling, splits, make):
    _, _, X, y = modelling
    runs = [
        fit_cv(X, y, splits, estimator=make(), preprocess_kind="tree", task="classification")
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(runs[0].predictions, runs[1].predictions, check_exact=True)


def test_regression(modelling, splits):
    _, _, X, y = modelling
    rng = np.random.default_rng(0)
    y_cont = pd.Series(rng.normal(size=len(y)), index=y.index)
    for estimator, kind in [
        (XGBRegressor(n_estimators=20, n_jobs=1, random_state=0), "tree"),
        (HistGradientBoostingRegressor(max_iter=20, random_state=0), "tree"),
        (LinearRegression(), "linear"),
    ]:
        pred = fit_cv(
            X, y_cont, splits, estimator=estimator, preprocess_kind=kind, task="regression"
        )
        assert pred.predictions["y_pred"].notna().all()
        assert not pred.predictions["y_pred"].between(0, 1).all()


def test_holdout_predicts_the_test_part_only(modelling):
    cohort, targets, X, y = modelling
    splits = assign_splits(cohort, targets, spec=ValidationSpec(kind="holdout"), seed=0)
    pred = fit_cv(
        X,
        y,
        splits,
        estimator=LogisticRegression(max_iter=2000),
        preprocess_kind="linear",
        task="classification",
    ).predictions
    assert set(pred["index_id"]) == set(splits.loc[splits["fold"] == 0, "index_id"])


def test_final_fit_and_predict(modelling):
    _, _, X, y = modelling
    model = fit_final(X.loc[y.index], y, estimator=_xgb(), preprocess_kind="tree")
    p = predict(model, X.loc[y.index], task="classification")
    assert p.shape == (len(y),)
    assert auroc(y.to_numpy(), p) > 0.8  # in-sample
    names = model.named_steps["preprocess"].get_feature_names_out()
    assert "sma_type__2" in names


def test_inputs_are_not_modified(modelling, splits):
    _, _, X, y = modelling
    X0, y0, s0 = X.copy(), y.copy(), splits.copy()
    fit_cv(X, y, splits, estimator=_xgb(), preprocess_kind="tree", task="classification")
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
    pd.testing.assert_frame_equal(splits, s0)


def test_task_must_match_the_estimator(modelling, splits):
    _, _, X, y = modelling
    with pytest.raises(ValueError, match="task"):
        fit_cv(
            X,
            y,
            splits,
            estimator=LinearRegression(),
            preprocess_kind="tree",
            task="classification",
        )
    with pytest.raises(ValueError, match="task"):
        fit_cv(X, y, splits, estimator=_xgb(), preprocess_kind="tree", task="survival")
    with pytest.raises(ValueError, match="no target"):
        fit_cv(
            X, y.iloc[:10], splits, estimator=_xgb(), preprocess_kind="tree", task="classification"
        )


def test_fold_weights_reach_the_estimator_and_a_zero_weight_drops_the_row():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60)}, index=[f"p{i}#1" for i in range(60)])
    y = pd.Series(3 * X["x"] + rng.normal(size=60), index=X.index)
    splits = pd.DataFrame({"index_id": X.index, "repeat": 0, "fold": np.arange(60) % 3})
    kw = {"estimator": LinearRegression(), "preprocess_kind": "tree", "task": "regression"}
    plain = fit_cv(X, y, splits, **kw)
    train = {
        (0, f): pd.Series(1.0, index=splits.loc[splits["fold"] != f, "index_id"]) for f in range(3)
    }
    unit = fit_cv(X, y, splits, sample_weight=train, **kw)
    pd.testing.assert_frame_equal(plain.predictions, unit.predictions)
    # Weight 0 on the first ten rows: each fold's fit is the fit without them.
    dropped = {k: w.where(~w.index.isin(X.index[:10]), 0.0) for k, w in train.items()}
    zero = fit_cv(X, y, splits, sample_weight=dropped, **kw)
    assert len(zero.predictions) == 60  # a zero-weight row is still predicted when held out
    kept = splits.loc[~splits["index_id"].isin(X.index[:10])]
    without = fit_cv(X, y, kept, **kw)
    both = zero.predictions.merge(without.predictions, on=["index_id", "fold"], suffixes=("", "_"))
    np.testing.assert_allclose(both["y_pred"], both["y_pred_"], rtol=1e-9)
    weights = pd.Series(np.r_[np.zeros(10), np.ones(50)], index=X.index)
    final = fit_final(
        X, y, estimator=LinearRegression(), preprocess_kind="tree", sample_weight=weights
    )
    alone = fit_final(
        X.iloc[10:], y.iloc[10:], estimator=LinearRegression(), preprocess_kind="tree"
    )
    np.testing.assert_allclose(final.predict(X), alone.predict(X), rtol=1e-9)
    with pytest.raises(ValueError, match="training rows have no weight"):
        fit_cv(X, y, splits, sample_weight={k: w.iloc[1:] for k, w in train.items()}, **kw)
