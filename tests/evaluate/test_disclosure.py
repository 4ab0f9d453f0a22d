"""Small-cell suppression and coarsened curves never show a cell below the minimum."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sma_response.evaluate.disclosure import (
    calibration_bins,
    decision_curve,
    roc_points,
    suppress_small_cells,
)
from sma_response.evaluate.recalibration import fit_recalibration


def _steps(y, p, pts):
    """Events and non-events moved between consecutive ROC points."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    tp = np.round(pts["tpr"].to_numpy() * n_pos).astype(int)
    fp = np.round(pts["fpr"].to_numpy() * n_neg).astype(int)
    return np.diff(tp), np.diff(fp)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(30, 400), min_cell=st.integers(3, 15))
def test_every_roc_step_moves_zero_or_at_least_min_cell(seed, n, min_cell):
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(size=n), 2)  # ties, as real predictions have
    y = (rng.random(n) < p).astype(float)
    pts = roc_points(y, p, min_cell=min_cell)
    if y.sum() < min_cell or len(y) - y.sum() < min_cell:
        assert pts.empty
        return
    assert pts.iloc[0].tolist() == [0.0, 0.0]
    assert pts.iloc[-1].tolist() == [1.0, 1.0]
    for steps in _steps(y, p, pts):
        assert ((steps == 0) | (steps >= min_cell)).all(), steps


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(30, 400), min_cell=st.integers(3, 15))
def test_calibration_bins_hold_enough_events_and_non_events(seed, n, min_cell):
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=n)
    y = (rng.random(n) < p).astype(float)
    bins = calibration_bins(y, p, min_cell=min_cell)
    if len(bins):
        assert bins["n"].sum() == n
        assert (bins["n_events"] >= min_cell).all()
        assert ((bins["n"] - bins["n_events"]) >= min_cell).all()


def test_decision_curve_hides_thresholds_that_single_out_a_few_patients():
    y = np.array([1] * 40 + [0] * 40, dtype=float)
    p = np.r_[np.full(37, 0.6), np.full(3, 0.95), np.full(40, 0.3)]
    dc = decision_curve(y, p, thresholds=[0.5, 0.9], min_cell=10).set_index("threshold")
    assert np.isfinite(dc.loc[0.5, "net_benefit"])
    assert np.isnan(dc.loc[0.9, "net_benefit"])  # would show the 3 patients above 0.9


def test_complementary_suppression_and_too_small_totals():
    t = pd.DataFrame(
        {
            "variable": ["overall", "type", "type", "type", "region", "region"],
            "level": ["all", "1", "2", "3", "DE", "IT"],
            "n": [100, 60, 36, 4, 50, 50],
            "n_events": [50, 30, 18, 2, 25, 25],
        }
    )
    out = suppress_small_cells(t, min_cell=10, events_col="n_events")
    assert out["suppressed"].tolist() == [False, False, True, True, False, False]
    # type 2 (36 patients) is hidden only to protect type 3: it must not read "< 10"
    assert out["suppression"].tolist() == ["", "", "complementary", "primary", "", ""]
    tiny = suppress_small_cells(
        t.assign(n_events=[5, 3, 2, 0, 2, 3]), min_cell=10, events_col="n_events"
    )
    assert tiny["suppressed"].all()
    assert tiny["suppression"].tolist() == ["primary"] * 6


@pytest.mark.parametrize(
    ("task", "method"), [("classification", "logistic"), ("regression", "linear")]
)
def test_recalibration_fixes_a_shifted_and_stretched_model(task, method):
    rng = np.random.default_rng(1)
    x = rng.normal(size=4000)
    if task == "classification":
        y = (rng.random(4000) < 1 / (1 + np.exp(-(0.5 + 0.5 * x)))).astype(float)
        p = 1 / (1 + np.exp(-x))
    else:
        y = 2.0 + 0.5 * x + rng.normal(scale=0.1, size=4000)
        p = x
    fit = fit_recalibration(y, p, task=task, method=method)
    assert fit.intercept == pytest.approx(0.5 if task == "classification" else 2.0, abs=0.15)
    assert fit.slope == pytest.approx(0.5, abs=0.1)
    with pytest.raises(ValueError, match="not one of"):
        fit_recalibration(y, p, task=task, method="isotonic")
