"""Split-conformal intervals of the predicted change: coverage, clipping, pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.evaluate.conformal import (
    POOLED,
    ConformalQuantiles,
    conformal_interval,
    coverage_metrics,
    coverage_table,
    cross_conformal,
    fit_conformal,
    gain_probability,
    predicted_quintiles,
)


def test_cross_conformal_coverage_is_near_nominal(rng):
    n = 2000
    held = pd.DataFrame(
        {
            "index_id": [f"e{i}" for i in range(n)],
            "fold": np.arange(n) % 5,
            "y_pred": rng.normal(0, 3, n),
            "scale": rng.choice(["hfmse", "chop_intend"], n),
        }
    )
    held["y_true"] = held["y_pred"] + rng.standard_t(4, n) * 2
    out = cross_conformal(held, level=0.8)
    assert 0.77 < out["covered"].mean() < 0.83
    table = coverage_table(out, held.set_index("index_id")[["scale"]])
    assert table["variable"].tolist() == ["overall", "scale", "scale"]


def test_small_scales_use_pooled_residuals_and_intervals_are_clipped():
    q = fit_conformal(
        np.r_[np.linspace(-5, 5, 100), [50.0]], np.array(["hfmse"] * 100 + ["rulm"]), min_n=30
    )
    assert q.key("rulm") == POOLED
    assert q.key("hfmse") == "hfmse"
    assert q.key(None) == POOLED
    iv = conformal_interval(
        np.array([0.0, 0.0]),
        np.array(["hfmse", "rulm"]),
        quantiles=q,
        lower_limit=np.array([-1.0, -100]),
        upper_limit=np.array([100.0, 2.0]),
    )
    assert iv["lower"].iloc[0] == -1.0
    assert iv["upper"].iloc[1] == 2.0
    assert iv["key"].tolist() == ["hfmse", POOLED]
    assert ConformalQuantiles.from_dict(q.to_dict()) == q


def test_gain_probability_moves_with_the_prediction():
    q = fit_conformal(np.linspace(-4, 4, 200), np.array(["hfmse"] * 200))
    p = gain_probability(
        np.array([-3.0, 3.0, 9.0]), np.array(["hfmse"] * 3), np.array([3.0] * 3), quantiles=q
    )
    assert p[0] < p[1] < p[2] == 1.0


def test_level_must_be_a_fraction():
    with pytest.raises(ValueError, match="level"):
        fit_conformal(np.zeros(3), np.array(["a"] * 3), level=80)


def test_open_bounds_survive_json():
    import json

    q = fit_conformal(np.array([1.0, 2.0]), np.array(["hfmse", "hfmse"]), level=0.9)
    assert q.bounds["hfmse"][:2] == [-np.inf, np.inf]
    text = json.dumps(q.to_dict()).replace("-Infinity", "null").replace("Infinity", "null")
    assert ConformalQuantiles.from_dict(json.loads(text)) == q


def _two_spreads(rng, n=3000):
    """Held-out rows on one scale whose residual spread differs fourfold between age bands."""
    band = rng.choice(["0-6 mo", "adult"], n)
    held = pd.DataFrame(
        {
            "index_id": [f"e{i}" for i in range(n)],
            "fold": np.arange(n) % 5,
            "y_pred": 0.0,
            "scale": "hfmse",
            "age_band": band,
        }
    )
    held["y_true"] = rng.normal(0, np.where(band == "adult", 1.0, 4.0))
    return held


def test_mondrian_cells_hold_coverage_in_each_group_where_one_cell_does_not(rng):
    held = _two_spreads(rng)
    groups = held.set_index("index_id")[["age_band"]]
    one = coverage_table(cross_conformal(held, level=0.8), groups).set_index("level")["coverage"]
    assert one["adult"] > 0.95  # the average spread fits neither group
    assert one["0-6 mo"] < 0.7
    by_band = cross_conformal(held, level=0.8, groups=["age_band"])
    cov = coverage_table(by_band, groups).set_index("level")["coverage"]
    assert 0.77 < cov["adult"] < 0.83
    assert 0.77 < cov["0-6 mo"] < 0.83


def test_a_small_cell_falls_back_to_the_coarser_one():
    cells = np.array(["hfmse|adult"] * 10 + ["hfmse|2-12 y"] * 50)
    q = fit_conformal(np.linspace(-5, 5, 60), cells, level=0.8, min_n=30, groups=["age_band"])
    assert q.bounds["hfmse|adult"][2] == 10
    assert q.bounds["hfmse"][2] == 60
    assert q.key("hfmse|adult") == "hfmse"  # 10 < min_n
    assert q.key("hfmse|2-12 y") == "hfmse|2-12 y"
    iv = conformal_interval(np.zeros(2), np.array(["hfmse|adult", None]), quantiles=q)
    assert iv["key"].tolist() == ["hfmse", POOLED]


def test_quantiles_logged_before_mondrian_cells_read_back_as_one_cell_per_scale():
    old = fit_conformal(np.arange(40.0), np.array(["hfmse"] * 40)).to_dict()
    old.pop("groups")
    q = ConformalQuantiles.from_dict(old)
    assert q.groups == []
    assert q.key("hfmse") == "hfmse"


def test_quintiles_of_the_predicted_change_are_reported_apart_from_the_subgroups():
    cov = pd.DataFrame(
        {
            "variable": ["overall", "region", "region", *["predicted_change_quintile"] * 5],
            "level": ["all", "DE", "IT", "Q1", "Q2", "Q3", "Q4", "Q5"],
            "n": [500, 250, 250, 100, 100, 100, 100, 100],
            "coverage": [0.8, 0.78, 0.82, 0.64, 0.8, 0.82, 0.85, 0.94],
            "mean_width": [6.0] * 8,
        }
    )
    m = coverage_metrics(cov, 0.8)
    assert m["interval/coverage_min_subgroup"] == 0.78
    assert m["interval/coverage_max_subgroup"] == 0.82  # the quintiles are not subgroups
    assert m["interval/coverage_min_quintile"] == 0.64
    assert m["interval/coverage_max_quintile"] == 0.94
    assert "interval/coverage_min_quintile" not in coverage_metrics(cov.iloc[:3], 0.8)
    labels = predicted_quintiles(pd.Series(np.linspace(-5, 5, 50)))
    assert labels.value_counts().tolist() == [10] * 5
