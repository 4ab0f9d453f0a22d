"""Scale links: monotone, bounded, noisy like real assessments."""

from __future__ import annotations

import numpy as np
import pytest

from sma_response.simulate.params import SCALE_RANGE, SCALES, DiseaseParams
from sma_response.simulate.scales import expected_score, observe_score, response_probability

ABILITY = np.linspace(0.0, 100.0, 201)


@pytest.mark.parametrize("scale", SCALES)
def test_expected_score_is_monotone_and_in_range(scale):
    score = expected_score(scale, ABILITY)
    lo, hi = SCALE_RANGE[scale]
    valid = ~np.isnan(score)
    assert valid.sum() > 50
    assert (np.diff(score[valid]) >= -1e-9).all()
    assert (score[valid] >= lo).all()
    assert (score[valid] <= hi).all()


def test_floor_and_ceiling():
    assert expected_score("hfmse", np.array([5.0]))[0] == 0.0  # non-sitter: HFMSE floor
    assert expected_score("hfmse", np.array([100.0]))[0] == 66.0
    assert expected_score("chop_intend", np.array([100.0]))[0] > 63.0  # ceiling for strong children
    assert np.isnan(expected_score("6mwt", np.array([30.0]))[0])  # cannot walk


@pytest.mark.parametrize("scale", SCALES)
def test_observed_scores_are_whole_points_in_range(scale):
    rng = np.random.default_rng(0)
    params = DiseaseParams()
    obs = observe_score(scale, ABILITY, np.full_like(ABILITY, 60.0), rng, params)
    lo, hi = SCALE_RANGE[scale]
    valid = ~np.isnan(obs)
    np.testing.assert_array_equal(obs[valid], np.round(obs[valid]))
    assert (obs[valid] >= lo).all()
    assert (obs[valid] <= hi).all()


def test_unknown_scale_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scale 'hfms'"):
        expected_score("hfms", ABILITY)


def test_response_probability_matches_simulated_noise():
    rng = np.random.default_rng(1)
    params = DiseaseParams()
    ability0 = np.full(200000, 40.0)
    age = np.full(200000, 48.0)
    base = observe_score("hfmse", ability0, age, rng, params)
    follow = observe_score("hfmse", ability0 + 4.0, age, rng, params)
    observed = np.mean(follow - base >= 3)
    expected_change = expected_score("hfmse", ability0 + 4.0) - expected_score("hfmse", ability0)
    start = expected_score("hfmse", ability0)
    predicted = response_probability(
        "hfmse", expected_change[:1], age[:1], 3, params, expected_start=start[:1]
    )[0]
    assert observed == pytest.approx(predicted, abs=0.03)


def test_rulm_tracks_hfmse_in_non_walkers_and_saturates_in_walkers():
    """A unit of ability moves RULM about as much as HFMSE below walking, and little above it."""
    mid, strong = np.array([35.0, 36.0]), np.array([70.0, 71.0])
    rulm_mid = np.diff(expected_score("rulm", mid))[0]
    hfmse_mid = np.diff(expected_score("hfmse", mid))[0]
    assert 0.6 < rulm_mid / hfmse_mid < 1.2
    assert np.diff(expected_score("rulm", strong))[0] == 0.0  # ceiling in strong walkers
