"""Informative drop-out: cross-fitted censoring weights remove the bias a complete case has."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sma_response.evaluate.dropout import (
    FoldWeights,
    censoring_weights,
    estimand_bias,
    fold_weights,
    weighted_evaluation,
)
from sma_response.evaluate.metrics import auroc
from sma_response.features.design import EligibleEvents
from sma_response.models.fit import fit_cv


def _censored_sample(n: int, seed: int):
    """Response rises with x; so does the chance of being lost: complete cases respond less."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    ids = [f"p{i:04d}#1" for i in range(n)]
    truth = pd.Series(1 / (1 + np.exp(-1.5 * x)), index=ids)
    y = (rng.random(n) < truth.to_numpy()).astype(float)
    labelled = rng.random(n) < 1 / (1 + np.exp(-(0.5 - 1.5 * x)))
    X = pd.DataFrame({"x": x, "noise": rng.normal(size=n)}, index=ids)
    target = pd.Series(np.where(labelled, y, np.nan), index=ids)
    return X, target, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weights_shrink_the_complete_case_bias(seed):
    X, target, truth = _censored_sample(3000, seed)
    patients = pd.Series(X.index.str.split("#").str[0], index=X.index)
    weights = censoring_weights(X, target.notna(), patients, seed=seed)
    bias = estimand_bias(target, weights, truth)
    assert bias.complete_case - bias.truth < -0.05  # the selection is real
    assert abs(bias.corrected - bias.truth) < 0.3 * abs(bias.complete_case - bias.truth)
    metrics = bias.metrics()
    assert metrics["estimand/n_labelled"] == target.notna().sum()
    assert metrics["estimand/bias_corrected"] == pytest.approx(bias.corrected - bias.truth)


def test_weights_are_cross_fitted_and_only_for_labelled_events():
    X, target, _ = _censored_sample(400, 3)
    patients = pd.Series(X.index, index=X.index)
    w = censoring_weights(X, target.notna(), patients, seed=0)
    assert w[target.isna()].isna().all()
    assert (w[target.notna()] >= 1.0).all()
    assert w.max() <= 20.0  # the chance of being labelled is clipped at 0.05
    # Same seed, same weights (deterministic folds and solver).
    pd.testing.assert_series_equal(w, censoring_weights(X, target.notna(), patients, seed=0))


def test_nothing_censored_means_unit_weights_and_no_bias_without_truth():
    X = pd.DataFrame({"x": np.arange(10.0)}, index=[f"p{i}#1" for i in range(10)])
    target = pd.Series([1.0, 0.0] * 5, index=X.index)
    w = censoring_weights(X, target.notna(), pd.Series(X.index, index=X.index), seed=0)
    assert (w == 1.0).all()
    bias = estimand_bias(target, w)
    assert bias.complete_case == bias.corrected == 0.5
    assert "estimand/bias_complete_case" not in bias.metrics()  # no truth, no bias figure


def _eligible_sample(n: int, seed: int):
    """An EligibleEvents of the censored sample, with grouped folds of its labelled events."""
    X, target, truth = _censored_sample(n, seed)
    ids = X.index.to_list()
    cohort = pd.DataFrame({"index_id": ids, "patient_id": [i.split("#")[0] for i in ids]}).assign(
        linked_id=lambda d: d["patient_id"]
    )
    labels = pd.DataFrame({"index_id": ids, "target": target.to_numpy()})
    kept = target.dropna().index
    splits = pd.DataFrame({"index_id": kept, "repeat": 0, "fold": np.arange(len(kept)) % 4})
    return EligibleEvents(cohort=cohort, labels=labels, X=X), splits, truth


def test_fold_weights_of_held_out_events_come_from_a_model_that_never_saw_them():
    eligible, splits, _ = _eligible_sample(600, 4)
    w = fold_weights(eligible, splits)
    labelled = eligible.labelled
    fold0 = splits.loc[splits["fold"] == 0, "index_id"]
    # The censoring model of fold 0, by hand: every eligible event except fold 0's persons.
    outside = ~eligible.X.index.isin(fold0)
    by_hand = LogisticRegression(max_iter=2000).fit(
        StandardScaler().fit(eligible.X[outside]).transform(eligible.X[outside]),
        labelled[outside],
    )
    scaler = StandardScaler().fit(eligible.X[outside])
    chance = by_hand.predict_proba(scaler.transform(eligible.X.loc[fold0]))[:, 1]
    got = w.test.loc[w.test["fold"] == 0].set_index("index_id")["weight"].loc[fold0]
    np.testing.assert_allclose(got, 1 / np.clip(chance, 0.05, 1), rtol=1e-4)
    for (_, fold), train_w in w.train.items():  # each training part's weights, mean 1
        assert set(train_w.index) == set(splits.loc[splits["fold"] != fold, "index_id"])
        assert train_w.mean() == pytest.approx(1.0)
    assert w.final.mean() == pytest.approx(1.0)
    assert len(w.final) == labelled.sum()
    assert set(w.fold_of.index) == set(splits["index_id"])  # censored-only persons: no fold


def test_weighted_evaluation_moves_the_held_out_figures_towards_all_eligible():
    eligible, splits, truth = _eligible_sample(3000, 5)
    w = fold_weights(eligible, splits)
    y = eligible.labels.set_index("index_id")["target"]
    cv = fit_cv(
        eligible.X, y.dropna(), splits, estimator=LogisticRegression(), preprocess_kind="linear",
        task="classification", keep_models=True, sample_weight=w.train,
    )  # fmt: skip
    m = weighted_evaluation(
        cv, w, eligible, truth, task="classification", seed=0, n_boot=20, weighted_fits=True
    )
    assert m["ipcw/weighted_fits"] == 1.0
    assert m["ipcw/n"] == len(splits)
    # The selection is real: the labelled events' mean truth is far from all eligible's ...
    gap_cc = m["ipcw/truth_complete_case_mean_truth"] - m["ipcw/truth_eligible_mean_truth"]
    gap_w = m["ipcw/truth_weighted_mean_truth"] - m["ipcw/truth_eligible_mean_truth"]
    assert gap_cc < -0.05
    assert abs(gap_w) < 0.3 * abs(gap_cc)  # ... and the weights close most of the gap
    assert m["ipcw/truth_eligible_mean_truth"] == pytest.approx(truth.mean())
    assert m["ipcw/n_truth_eligible"] == len(truth)
    # Unit weights give back the unweighted held-out AUROC.
    ones = FoldWeights(
        train=w.train, test=w.test.assign(weight=1.0), final=w.final, fold_of=w.fold_of
    )
    plain = weighted_evaluation(
        cv, ones, eligible, None, task="classification", seed=0, n_boot=0, weighted_fits=True
    )
    assert plain["ipcw/auroc"] == pytest.approx(
        auroc(cv.predictions["y_true"], cv.predictions["y_pred"])
    )
    assert "ipcw/truth_eligible_auroc" not in plain  # no truth, no truth figures
