"""Riley's minimum sample size criteria against the published worked examples (pmsampsize)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sma_response.evaluate.samplesize import (
    binary_sample_size,
    candidate_parameters,
    continuous_sample_size,
    cox_snell_r2,
    run_sample_size,
)


@pytest.mark.parametrize(
    ("r2", "p", "prevalence", "expected"),
    [
        (0.288, 24, 0.174, (623, 668, 221)),  # Riley et al., BMJ 2020, worked example
        (0.55, 24, 0.174, (255, 532, 221)),
        (0.288, 36, 0.174, (934, 1002, 221)),
        (0.288, 24, 0.25, (623, 583, 289)),
    ],
)
def test_binary_criteria_match_the_published_calculations(r2, p, prevalence, expected):
    assert binary_sample_size(r2, p, prevalence).criteria == expected


@pytest.mark.parametrize(
    ("r2", "p", "expected"),
    [
        (0.2, 25, (918, 401, 259)),  # Riley et al., Stat Med 2019 (part I)
        (0.3, 25, (574, 351, 259)),
        (0.2, 50, (1924, 801, 284)),
        (0.5, 100, (1264, 1001, 334)),
    ],
)
def test_continuous_criteria_match_the_published_calculations(r2, p, expected):
    assert continuous_sample_size(r2, p).criteria == expected


def test_expected_shrinkage_at_the_required_size_is_the_target():
    size = binary_sample_size(0.288, 24, 0.174)
    at_n1 = binary_sample_size(0.288, 24, 0.174, n_available=size.criteria[0])
    assert at_n1.shrinkage_available == pytest.approx(0.9, abs=1e-3)
    smaller = binary_sample_size(0.288, 24, 0.174, n_available=300)
    assert smaller.shrinkage_available < 0.9
    assert not smaller.metrics()["samplesize/met"]


def test_cox_snell_r2_is_the_likelihood_ratio_form(rng):
    y = rng.integers(0, 2, 500).astype(float)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.1, 500), 0.01, 0.99)
    ll = np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    ll0 = np.sum(y * np.log(y.mean()) + (1 - y) * np.log(1 - y.mean()))
    assert cox_snell_r2(y, p) == pytest.approx(1 - math.exp(-2 * (ll - ll0) / 500))
    assert cox_snell_r2(y, np.full(500, y.mean())) == pytest.approx(0.0, abs=1e-12)


def test_parameters_count_one_per_number_and_levels_minus_one_per_category():
    X = pd.DataFrame(
        {
            "age": [1.0, 2.0, 3.0, 4.0],
            "flag": [True, False, True, False],
            "therapy": pd.Categorical(["a", "b", "c", "a"]),
        }
    )
    assert candidate_parameters(X) == 1 + 1 + 2


def test_a_model_that_explains_nothing_is_not_estimable():
    X = pd.DataFrame({"age": np.arange(10.0)})
    y = np.array([0, 1] * 5, dtype=float)
    reason = run_sample_size(X, y, np.full(10, 0.5), task="classification")
    assert isinstance(reason, str)
    assert "not positive" in reason
