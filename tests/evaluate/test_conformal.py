"""Split-conformal intervals of the predicted change: coverage, clipping, pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.evaluate.conformal import (
    POOLED,
    ConformalQuantiles,
    conformal_interval,
    coverage_table,
    cross_conformal,
    fit_conformal,
    gain_probability,
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
