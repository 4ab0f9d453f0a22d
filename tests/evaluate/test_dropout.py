"""Informative drop-out: cross-fitted censoring weights remove the bias a complete case has."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.evaluate.dropout import censoring_weights, estimand_bias


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
