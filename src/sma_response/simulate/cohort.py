"""Simulated patients of a multi-region consortium: births, diagnosis, therapy, life course.

Care differs by region (newborn screening, approval dates, access, preferences), and therapy choice
is confounded by indication: the decision depends on age, function and type at the time of
decision. All steps are vectorised over patients; patients are processed in chunks of a fixed size
(part of the spec, so results do not depend on the machine) with one seed per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sma_response._utils.random import spawn_seeds
from sma_response.simulate.disease import (
    N_SLOTS,
    THERAPY_CODE,
    EventNoise,
    History,
    Population,
    Treatments,
    ability,
    default_grid,
    sample_population,
    simulate_history,
)
from sma_response.simulate.params import MILESTONES, THERAPIES, DiseaseParams
from sma_response.simulate.spec import RegionSpec, SimulationSpec

DAYS_PER_MONTH = 30.4375
#: Mean diagnostic delay after symptom onset, months, by type (symptomatic diagnosis).
DIAGNOSTIC_DELAY = {"0": 0.5, "1": 2.0, "2": 8.0, "3a": 18.0, "3b": 30.0, "4": 36.0}


@dataclass
class SimulatedPatients:
    """Everything simulated about the consortium's patients (the truth, before any registry).

    Attributes
    ----------
    patients
        One row per person: ``person_id``, region, demographics, latent parameters, and ages in
        days of diagnosis, events, milestones and the end of observation (death or data cut).
    treatments
        One row per therapy course: ``person_id, therapy, start_age_days, stop_age_days``.
    population, plan, noise, history
        The model objects, row ``i`` = ``person_id`` ``i``; used for counterfactual truth and
        for reading ability at visit ages.
    """

    patients: pd.DataFrame
    treatments: pd.DataFrame
    population: Population
    plan: Treatments
    noise: EventNoise
    history: History


def simulate_patients(
    spec: SimulationSpec,
    *,
    seed: int,
    params: DiseaseParams | None = None,
    progress: Callable[[int], None] | None = None,
) -> SimulatedPatients:
    """Simulate ``spec.n_patients`` patients known to the consortium at the data cut.

    A patient is kept when diagnosed before the data cut and alive when the first registry of
    their region opened (or born after); births are drawn until ``n_patients`` are kept.

    Parameters
    ----------
    spec
        Validated simulation spec.
    seed
        Seed; the same spec and seed give identical output.
    params
        Disease parameters (calibrated defaults when ``None``).
    progress
        Called with the number of patients kept after each chunk.

    Returns
    -------
    SimulatedPatients
        The simulated truth, ``person_id`` 0..n-1.
    """
    params = params or DiseaseParams()
    regions = spec.regions
    opens = {
        r.name: min(
            (g.start_year for g in spec.registries if g.region == r.name),
            default=spec.data_cut_year,
        )
        for r in regions
    }
    max_age = (spec.data_cut_year - spec.oldest_birth_year) * 12.0
    grid = default_grid(max_age)
    chunks: list[tuple] = []
    kept = 0
    for chunk_seed in _seed_stream(seed):
        rng = np.random.default_rng(chunk_seed)
        part = _simulate_chunk(spec.chunk_size, rng, spec, regions, opens, grid, params)
        need = spec.n_patients - kept
        if len(part[0]) > need:
            part = _take_chunk(part, np.arange(need))
        chunks.append(part)
        kept += len(part[0])
        if progress is not None:
            progress(len(part[0]))
        if kept >= spec.n_patients:
            break
    return _assemble(chunks, grid, params)


def _seed_stream(seed: int) -> Iterator[int]:
    """Endless deterministic stream of chunk seeds."""
    block = 0
    while True:
        yield from spawn_seeds(np.random.SeedSequence([seed, block]), 64)
        block += 1


def _simulate_chunk(
    n: int,
    rng: np.random.Generator,
    spec: SimulationSpec,
    regions: list[RegionSpec],
    opens: dict[str, float],
    grid: np.ndarray,
    params: DiseaseParams,
) -> tuple:
    pop = sample_population(n, rng, params)
    noise = EventNoise.draw(n, rng)
    weights = np.array([r.weight for r in regions], dtype=float)
    region_idx = rng.choice(len(regions), size=n, p=weights / weights.sum())
    birth_year = spec.oldest_birth_year + (
        spec.data_cut_year - spec.oldest_birth_year
    ) * rng.random(n)
    cut_age = (spec.data_cut_year - birth_year) * 12.0
    # --- diagnosis: newborn screening (presymptomatic) or after symptoms ---
    nbs_start = np.array(
        [np.inf if r.nbs_start_year is None else r.nbs_start_year for r in regions]
    )
    coverage = np.array([r.nbs_coverage for r in regions])
    screened = (birth_year >= nbs_start[region_idx]) & (rng.random(n) < coverage[region_idx])
    delay = np.array([DIAGNOSTIC_DELAY[t] for t in pop.sma_type]) * rng.exponential(size=n)
    symptomatic_diag = np.maximum(pop.onset_months, 0.0) + delay
    nbs_diag = 0.25 + 0.5 * rng.random(n)  # screening result in the first weeks
    diag_age = np.where(screened, np.minimum(nbs_diag, symptomatic_diag), symptomatic_diag)
    presymptomatic = screened & (pop.onset_months > diag_age)
    plan = _assign_treatments(
        pop, rng, regions, region_idx, birth_year, diag_age, presymptomatic, params
    )
    hist = simulate_history(pop, plan, grid, noise, params)
    # Known to the consortium: diagnosed before the cut, alive when the region's registry opened.
    open_age = (np.array([opens[r.name] for r in regions])[region_idx] - birth_year) * 12.0
    alive_at_open = ~(hist.death <= np.maximum(open_age, diag_age))
    keep = (diag_age < cut_age) & alive_at_open
    # Treatments that would start after death or the data cut never happened.
    end = np.fmin(np.nan_to_num(hist.death, nan=np.inf), cut_age)
    plan.code = np.where(plan.start < end[:, None], plan.code, -1).astype(np.int8)
    plan.start = np.where(plan.code >= 0, plan.start, np.inf)
    plan.stop = np.where(plan.code >= 0, plan.stop, np.inf)
    idx = np.flatnonzero(keep)
    extra = {
        "region": np.array([r.name for r in regions], dtype=object)[region_idx],
        "birth_year": birth_year,
        "cut_age": cut_age,
        "diag_age": diag_age,
        "presymptomatic": presymptomatic,
    }
    return _take_chunk((pop, plan, noise, hist, extra), idx)


def _take_chunk(part: tuple, idx: np.ndarray) -> tuple:
    pop, plan, noise, hist, extra = part
    return (
        pop.take(idx),
        plan.take(idx),
        noise.take(idx),
        hist.take(idx),
        {k: v[idx] for k, v in extra.items()},
    )


def _assign_treatments(
    pop: Population,
    rng: np.random.Generator,
    regions: list[RegionSpec],
    region_idx: np.ndarray,
    birth_year: np.ndarray,
    diag_age: np.ndarray,
    presymptomatic: np.ndarray,
    params: DiseaseParams,
) -> Treatments:
    """Decide first therapy, start age and an optional switch, by region and indication."""
    n = len(pop)
    # Age (months) at which each therapy becomes available to each patient.
    avail = np.empty((n, len(THERAPIES)))
    for j, therapy in enumerate(THERAPIES):
        year = np.array([r.approval_year.get(therapy, np.inf) for r in regions])[region_idx]
        avail[:, j] = (year - birth_year) * 12.0
    first_avail = avail.min(axis=1)
    mean_delay = np.array([r.start_delay_months for r in regions])[region_idx]
    # Presymptomatic patients with 4+ copies are often watched until symptoms appear.
    watch = presymptomatic & (pop.smn2_copies >= 4) & (rng.random(n) < 0.5)
    decision_age = np.where(watch, np.maximum(pop.onset_months, diag_age) + 2.0, diag_age)
    backlog = np.where(first_avail > decision_age, 3.0, 0.0)  # waiting lists at approval
    start = np.maximum(decision_age, first_avail) + (mean_delay + backlog) * rng.exponential(size=n)
    start = np.where(
        presymptomatic & ~watch, np.maximum(diag_age + 0.3 * rng.random(n), first_avail), start
    )
    # Function at the decision (treatment does not change the course before it starts).
    a_start = ability(pop, Treatments.none(n), start[:, None], params)[:, 0]
    walks = a_start >= params.milestone_threshold["walking"]
    sits = a_start >= params.milestone_threshold["sitting"]
    band = np.where(start < 24.0, 0, np.where(start < 216.0, 1, 2))
    p_treat = np.array(
        [[r.treat_probability[k] for k in ("infant", "child", "adult")] for r in regions]
    )
    p = p_treat[region_idx, band]
    # Confounding by indication: weaker patients are treated more often, walking adults less.
    p = np.where(~sits, np.minimum(p * 1.1, 1.0), p)
    p = np.where(walks & (band == 2), p * 0.7, p)
    treated = rng.random(n) < p
    # Choice among therapies available at start: clinical preference by age x regional weight.
    pref = np.empty((n, len(THERAPIES)))
    for j, therapy in enumerate(THERAPIES):
        w_region = np.array([r.therapy_weight.get(therapy, 1.0) for r in regions])[region_idx]
        if therapy == "onasemnogene":  # one-time gene therapy: young children only (about 13.5 kg)
            clinical = np.where(start < 24.0, np.where(~sits, 4.0, 2.5), 0.0)
        elif therapy == "nusinersen":
            clinical = np.where(band == 2, 1.0, 2.0)
        else:  # risdiplam: oral, favoured in adults and in weak patients with scoliosis
            clinical = np.where(band == 2, 1.8, 1.2)
        pref[:, j] = clinical * w_region * (avail[:, j] <= start)
    total = pref.sum(axis=1)
    treated &= total > 0
    cum = np.cumsum(pref / np.where(total > 0, total, 1.0)[:, None], axis=1)
    choice = (rng.random(n)[:, None] > cum).sum(axis=1).clip(max=len(THERAPIES) - 1)
    plan = Treatments.none(n)
    plan.code[:, 0] = np.where(treated, choice, -1)
    plan.start[:, 0] = np.where(treated, start, np.inf)
    # One switch: nusinersen -> onasemnogene (under 2 years) or risdiplam; risdiplam -> nusinersen.
    p_switch = np.array([r.switch_probability for r in regions])[region_idx]
    switch_at = start + 6.0 + 42.0 * rng.random(n)
    wants = treated & (rng.random(n) < p_switch) & (plan.code[:, 0] != THERAPY_CODE["onasemnogene"])
    ona_ok = (switch_at < 24.0) & (avail[:, THERAPY_CODE["onasemnogene"]] <= switch_at)
    ris_ok = avail[:, THERAPY_CODE["risdiplam"]] <= switch_at
    nus_ok = avail[:, THERAPY_CODE["nusinersen"]] <= switch_at
    from_nus = plan.code[:, 0] == THERAPY_CODE["nusinersen"]
    target = np.where(
        from_nus,
        np.where(
            ona_ok, THERAPY_CODE["onasemnogene"], np.where(ris_ok, THERAPY_CODE["risdiplam"], -1)
        ),
        np.where(nus_ok, THERAPY_CODE["nusinersen"], -1),
    )
    switched = wants & (target >= 0)
    plan.code[:, 1] = np.where(switched, target, -1)
    plan.start[:, 1] = np.where(switched, switch_at, np.inf)
    plan.stop[:, 0] = np.where(switched, switch_at, np.inf)
    # A few stop treatment for good (not gene therapy, which is given once).
    stops = (
        treated
        & ~switched
        & (plan.code[:, 0] != THERAPY_CODE["onasemnogene"])
        & (rng.random(n) < 0.05)
    )
    plan.stop[:, 0] = np.where(stops, start + 12.0 + 48.0 * rng.random(n), plan.stop[:, 0])
    assert plan.code.shape[1] == N_SLOTS
    return plan


def _assemble(chunks: list[tuple], grid: np.ndarray, params: DiseaseParams) -> SimulatedPatients:
    pops, plans, noises, hists, extras = zip(*chunks, strict=True)
    pop = Population(
        **{
            f: np.concatenate([getattr(p, f) for p in pops])
            for f in Population.__dataclass_fields__
        }
    )
    plan = Treatments(
        np.concatenate([p.code for p in plans]),
        np.concatenate([p.start for p in plans]),
        np.concatenate([p.stop for p in plans]),
    )
    noise = EventNoise(
        **{
            f: np.concatenate([getattr(x, f) for x in noises])
            for f in EventNoise.__dataclass_fields__
        }
    )
    hist = History(
        grid=grid,
        reserve=np.concatenate([h.reserve for h in hists]),
        ability=np.concatenate([h.ability for h in hists]),
        death=np.concatenate([h.death for h in hists]),
        permanent_ventilation=np.concatenate([h.permanent_ventilation for h in hists]),
        feeding_tube=np.concatenate([h.feeding_tube for h in hists]),
        scoliosis_surgery=np.concatenate([h.scoliosis_surgery for h in hists]),
        milestone_gained={
            m: np.concatenate([h.milestone_gained[m] for h in hists]) for m in MILESTONES
        },
        milestone_lost={
            m: np.concatenate([h.milestone_lost[m] for h in hists]) for m in MILESTONES
        },
    )
    extra = {k: np.concatenate([e[k] for e in extras]) for k in extras[0]}
    n = len(pop)
    end = np.fmin(np.nan_to_num(hist.death, nan=np.inf), extra["cut_age"])

    def days(months: np.ndarray) -> np.ndarray:
        """Months to days; events after the data cut are not known yet."""
        out = np.asarray(months, dtype=float) * DAYS_PER_MONTH
        return np.where(np.asarray(months) <= extra["cut_age"], np.round(out, 1), np.nan)

    patients = pd.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64),
            "region": extra["region"],
            "sex": pop.sex,
            "smn2_copies": pop.smn2_copies.astype(np.int64),
            "sma_type": pop.sma_type,
            "birth_year_decimal": extra["birth_year"],
            "onset_age_days": np.round(np.maximum(pop.onset_months, 0.0) * DAYS_PER_MONTH, 1),
            "diagnosis_age_days": np.round(extra["diag_age"] * DAYS_PER_MONTH, 1),
            "presymptomatic": extra["presymptomatic"].astype(bool),
            "end_age_days": np.round(end * DAYS_PER_MONTH, 1),
            "death_age_days": days(hist.death),
            "permanent_ventilation_age_days": days(hist.permanent_ventilation),
            "feeding_tube_age_days": days(hist.feeding_tube),
            "scoliosis_surgery_age_days": days(hist.scoliosis_surgery),
            "loss_of_ambulation_age_days": days(hist.loss_of_ambulation),
            **{f"{m}_age_days": days(hist.milestone_gained[m]) for m in MILESTONES},
            # latent (ground truth only)
            "fast_loss": pop.fast_loss,
            "fast_tau_months": pop.fast_tau,
            "slow_loss_per_month": pop.slow_loss,
            "response_effect": pop.response_effect,
            "disease_start_months": pop.disease_start,
        }
    )
    rows = []
    for k in range(N_SLOTS):
        on = plan.code[:, k] >= 0
        rows.append(
            pd.DataFrame(
                {
                    "person_id": np.flatnonzero(on).astype(np.int64),
                    "slot": k,
                    "therapy": np.array(THERAPIES, dtype=object)[plan.code[on, k]],
                    "start_age_days": np.round(plan.start[on, k] * DAYS_PER_MONTH, 1),
                    "stop_age_days": np.where(
                        plan.stop[on, k] <= end[on],
                        np.round(plan.stop[on, k] * DAYS_PER_MONTH, 1),
                        np.nan,
                    ),
                }
            )
        )
    treatments = (
        pd.concat(rows, ignore_index=True)
        .sort_values(["person_id", "slot"], kind="stable")
        .reset_index(drop=True)
    )
    return SimulatedPatients(patients, treatments, pop, plan, noise, hist)
