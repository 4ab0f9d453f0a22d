"""The latent disease model: genetics, natural history, therapy effects, events."""

from __future__ import annotations

import numpy as np
import pytest

from sma_response.simulate.disease import (
    EventNoise,
    Treatments,
    ability,
    default_grid,
    event_free_probability,
    reserve,
    sample_population,
    simulate_history,
)
from sma_response.simulate.params import DiseaseParams

PARAMS = DiseaseParams()


@pytest.fixture(scope="module")
def untreated():
    rng = np.random.default_rng(11)
    pop = sample_population(20000, rng, PARAMS)
    grid = default_grid(480.0)
    hist = simulate_history(
        pop, Treatments.none(len(pop)), grid, EventNoise.draw(len(pop), rng), PARAMS
    )
    return pop, hist


def test_type_mix_at_birth_matches_sma_facts(untreated):
    pop, _ = untreated
    share = {t: float(np.mean(pop.sma_type == t)) for t in ("1", "2")}
    type3 = float(np.isin(pop.sma_type, ["3a", "3b"]).mean())
    # SMA_FACTS: type 1/2/3 about 60/27/12 % at birth.
    assert share["1"] == pytest.approx(0.60, abs=0.04)
    assert share["2"] == pytest.approx(0.27, abs=0.04)
    assert type3 == pytest.approx(0.12, abs=0.04)
    two_copies = pop.smn2_copies == 2
    assert np.mean(pop.sma_type[two_copies] == "1") == pytest.approx(0.79, abs=0.03)


def test_untreated_milestones_follow_type_definitions(untreated):
    pop, hist = untreated
    sat = ~np.isnan(hist.milestone_gained["sitting"])
    walked = ~np.isnan(hist.milestone_gained["walking"])
    t1, t2 = pop.sma_type == "1", pop.sma_type == "2"
    t3 = np.isin(pop.sma_type, ["3a", "3b"])
    assert sat[t1].mean() < 0.05  # type 1: never sits
    assert sat[t2].mean() > 0.95  # type 2: sits ...
    assert walked[t2].mean() < 0.05  # ... never walks
    assert walked[t3].mean() > 0.95  # type 3: walks


def test_untreated_type1_dies_or_is_ventilated_by_two_years(untreated):
    pop, hist = untreated
    t1 = (pop.sma_type == "1") & (pop.smn2_copies == 2)
    event = np.fmin(hist.death, hist.permanent_ventilation)[t1]
    assert np.mean(event <= 24.0) > 0.75
    # Type 2 mostly survives childhood (98.5 % at 5 years).
    t2 = pop.sma_type == "2"
    assert np.mean(~(hist.death[t2] <= 60.0)) > 0.95


def test_reserve_never_rises_without_therapy(untreated):
    _, hist = untreated
    assert (np.diff(hist.reserve, axis=1) <= 1e-6).all()


def test_therapy_changes_nothing_before_it_starts():
    rng = np.random.default_rng(2)
    pop = sample_population(500, rng, PARAMS)
    start = rng.uniform(1.0, 60.0, size=500)
    t = np.linspace(0.0, 120.0, 61)
    before = t[None, :] < start[:, None]
    none = reserve(pop, Treatments.none(500), t, PARAMS)
    for therapy in ("nusinersen", "risdiplam", "onasemnogene"):
        treated = reserve(pop, Treatments.single(therapy, start), t, PARAMS)
        np.testing.assert_array_equal(treated[before], none[before])
        assert (treated[~before] >= none[~before] - 1e-12).all()


def test_earlier_treatment_is_better_window_of_opportunity():
    rng = np.random.default_rng(3)
    pop = sample_population(4000, rng, PARAMS)
    t1 = pop.sma_type == "1"
    pop = pop.take(np.flatnonzero(t1))
    n = len(pop)
    early = ability(pop, Treatments.single("nusinersen", np.full(n, 1.0)), np.array([24.0]), PARAMS)
    late = ability(pop, Treatments.single("nusinersen", np.full(n, 9.0)), np.array([24.0]), PARAMS)
    assert np.mean(early) > np.mean(late) + 5.0


def test_patients_differ_in_response_beyond_observables():
    rng = np.random.default_rng(4)
    pop = sample_population(3000, rng, PARAMS)
    assert pop.response_effect.std() > 0.3
    assert pop.response_effect.mean() == pytest.approx(1.0, abs=0.05)


def test_history_is_deterministic_given_noise():
    rng = np.random.default_rng(5)
    pop = sample_population(300, rng, PARAMS)
    noise = EventNoise.draw(300, rng)
    grid = default_grid(240.0)
    a = simulate_history(pop, Treatments.none(300), grid, noise, PARAMS)
    b = simulate_history(pop, Treatments.none(300), grid, noise, PARAMS)
    np.testing.assert_array_equal(a.ability, b.ability)
    np.testing.assert_array_equal(a.death, b.death)


def test_adults_keep_the_recovery_floor():
    """With a recovery floor, therapy started in adulthood still regains part of what was lost."""
    rng = np.random.default_rng(5)
    pop = sample_population(3000, rng, PARAMS)
    pop = pop.take(np.flatnonzero(np.isin(pop.sma_type, ["2", "3a"])))
    n = len(pop)
    start, t = np.full(n, 360.0), np.array([360.0, 372.0])
    plan = Treatments.single("nusinersen", start)
    gains = {}
    for floor in (0.0, 0.3):
        params = PARAMS.with_overrides({"recovery_adult_floor": floor})
        r = reserve(pop, plan, t, params)
        gains[floor] = float(np.mean(r[:, 1] - r[:, 0]))
    assert gains[0.0] < 0.002  # without a floor, recovery at 30 years is all but gone
    assert gains[0.3] > gains[0.0] + 0.005


@pytest.mark.parametrize("therapy", [None, "nusinersen"])
def test_event_free_probability_matches_simulated_events(therapy):
    """The truth's survival term is the hazard the histories are drawn from (Monte Carlo)."""
    rng = np.random.default_rng(5)
    pop = sample_population(2000, rng, PARAMS)
    t0 = np.full(len(pop), 4.0)
    plan = Treatments.none(len(pop)) if therapy is None else Treatments.single(therapy, t0)
    expected = event_free_probability(pop, plan, t0, t0 + 12.0, PARAMS)
    grid = np.linspace(0.0, 40.0, 801)
    rates = []
    for draw in range(6):
        noise = EventNoise.draw(len(pop), np.random.default_rng(100 + draw))
        hist = simulate_history(pop, plan, grid, noise, PARAMS)
        first = np.fmin(
            np.nan_to_num(hist.death, nan=np.inf),
            np.nan_to_num(hist.permanent_ventilation, nan=np.inf),
        )
        at_risk = first > 4.0
        rates.append((((first <= 16.0) & at_risk)[at_risk].mean(), (1 - expected[at_risk]).mean()))
    simulated, analytic = np.mean(rates, axis=0)
    assert simulated > 0.05  # infants of every type: events do happen in a year
    assert analytic == pytest.approx(simulated, abs=0.015)
