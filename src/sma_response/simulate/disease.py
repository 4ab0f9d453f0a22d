"""The latent disease model: genetics, motor-neuron reserve, motor ability, therapy and events.

Everything is vectorised over patients (rows) and an age grid (columns); there is no Python loop
per patient or per visit. Times are months of age.

Model
-----
* Maturation ``D(t) = 1 - exp(-t / tau)``: the ability a healthy child would have (0..1).
* Reserve ``R(t) = 1 - L(s(t)) + sum_k rec_k(t)``: the share of motor neurons still working.
  ``L(s) = Lf * (1 - exp(-s / tau_f)) + ks * s`` is the loss after ``s`` months of *disease time*.
  The disease clock ``s`` starts before symptom onset and runs slower while on therapy
  (``1 - efficacy``). Therapy also regains a share of the reserve already lost, a share that shrinks
  with age and disease duration at start and with lost reserve (the window of opportunity), and
  varies between patients through an unobservable random effect.
* Ability ``A(t) = 100 * D(t) * R(t)``. Milestones are thresholds on ``A``; respiratory failure and
  feeding-tube hazards rise steeply as ``R`` falls.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from sma_response.simulate.params import MILESTONES, SMA_TYPES, THERAPIES, DiseaseParams

#: Therapy codes in treatment arrays; -1 means no therapy in that slot.
THERAPY_CODE = {name: i for i, name in enumerate(THERAPIES)}
#: Treatment slots per patient: a first therapy and at most one switch.
N_SLOTS = 2


def default_grid(max_age_months: float) -> np.ndarray:
    """Age grid (months): monthly to 6 years, quarterly to 20 years, then yearly.

    Parameters
    ----------
    max_age_months
        Oldest age that must be covered.

    Returns
    -------
    numpy.ndarray
        Increasing ages starting at 0 and reaching at least ``max_age_months``.

    Examples
    --------
    >>> g = default_grid(30.0)
    >>> float(g[0]), bool(g[-1] >= 30.0)
    (0.0, True)
    """
    parts = [np.arange(0.0, 72.0, 1.0), np.arange(72.0, 240.0, 3.0), np.arange(240.0, 1212.0, 12.0)]
    grid = np.concatenate(parts)
    return grid[: int(np.searchsorted(grid, max_age_months)) + 2]


@dataclass
class Population:
    """Per-patient latent characteristics (one array element per patient)."""

    sex: np.ndarray  # "F" / "M"
    smn2_copies: np.ndarray  # int
    sma_type: np.ndarray  # str, one of SMA_TYPES
    onset_months: np.ndarray  # symptom onset age
    disease_start: np.ndarray  # age the disease clock starts
    fast_loss: np.ndarray  # Lf
    fast_tau: np.ndarray  # tau_f
    slow_loss: np.ndarray  # ks
    response_effect: np.ndarray  # multiplies therapy recovery (unobserved)

    def __len__(self) -> int:
        return len(self.sex)

    def take(self, index: np.ndarray) -> Population:
        """Return the patients at ``index`` as a new population."""
        return Population(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass
class Treatments:
    """Treatment plan: up to :data:`N_SLOTS` consecutive therapies per patient.

    ``code`` is -1 for an empty slot; ``start``/``stop`` are ages in months (``inf`` = never).
    """

    code: np.ndarray  # (n, N_SLOTS) int
    start: np.ndarray  # (n, N_SLOTS) float
    stop: np.ndarray  # (n, N_SLOTS) float

    @classmethod
    def none(cls, n: int) -> Treatments:
        """Return an all-untreated plan for ``n`` patients."""
        return cls(
            code=np.full((n, N_SLOTS), -1, dtype=np.int8),
            start=np.full((n, N_SLOTS), np.inf),
            stop=np.full((n, N_SLOTS), np.inf),
        )

    @classmethod
    def single(cls, therapy: str | np.ndarray, start: np.ndarray) -> Treatments:
        """Return a plan with one therapy per patient started at ``start`` and never stopped."""
        start = np.asarray(start, dtype=float)
        plan = cls.none(len(start))
        codes = np.vectorize(lambda t: THERAPY_CODE.get(t, -1), otypes=[np.int8])(
            np.broadcast_to(np.asarray(therapy, dtype=object), start.shape)
        )
        plan.code[:, 0] = codes
        plan.start[:, 0] = np.where(codes >= 0, start, np.inf)
        return plan

    def take(self, index: np.ndarray) -> Treatments:
        """Return the plans of the patients at ``index``."""
        return Treatments(self.code[index], self.start[index], self.stop[index])


def sample_population(n: int, rng: np.random.Generator, params: DiseaseParams) -> Population:
    """Draw ``n`` newborns with SMA: SMN2 copies, type, onset and latent disease parameters.

    Parameters
    ----------
    n
        Number of patients.
    rng
        Random generator (the only source of randomness).
    params
        Disease parameters.

    Returns
    -------
    Population
        Latent characteristics of each patient.

    Examples
    --------
    >>> from sma_response.simulate.params import DiseaseParams
    >>> pop = sample_population(5, np.random.default_rng(0), DiseaseParams())
    >>> len(pop)
    5
    """
    copies_levels = np.array(list(params.copies_at_birth))
    copies_p = np.array(list(params.copies_at_birth.values()))
    copies = rng.choice(copies_levels, size=n, p=copies_p / copies_p.sum())
    sma_type = np.empty(n, dtype=object)
    u_type = rng.random(n)
    for c, dist in params.type_given_copies.items():
        mask = copies == c
        names = np.array(list(dist), dtype=object)
        cum = np.cumsum(np.array(list(dist.values())))
        cum = cum / cum[-1]
        sma_type[mask] = names[
            np.searchsorted(cum, u_type[mask], side="right").clip(max=len(names) - 1)
        ]
    sex = np.where(rng.random(n) < 0.5, "F", "M").astype(object)
    onset = np.empty(n)
    lf = np.empty(n)
    tau = np.empty(n)
    ks = np.empty(n)
    u_onset = rng.random(n)
    z_loss = rng.standard_normal(n)
    z_slow = rng.standard_normal(n)
    # Usual SMN2 copy count per type; extra copies protect, fewer copies harm.
    usual = {"0": 1, "1": 2, "2": 3, "3a": 3, "3b": 4, "4": 4}
    for name in SMA_TYPES:
        mask = sma_type == name
        if not mask.any():
            continue
        tp = params.types[name]
        onset[mask] = _triangular_ppf(u_onset[mask], *tp.onset)
        mean_logit = np.log(tp.fast_loss[0] / (1.0 - tp.fast_loss[0]))
        shift = -params.copies_protection * (copies[mask] - usual[name])
        lf[mask] = _expit(mean_logit + shift + tp.fast_loss[1] * z_loss[mask])
        tau[mask] = tp.fast_tau
        ks[mask] = tp.slow_loss * np.exp(0.3 * z_slow[mask])
    response = np.exp(params.response_sd * rng.standard_normal(n) - 0.5 * params.response_sd**2)
    disease_start = np.where(onset > 0, params.disease_lead * onset, onset)
    lf = _bound_loss_by_type(lf, tau, ks, disease_start, sma_type, params)
    return Population(
        sex=sex,
        smn2_copies=copies.astype(np.int8),
        sma_type=sma_type,
        onset_months=onset,
        disease_start=disease_start,
        fast_loss=lf,
        fast_tau=tau,
        slow_loss=ks,
        response_effect=response,
    )


#: Milestones that define each type: (must reach, must never reach) without treatment.
_TYPE_MILESTONES = {
    "0": (None, "sitting"),
    "1": (None, "sitting"),
    "2": ("sitting", "walking"),
    "3a": ("walking", None),
    "3b": ("walking", None),
}


def _bound_loss_by_type(
    lf: np.ndarray,
    tau: np.ndarray,
    ks: np.ndarray,
    start: np.ndarray,
    sma_type: np.ndarray,
    params: DiseaseParams,
) -> np.ndarray:
    """Keep each patient's fast loss inside the range that matches their type's definition.

    SMA types are defined by the best motor milestone ever reached without treatment (type 1
    never sits, type 2 sits but never walks, type 3 walks). The peak untreated ability falls as
    the fast loss grows, so the loss that puts the peak exactly on a milestone threshold is found
    by bisection, vectorised over patients, and the loss is clipped just inside it.
    """
    t = np.concatenate([np.arange(0.0, 36.0, 1.0), np.arange(36.0, 121.0, 4.0)])[None, :]
    mat = maturation(t, params)
    out = lf.copy()
    margin = 0.005
    for name, (reach, never) in _TYPE_MILESTONES.items():
        rows = np.flatnonzero(sma_type == name)
        if len(rows) == 0:
            continue
        # Untreated ability / 100 = mat * (1 - loss * fast(s) - ks * s) = a - loss * b (before the
        # floor at 0, which cannot matter for reaching a positive threshold).
        s = np.maximum(t - start[rows, None], 0.0)
        a = (mat * (1.0 - ks[rows, None] * s)).astype(np.float32)
        b = (mat * (1.0 - np.exp(-s / tau[rows, None]))).astype(np.float32)

        def loss_at(threshold: float, a: np.ndarray = a, b: np.ndarray = b) -> np.ndarray:
            lo = np.zeros(a.shape[0], dtype=np.float32)
            hi = np.ones(a.shape[0], dtype=np.float32)
            for _ in range(13):
                mid = 0.5 * (lo + hi)
                above = (a - mid[:, None] * b).max(axis=1) >= threshold / 100.0
                lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
            return (0.5 * (lo + hi)).astype(float)

        if never is not None:  # peak must stay below the threshold: loss above the bound
            out[rows] = np.maximum(out[rows], loss_at(params.milestone_threshold[never]) + margin)
        if reach is not None:  # peak must reach the threshold: loss below the bound
            out[rows] = np.minimum(out[rows], loss_at(params.milestone_threshold[reach]) - margin)
    return np.clip(out, 0.0, 1.0)


def _triangular_ppf(u: np.ndarray, low: float, mode: float, high: float) -> np.ndarray:
    """Inverse CDF of the triangular distribution (vectorised)."""
    c = (mode - low) / (high - low)
    left = low + np.sqrt(u * (high - low) * (mode - low))
    right = high - np.sqrt((1.0 - u) * (high - low) * (high - mode))
    return np.where(u < c, left, right)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def maturation(age: np.ndarray, params: DiseaseParams) -> np.ndarray:
    """Return healthy motor maturation (0..1) at ``age`` months."""
    scaled = np.maximum(age, 0.0) / params.maturation_tau
    return 1.0 - np.exp(-(scaled**params.maturation_power))


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(b - a, 0.0)


def _untreated_loss(pop: Population, t: np.ndarray) -> np.ndarray:
    """Reserve lost by ages ``t`` (n, m) without treatment."""
    return _loss(pop, _overlap(pop.disease_start[:, None], t))


def _treated_loss(
    pop: Population, plan: Treatments, t: np.ndarray, params: DiseaseParams
) -> np.ndarray:
    """Reserve lost by ages ``t`` (n, m) under ``plan``.

    While a therapy acts (from its start plus lag until the next therapy acts, or until it is
    stopped), every further increment of the untreated loss is scaled by the patient's residual
    rate: therapy rescues neurons not yet lost, so treated patients stabilise rather than merely
    decline more slowly. The residual rate varies between patients (unobserved response effect).
    """
    lost = _untreated_loss(pop, t)
    efficacy = np.array([params.therapies[name].efficacy for name in THERAPIES])
    lag = np.array([params.therapies[name].lag for name in THERAPIES])
    acts = np.where(
        plan.code >= 0, plan.start + lag[np.where(plan.code >= 0, plan.code, 0)], np.inf
    )
    for k in range(N_SLOTS):
        code = plan.code[:, k]
        on = code >= 0
        if not on.any():
            continue
        residual = np.minimum((1.0 - efficacy[np.where(on, code, 0)]) / pop.response_effect, 1.0)
        spared = np.where(on, 1.0 - residual, 0.0)[:, None]
        # A therapy protects until the next one acts (switch) or until it is stopped.
        end = plan.stop[:, k] if k + 1 == N_SLOTS else np.minimum(plan.stop[:, k], acts[:, k + 1])
        a = np.where(on, acts[:, k], 0.0)[:, None]
        b = np.maximum(np.minimum(t, np.where(on, end, 0.0)[:, None]), a)
        lost = lost - spared * (_untreated_loss(pop, b) - _untreated_loss(pop, a))
    return lost


def _loss(pop: Population, s: np.ndarray) -> np.ndarray:
    lf = pop.fast_loss[:, None]
    return np.minimum(
        lf * (1.0 - np.exp(-s / pop.fast_tau[:, None])) + pop.slow_loss[:, None] * s, 1.0
    )


def reserve(pop: Population, plan: Treatments, t: np.ndarray, params: DiseaseParams) -> np.ndarray:
    """Motor-neuron reserve (0..1) of each patient at ages ``t``; see :func:`reserve_parts`."""
    remaining, recovered = reserve_parts(pop, plan, t, params)
    return np.clip(remaining + recovered, 0.0, 1.0)


def reserve_parts(
    pop: Population, plan: Treatments, t: np.ndarray, params: DiseaseParams
) -> tuple[np.ndarray, np.ndarray]:
    """Motor-neuron reserve (0..1) of each patient at ages ``t``.

    Parameters
    ----------
    pop
        Patients.
    plan
        Their treatments.
    t
        Ages in months, shape ``(m,)`` (shared) or ``(n, m)`` (per patient).
    params
        Disease parameters.

    Returns
    -------
    tuple of numpy.ndarray
        Remaining reserve ``1 - L(s(t))`` and the reserve regained on therapy, each ``(n, m)``.
    """
    n = len(pop)
    t = np.broadcast_to(np.asarray(t, dtype=float), (n, np.shape(t)[-1]))
    lost = _treated_loss(pop, plan, t, params)
    recovered = np.zeros_like(lost)
    recovery = np.array([params.therapies[name].recovery for name in THERAPIES])
    rtau = np.array([params.therapies[name].recovery_tau for name in THERAPIES])
    lag = np.array([params.therapies[name].lag for name in THERAPIES])
    for k in range(N_SLOTS):
        code = plan.code[:, k]
        on = code >= 0
        if not on.any():
            continue
        start = np.where(on, plan.start[:, k], 0.0)
        # Recovery begins once the therapy acts, from the reserve lost by then.
        acts = start + lag[np.where(on, code, 0)]
        acts_col = acts[:, None]
        lost_at_start = _treated_loss(pop, plan, acts_col, params)[:, 0]
        # Recovery already gained from earlier slots at this start.
        earlier = np.zeros(n)
        for j in range(k):
            earlier += _recovery_curve(pop, plan, j, acts, params)
        net_lost = np.maximum(lost_at_start - earlier, 0.0)
        duration = np.maximum(start - pop.onset_months, 0.0)
        share = (
            recovery[np.where(on, code, 0)]
            * _window(start, duration, params)
            * (1.0 - lost_at_start) ** params.recovery_reserve_power
            * pop.response_effect
        )
        share = np.where(on, np.minimum(share, 0.95), 0.0)
        elapsed = np.maximum(t - acts_col, 0.0)
        tau_k = rtau[np.where(on, code, 0)][:, None]
        recovered += (share * net_lost)[:, None] * (1.0 - np.exp(-elapsed / tau_k))
    return 1.0 - lost, recovered


def _window(start: np.ndarray, duration: np.ndarray, params: DiseaseParams) -> np.ndarray:
    """Share of the recovery left at age ``start`` after ``duration`` months of disease.

    It shrinks with both (the window of opportunity) towards the floor an adult keeps.
    """
    floor = params.recovery_adult_floor
    open_share = np.exp(
        -np.maximum(start, 0.0) / params.recovery_age_tau - duration / params.recovery_duration_tau
    )
    return floor + (1.0 - floor) * open_share


def _recovery_curve(
    pop: Population, plan: Treatments, k: int, at: np.ndarray, params: DiseaseParams
) -> np.ndarray:
    """Recovery gained from slot ``k`` by age ``at`` (one age per patient)."""
    one = Treatments(plan.code.copy(), plan.start.copy(), plan.stop.copy())
    one.code[:, k + 1 :] = -1
    full = reserve(pop, one, at[:, None], params)[:, 0]
    lost = _treated_loss(pop, one, at[:, None], params)[:, 0]
    return np.maximum(full - (1.0 - lost), 0.0)


def ability(pop: Population, plan: Treatments, t: np.ndarray, params: DiseaseParams) -> np.ndarray:
    """Latent motor ability (0..100) at ages ``t`` (shape ``(m,)`` or ``(n, m)``)."""
    return 100.0 * maturation(np.asarray(t, dtype=float), params) * reserve(pop, plan, t, params)


@dataclass
class History:
    """A simulated life course on an age grid: latent curves and event ages (months).

    Event ages are ``nan`` when the event did not happen before the end of the grid.
    """

    grid: np.ndarray
    reserve: np.ndarray  # (n, G)
    ability: np.ndarray  # (n, G)
    death: np.ndarray
    permanent_ventilation: np.ndarray
    feeding_tube: np.ndarray
    scoliosis_surgery: np.ndarray
    milestone_gained: dict[str, np.ndarray]
    milestone_lost: dict[str, np.ndarray]

    @property
    def loss_of_ambulation(self) -> np.ndarray:
        """Age at which a walker stopped walking."""
        return self.milestone_lost["walking"]

    def ability_at(self, age: np.ndarray) -> np.ndarray:
        """Interpolate each patient's ability at one age per patient."""
        return _interp_rows(self.grid, self.ability, age)

    def ability_for(self, rows: np.ndarray, age: np.ndarray) -> np.ndarray:
        """Ability of patient ``rows[i]`` at ``age[i]`` (rows may repeat: one per visit)."""
        return _interp_rows(self.grid, self.ability, age, rows=rows)

    def reserve_at(self, age: np.ndarray) -> np.ndarray:
        """Interpolate each patient's reserve at one age per patient."""
        return _interp_rows(self.grid, self.reserve, age)

    def milestone_ages(self, theta: float) -> tuple[np.ndarray, np.ndarray]:
        """Ages at which ability first reaches ``theta`` and later falls below it again.

        Both are ``nan`` when it did not happen in life (or within the grid); a milestone under
        another definition (sitting 5 s or 30 s) is the same rule at another threshold.
        """
        grid, abil = self.grid, self.ability
        n = abil.shape[0]
        above = abil >= theta
        first = _first_crossing(grid, above.astype(np.float32), np.full(n, 0.5))
        # Interpolate the exact crossing for a smoother age than the grid step.
        first = _crossing_age(grid, abil, theta, first)
        after = above | (grid[None, :] < np.nan_to_num(first, nan=np.inf)[:, None])
        drop = _first_crossing(grid, (~after).astype(np.float32), np.full(n, 0.5))
        lost = np.where(np.isnan(first), np.nan, drop)
        return _censor(first, self.death), _censor(lost, self.death)

    def take(self, index: np.ndarray) -> History:
        """Return the histories of the patients at ``index``."""
        return replace(
            self,
            reserve=self.reserve[index],
            ability=self.ability[index],
            death=self.death[index],
            permanent_ventilation=self.permanent_ventilation[index],
            feeding_tube=self.feeding_tube[index],
            scoliosis_surgery=self.scoliosis_surgery[index],
            milestone_gained={k: v[index] for k, v in self.milestone_gained.items()},
            milestone_lost={k: v[index] for k, v in self.milestone_lost.items()},
        )


def _interp_rows(
    grid: np.ndarray, values: np.ndarray, age: np.ndarray, *, rows: np.ndarray | None = None
) -> np.ndarray:
    """Interpolate ``values`` (n, G) linearly at ``age[i]`` in row ``rows[i]`` (default: row i)."""
    age = np.clip(np.asarray(age, dtype=float), grid[0], grid[-1])
    hi = np.clip(np.searchsorted(grid, age, side="right"), 1, len(grid) - 1)
    lo = hi - 1
    w = (age - grid[lo]) / (grid[hi] - grid[lo])
    rows = np.arange(values.shape[0]) if rows is None else np.asarray(rows)
    return values[rows, lo] * (1.0 - w) + values[rows, hi] * w


def _first_crossing(grid: np.ndarray, cum: np.ndarray, level: np.ndarray) -> np.ndarray:
    """First age where the increasing curve ``cum`` (n, G) reaches ``level`` (n,); nan if never."""
    hit = cum >= level[:, None]
    idx = hit.argmax(axis=1)
    found = hit[np.arange(len(idx)), idx]
    lo = np.maximum(idx - 1, 0)
    rows = np.arange(len(idx))
    c0 = cum[rows, lo]
    c1 = cum[rows, idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(c1 > c0, (level - c0) / (c1 - c0), 0.0)
    age = np.where(idx == 0, grid[0], grid[lo] + np.clip(w, 0.0, 1.0) * (grid[idx] - grid[lo]))
    return np.where(found, age, np.nan)


def _event_age(grid: np.ndarray, hazard: np.ndarray, level: np.ndarray) -> np.ndarray:
    """First age where the cumulative piecewise-constant hazard (n, G-1) reaches ``level``."""
    dt = np.diff(grid)
    cum = np.concatenate([np.zeros((hazard.shape[0], 1)), np.cumsum(hazard * dt, axis=1)], axis=1)
    return _first_crossing(grid, cum, level)


@dataclass
class EventNoise:
    """Random draws behind each patient's events, drawn once so that subsets stay consistent.

    A patient keeps the same draws whatever treatment plan is simulated, so their course before
    a therapy starts is identical across counterfactual plans.
    """

    resp: np.ndarray  # unit-exponential level for respiratory failure
    resp_is_death: np.ndarray  # uniform: death (vs permanent ventilation) at respiratory failure
    ventilated_survival: np.ndarray  # unit exponential
    background: np.ndarray  # unit exponential
    feeding: np.ndarray  # unit exponential
    scoliosis: np.ndarray  # unit exponential

    @classmethod
    def draw(cls, n: int, rng: np.random.Generator) -> EventNoise:
        """Draw the event noise of ``n`` patients."""
        return cls(
            resp=rng.exponential(size=n),
            resp_is_death=rng.random(n),
            ventilated_survival=rng.exponential(size=n),
            background=rng.exponential(size=n),
            feeding=rng.exponential(size=n),
            scoliosis=rng.exponential(size=n),
        )

    def take(self, index: np.ndarray) -> EventNoise:
        """Return the draws of the patients at ``index``."""
        return EventNoise(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def simulate_history(
    pop: Population,
    plan: Treatments,
    grid: np.ndarray,
    noise: EventNoise,
    params: DiseaseParams,
) -> History:
    """Simulate each patient's latent course and events on ``grid``.

    Parameters
    ----------
    pop
        Patients.
    plan
        Their treatments (already decided; switching included).
    grid
        Increasing ages in months, starting at 0.
    noise
        The patients' event draws (see :class:`EventNoise`).
    params
        Disease parameters.

    Returns
    -------
    History
        Reserve and ability on the grid, event and milestone ages.
    """
    remaining, recovered = reserve_parts(pop, plan, grid, params)
    res = np.clip(remaining + recovered, 0.0, 1.0).astype(np.float32)
    abil = (100.0 * maturation(grid, params)[None, :] * res).astype(np.float32)
    resp_res = np.clip(remaining + params.resp_recovery_share * recovered, 0.0, 1.0)
    mid_res = 0.5 * (resp_res[:, 1:] + resp_res[:, :-1])
    del remaining, recovered, resp_res
    mid_age = 0.5 * (grid[1:] + grid[:-1])
    resp_mid = _resp_reserve_mid(mid_age, params)
    resp_h = _resp_hazard(mid_res, resp_mid[None, :], params)
    resp = _event_age(grid, resp_h, noise.resp)
    is_death = noise.resp_is_death < params.resp_death_share
    later_death = resp + params.ventilated_survival * noise.ventilated_survival
    background = noise.background / params.background_death
    death = np.where(is_death, resp, later_death)
    death = np.fmin(death, background)
    death = np.where(death <= grid[-1], death, np.nan)
    pv = np.where(is_death | ~(resp < np.nan_to_num(death, nan=np.inf)), np.nan, resp)
    feed_mid = resp_mid + (params.feeding_reserve_mid - params.resp_reserve_mid)
    feed_h = params.feeding_hazard_max * _expit(
        (feed_mid[None, :] - mid_res) / params.resp_reserve_scale
    )
    feeding = _censor(_event_age(grid, feed_h, noise.feeding), death)
    mid_abil = 0.5 * (abil[:, 1:] + abil[:, :-1])
    at_risk = (
        (mid_age >= 96.0)[None, :]
        & (mid_age <= 240.0)[None, :]
        & (mid_abil < params.milestone_threshold["walking"])
        & (mid_abil > 5.0)
    )
    scol = _censor(_event_age(grid, params.scoliosis_hazard * at_risk, noise.scoliosis), death)
    history = History(
        grid=grid,
        reserve=res,
        ability=abil,
        death=death,
        permanent_ventilation=_censor(pv, death),
        feeding_tube=feeding,
        scoliosis_surgery=scol,
        milestone_gained={},
        milestone_lost={},
    )
    for name in MILESTONES:
        gained, lost = history.milestone_ages(params.milestone_threshold[name])
        history.milestone_gained[name] = gained
        history.milestone_lost[name] = lost
    return history


def _resp_reserve_mid(age: np.ndarray, params: DiseaseParams) -> np.ndarray:
    """Reserve at which the respiratory hazard is half its maximum, at ``age`` months.

    Infants fail at a higher reserve than older children and adults.
    """
    weight = np.exp(-np.asarray(age, dtype=float) / params.resp_age_tau)
    return (
        params.resp_reserve_mid_adult
        + (params.resp_reserve_mid - params.resp_reserve_mid_adult) * weight
    )


def _resp_hazard(
    resp_reserve: np.ndarray, resp_mid: np.ndarray, params: DiseaseParams
) -> np.ndarray:
    """Hazard (per month) of respiratory failure: death or permanent ventilation (>= 16 h/day)."""
    return params.resp_hazard_max * _expit((resp_mid - resp_reserve) / params.resp_reserve_scale)


def event_free_probability(
    pop: Population,
    plan: Treatments,
    start: np.ndarray,
    end: np.ndarray,
    params: DiseaseParams,
    *,
    steps: int = 48,
) -> np.ndarray:
    """Probability of staying alive and free of permanent ventilation from ``start`` to ``end``.

    The same hazards as :func:`simulate_history` (respiratory failure, which is death or
    permanent ventilation, and background death), integrated on ``steps`` equal intervals per
    patient, for patients alive and not ventilated at ``start``. Patients already ventilated at
    ``start`` are treated like the others (their remaining risk is death only; the truth does
    not know who they are).

    Parameters
    ----------
    pop, plan
        Patients and the treatment plan of the option.
    start, end
        Ages (months) bounding each patient's window.
    params
        Disease parameters.
    steps
        Integration intervals per window (the midpoint rule).

    Returns
    -------
    numpy.ndarray
        One probability per patient.

    Examples
    --------
    >>> from sma_response.simulate.params import DiseaseParams
    >>> rng = np.random.default_rng(0)
    >>> pop = sample_population(3, rng, DiseaseParams())
    >>> t0 = np.full(3, 12.0)
    >>> p = event_free_probability(pop, Treatments.none(3), t0, t0 + 12.0, DiseaseParams())
    >>> bool(((p > 0) & (p <= 1)).all())
    True
    """
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    frac = (np.arange(steps) + 0.5) / steps
    mid_age = start[:, None] + (end - start)[:, None] * frac[None, :]
    remaining, recovered = reserve_parts(pop, plan, mid_age, params)
    resp_res = np.clip(remaining + params.resp_recovery_share * recovered, 0.0, 1.0)
    hazard = _resp_hazard(resp_res, _resp_reserve_mid(mid_age, params), params)
    dt = (end - start) / steps
    cumulative = hazard.sum(axis=1) * dt + params.background_death * (end - start)
    return np.exp(-cumulative)


def _crossing_age(
    grid: np.ndarray, abil: np.ndarray, theta: float, first: np.ndarray
) -> np.ndarray:
    """Refine a grid crossing age by linear interpolation of ability."""
    idx = np.searchsorted(grid, np.nan_to_num(first, nan=grid[0]))
    idx = np.clip(idx, 1, len(grid) - 1)
    rows = np.arange(len(first))
    a0 = abil[rows, idx - 1].astype(float)
    a1 = abil[rows, idx].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.clip((theta - a0) / (a1 - a0), 0.0, 1.0)
    exact = grid[idx - 1] + w * (grid[idx] - grid[idx - 1])
    return np.where(np.isnan(first) | (first <= grid[0]), first, exact)


def _censor(age: np.ndarray, death: np.ndarray) -> np.ndarray:
    """Drop event ages at or after death."""
    return np.where(age < np.nan_to_num(death, nan=np.inf), age, np.nan)
