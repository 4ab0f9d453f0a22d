from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.metrics import average_precision_score, roc_auc_score

from sma_response.evaluate import compute_metrics, model_vs_oracle, oracle_metrics
from sma_response.evaluate.metrics import (
    CLASSIFICATION_CI_METRICS,
    REGRESSION_CI_METRICS,
    auroc,
    average_precision,
    calibration_intercept_slope,
    classification_metrics,
    net_benefit,
    regression_metrics,
    weighted_metrics,
)


def _calibrated(n, seed=0):
    rng = np.random.default_rng(seed)
    p = expit(rng.normal(-0.3, 1.2, n))
    return (rng.random(n) < p).astype(float), p


def test_perfect_predictions():
    y = np.array([0, 1] * 30, dtype=float)
    m = compute_metrics(y, y.copy(), task="classification", rng=np.random.default_rng(0), n_boot=50)
    assert (m["auroc"], m["auprc"], m["brier"]) == (1.0, 1.0, 0.0)
    assert (m["auroc_ci_low"], m["auroc_ci_high"]) == (1.0, 1.0)
    # Perfect separation: no finite recalibration slope exists.
    assert np.isnan(m["calibration_slope"])
    assert (m["n"], m["n_events"], m["prevalence"]) == (60, 30, 0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_and_average_precision_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.3).astype(float)
    p = np.round(rng.random(300) * 0.5 + 0.4 * y, 2)  # ties on purpose
    assert auroc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert average_precision(y, p) == pytest.approx(average_precision_score(y, p))


def test_calibration_of_well_calibrated_probabilities():
    y, p = _calibrated(20000)
    intercept, slope = calibration_intercept_slope(y, p)
    assert intercept == pytest.approx(0.0, abs=0.05)
    assert slope == pytest.approx(1.0, abs=0.05)


def test_calibration_detects_overconfidence_and_underestimation():
    y, p = _calibrated(20000)
    _, slope = calibration_intercept_slope(y, expit(2 * logit(p)))
    assert slope == pytest.approx(0.5, abs=0.05)
    intercept, _ = calibration_intercept_slope(y, expit(logit(p) - 1.0))
    assert intercept == pytest.approx(1.0, abs=0.07)


def test_net_benefit_known_answer():
    y = np.array([1, 1, 0, 0, 0], dtype=float)
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.2])
    # threshold 0.5: TP 1, FP 1 -> 1/5 - 1/5 * 1
    assert net_benefit(y, p, 0.5) == pytest.approx(0.0)
    # threshold 0.3: TP 2, FP 1 -> 2/5 - 1/5 * 3/7
    assert net_benefit(y, p, 0.3) == pytest.approx(0.4 - 0.2 * 3 / 7)
    m = compute_metrics(y, p, task="classification", rng=np.random.default_rng(0), n_boot=0)
    assert m["net_benefit_treat_all_0.2"] == pytest.approx(0.4 - 0.6 * 0.25)


def test_intervals_contain_the_estimate_and_are_reproducible():
    y, p = _calibrated(400, seed=3)
    a = compute_metrics(y, p, task="classification", rng=np.random.default_rng(5), n_boot=100)
    b = compute_metrics(y, p, task="classification", rng=np.random.default_rng(5), n_boot=100)
    c = compute_metrics(y, p, task="classification", rng=np.random.default_rng(6), n_boot=100)
    assert a == b
    assert a["auroc_ci_low"] != c["auroc_ci_low"]
    for name in CLASSIFICATION_CI_METRICS:
        assert a[f"{name}_ci_low"] <= a[name] <= a[f"{name}_ci_high"], name
    assert 0.02 < a["auroc_ci_high"] - a["auroc_ci_low"] < 0.2


def test_degenerate_inputs_do_not_crash():
    y = np.zeros(30)
    m = compute_metrics(
        y, np.linspace(0, 1, 30), task="classification", rng=np.random.default_rng(0)
    )
    assert np.isnan(m["auroc"])
    assert np.isnan(m["auroc_ci_low"])
    assert m["brier"] == pytest.approx(np.mean(np.linspace(0, 1, 30) ** 2))
    m = compute_metrics(y, y + 0.5, task="regression", rng=np.random.default_rng(0), n_boot=10)
    assert np.isnan(m["r2"])
    assert np.isnan(m["calibration_slope"])
    m = compute_metrics(
        np.array([0.0, 1.0]),
        np.array([0.2, 0.7]),
        task="classification",
        rng=np.random.default_rng(0),
        n_boot=0,
    )
    assert np.isnan(m["auroc_ci_low"])


def test_regression_known_answers():
    rng = np.random.default_rng(0)
    pred = rng.normal(0, 3, 5000)
    y = pred + rng.normal(0, 1, 5000)
    m = compute_metrics(y, pred, task="regression", rng=np.random.default_rng(0), n_boot=50)
    assert m["calibration_slope"] == pytest.approx(1.0, abs=0.03)
    assert m["calibration_intercept"] == pytest.approx(0.0, abs=0.05)
    assert m["rmse"] == pytest.approx(1.0, abs=0.05)
    assert m["mae"] == pytest.approx(np.sqrt(2 / np.pi), abs=0.05)
    assert m["r2"] == pytest.approx(0.9, abs=0.02)
    spread = compute_metrics(y, 2 * pred, task="regression", rng=np.random.default_rng(0), n_boot=0)
    assert spread["calibration_slope"] == pytest.approx(0.5, abs=0.02)
    for name in REGRESSION_CI_METRICS:
        assert m[f"{name}_ci_low"] <= m[name] <= m[f"{name}_ci_high"], name


def test_oracle_beats_a_noisy_model():
    y, truth = _calibrated(3000, seed=4)
    noisy = expit(logit(truth) + np.random.default_rng(9).normal(0, 1.5, len(truth)))
    oracle = oracle_metrics(y, truth, task="classification", rng=np.random.default_rng(0), n_boot=0)
    model = compute_metrics(y, noisy, task="classification", rng=np.random.default_rng(0), n_boot=0)
    assert oracle["auroc"] > model["auroc"]
    gap = model_vs_oracle(model, oracle)
    assert gap["auroc_ratio"] == pytest.approx(model["auroc"] / oracle["auroc"])
    assert gap["auroc_gap"] < 0 < gap["brier_gap"]
    assert set(gap) >= {"auprc_ratio", "calibration_slope_ratio", "net_benefit_0.2_gap"}


@pytest.mark.parametrize(
    ("y", "p", "task", "match"),
    [
        ([0, 1], [0.5], "classification", "shape"),
        ([0, 1], [0.5, np.nan], "classification", "finite"),
        ([0, 2], [0.5, 0.5], "classification", "0/1"),
        ([0, 1], [0.5, 0.5], "survival", "task"),
    ],
)
def test_bad_inputs_raise(y, p, task, match):
    with pytest.raises(ValueError, match=match):
        compute_metrics(
            np.array(y, float), np.array(p, float), task=task, rng=np.random.default_rng(0)
        )


def test_paired_comparison_of_two_models():
    from sma_response.evaluate.metrics import compare_models

    y, p = _calibrated(2000, seed=4)
    noisy = expit(logit(p) + np.random.default_rng(9).normal(0, 1.5, len(p)))
    same = compare_models(y, p, p, task="classification", rng=np.random.default_rng(0), n_boot=50)
    assert (same["auroc_diff"], same["auroc_diff_ci_low"], same["auroc_diff_ci_high"]) == (0, 0, 0)
    out = compare_models(
        y, p, noisy, task="classification", rng=np.random.default_rng(0), n_boot=100
    )
    assert out["auroc_diff"] == pytest.approx(auroc(y, p) - auroc(y, noisy))
    assert 0 < out["auroc_diff_ci_low"] < out["auroc_diff"] < out["auroc_diff_ci_high"]
    assert out["brier_diff_ci_high"] < 0  # the better model has the lower Brier score
    reg = compare_models(
        y * 3.0, p * 3.0, noisy * 3.0, task="regression", rng=np.random.default_rng(0), n_boot=50
    )
    assert reg["rmse_diff_ci_high"] < 0


def test_every_nan_figure_comes_with_its_reason():
    from sma_response.evaluate.metrics import not_estimable

    y = np.array([0.0, 0.0, 1.0, 1.0] * 10)
    p = np.where(y == 1, 1.0, 0.0)  # perfect separation at 0 and 1
    m = compute_metrics(y, p, task="classification", rng=np.random.default_rng(0), n_boot=0)
    reasons = not_estimable(m, y, p, task="classification")
    nan_keys = {k for k, v in m.items() if isinstance(v, float) and np.isnan(v)}
    assert nan_keys == set(reasons)  # none silent
    assert "separate" in reasons["calibration_slope"]
    assert "n_boot=0" in reasons["auroc_ci_low"]
    one = compute_metrics(np.ones(5), np.full(5, 0.7), task="classification",
                          rng=np.random.default_rng(0), n_boot=0)  # fmt: skip
    assert not_estimable(one, np.ones(5), np.full(5, 0.7), task="classification")["auroc"] == (
        "one outcome class only (5 events among 5)"
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_weighted_metrics_with_unit_weights_are_the_plain_metrics(task):
    rng = np.random.default_rng(3)
    p = rng.random(300)
    y = (
        (rng.random(300) < p).astype(float)
        if task == "classification"
        else p + rng.normal(size=300)
    )
    plain = classification_metrics(y, p) if task == "classification" else regression_metrics(y, p)
    weighted = weighted_metrics(y, p, np.ones(300), task=task, rng=rng, n_boot=0)
    for name, value in weighted.items():
        if name in plain:
            assert value == pytest.approx(plain[name], rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_an_integer_weight_counts_as_that_many_copies_of_the_row(task):
    rng = np.random.default_rng(4)
    p = rng.random(200)
    y = (
        (rng.random(200) < p).astype(float)
        if task == "classification"
        else p + rng.normal(size=200)
    )
    w = rng.integers(1, 4, size=200).astype(float)
    copies = np.repeat(np.arange(200), w.astype(int))
    weighted = weighted_metrics(y, p, w, task=task, rng=rng, n_boot=0)
    fn = classification_metrics if task == "classification" else regression_metrics
    for name, value in fn(y[copies], p[copies]).items():
        if name in weighted:
            assert weighted[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert weighted["n_effective"] < len(y)  # unequal weights: fewer rows' worth of information


def test_weighted_metrics_refuse_a_negative_or_missing_weight():
    y, p = np.array([0.0, 1.0]), np.array([0.2, 0.7])
    for bad in (np.array([1.0, -1.0]), np.array([1.0, np.nan]), np.ones(3)):
        with pytest.raises(ValueError, match="sample_weight"):
            weighted_metrics(y, p, bad, task="classification", rng=np.random.default_rng(0))
