"""Trial emulation: the simulator's evidence of realism.

A trial spec (``configs/trials/*.yaml``, contract in ``DESIGN.md`` section 3) selects a population
from simulated newborns, starts each arm at a random age inside the start-age range, follows the
patients and computes endpoints. Every trial uses the same generic machinery; nothing is specific to
one published study.

Conventions (the same for every spec):

* Start age is drawn uniformly inside ``age_at_start_months`` (default 0 to 60 years); the patient
  must be alive and free of permanent ventilation at start and match every population key there.
* ``symptomatic: true`` means onset before start; ``false`` means start before onset.
* Follow-up ends ``months`` after start, at an age (``until_age_months``) or ``months_after_onset``
  (a natural-history cohort followed from symptom onset); an endpoint may carry its own
  ``follow_up`` (same keys) when one study reports figures at several time points.
* Scale endpoints (``change``, ``responder``, ``decliner``, ``stable``, ``reaches``) are computed on
  patients alive at follow-up with a score at both times (``n`` says how many); ``milestone``
  (ever achieved by follow-up, alive), ``has_milestone`` (alive and still has it at follow-up),
  ``event_free``, ``median_event_age`` and ``hine2_responder`` (ENDEAR: more HINE-2 categories
  improved than worsened; deaths are non-responders) on everybody randomised (intention to treat).
* ``event_free`` counts the ``events`` listed (default ``[death, permanent_ventilation]``;
  ``[death]`` is survival). ``median_event_age`` takes ``event``: ``death_or_ventilation``,
  ``death``, ``loss_of_ambulation`` or ``loss_of_sitting`` (loss among those who ever had the
  milestone); the median is ``nan`` when fewer than half had the event by follow-up.
* Sitting takes an optional ``definition``: ``who_10s`` (default), ``bayley_5s`` (easier) or
  ``bayley_30s`` (harder).
* Shares are fractions in 0..1; changes are in scale points; ages in months.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import yaml

from sma_response.simulate.disease import (
    EventNoise,
    History,
    Population,
    Treatments,
    default_grid,
    sample_population,
    simulate_history,
)
from sma_response.simulate.params import ARMS, MILESTONES, SCALES, SMA_TYPES, DiseaseParams
from sma_response.simulate.scales import expected_score, noise_sd

SCALE_KINDS = ("change", "responder", "decliner", "stable", "reaches")
ENDPOINT_KINDS = (
    *SCALE_KINDS,
    "milestone",
    "has_milestone",
    "event_free",
    "median_event_age",
    "hine2_responder",
)
FOLLOW_UP_KEYS = ("months", "until_age_months", "months_after_onset")
EVENTS = ("death", "permanent_ventilation")
EVENT_AGES = ("death_or_ventilation", "death", "loss_of_ambulation", "loss_of_sitting")
SITTING_DEFINITIONS = ("who_10s", "bayley_5s", "bayley_30s")
POPULATION_KEYS = (
    "sma_type",
    "smn2_copies",
    "onset_age_months",
    "age_at_start_months",
    "symptomatic",
    "can_sit",
    "can_walk",
    "ever_walked",
    *SCALES,
)
DEFAULT_START_RANGE = (0.0, 720.0)
#: Give up when this many candidates per requested patient have not filled the arms.
MAX_CANDIDATES_PER_PATIENT = 400


class TrialSpecError(ValueError):
    """A trial spec is invalid; the message names the offending key."""


@dataclass
class _Endpoint:
    name: str
    kind: str
    scale: str | None = None
    threshold: float | None = None
    milestone: str | None = None
    definition: str = "who_10s"
    events: tuple[str, ...] = EVENTS
    event: str = "death_or_ventilation"
    follow_up: tuple[str, float] | None = None  # the trial's when None


def _fail(key: str, problem: str) -> NoReturn:
    msg = f"trial spec: {key}: {problem}"
    raise TrialSpecError(msg)


def _range(key: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        _fail(key, f"expected a range [min, max] (null = open), got {value!r}")
    lo, hi = value
    for v in (lo, hi):
        if v is not None and not isinstance(v, int | float):
            _fail(key, f"range bounds must be numbers or null, got {v!r}")
    lo_f = -np.inf if lo is None else float(lo)
    hi_f = np.inf if hi is None else float(hi)
    if lo_f > hi_f:
        _fail(key, f"range min {lo} is above max {hi}")
    return lo_f, hi_f


def validate_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check a trial spec and return it normalised.

    Parameters
    ----------
    spec
        The trial spec (see the module docstring and ``DESIGN.md`` section 3).

    Returns
    -------
    dict
        ``name``, ``n_per_arm``, ``population`` (normalised), ``arms``, ``follow_up``,
        ``endpoints`` (list of :class:`_Endpoint`).

    Raises
    ------
    TrialSpecError
        Naming the bad key: unknown therapy, scale, type, milestone or endpoint kind, a
        non-positive size, a malformed range or follow-up.
    """
    if not isinstance(spec, Mapping):
        _fail("<root>", f"expected a mapping, got {type(spec).__name__}")
    known = {"name", "n_per_arm", "population", "arms", "follow_up", "endpoints", "source", "notes"}
    for key in spec:
        if key not in known:
            _fail(str(key), f"unknown key; expected one of {sorted(known)}")
    name = str(spec.get("name", "trial"))
    n_per_arm = spec.get("n_per_arm", 2000)
    if not isinstance(n_per_arm, int) or isinstance(n_per_arm, bool) or n_per_arm <= 0:
        _fail("n_per_arm", f"must be a positive integer, got {n_per_arm!r}")
    arms = spec.get("arms")
    if not arms or not isinstance(arms, list | tuple):
        _fail("arms", f"must be a non-empty list of {list(ARMS)}")
    for arm in arms:
        if arm not in ARMS:
            _fail("arms", f"unknown therapy {arm!r}; expected one of {list(ARMS)}")
    if len(set(arms)) != len(arms):
        _fail("arms", f"duplicated arm in {list(arms)}")
    population = _validate_population(spec.get("population") or {})
    fu_key, fu_value = _follow_up("follow_up", spec.get("follow_up"))
    endpoints_raw = spec.get("endpoints")
    if not endpoints_raw:
        _fail("endpoints", "at least one endpoint is needed")
    endpoints = [_validate_endpoint(i, e) for i, e in enumerate(endpoints_raw)]
    return {
        "name": name,
        "n_per_arm": n_per_arm,
        "population": population,
        "arms": list(arms),
        "follow_up": (fu_key, fu_value),
        "endpoints": endpoints,
    }


def _follow_up(key: str, follow_up: Any) -> tuple[str, float]:
    if not isinstance(follow_up, Mapping) or len(follow_up) != 1:
        _fail(key, "expected {months: M}, {until_age_months: A} or {months_after_onset: M}")
    ((fu_key, fu_value),) = follow_up.items()
    if fu_key not in FOLLOW_UP_KEYS:
        _fail(f"{key}.{fu_key}", f"expected one of {list(FOLLOW_UP_KEYS)}")
    if not isinstance(fu_value, int | float) or isinstance(fu_value, bool) or fu_value <= 0:
        _fail(f"{key}.{fu_key}", f"must be a positive number, got {fu_value!r}")
    return str(fu_key), float(fu_value)


def _validate_population(pop: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pop.items():
        where = f"population.{key}"
        if key not in POPULATION_KEYS:
            _fail(where, f"unknown key; expected one of {list(POPULATION_KEYS)}")
        if value is None:
            continue
        if key == "sma_type":
            values = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
            for v in values:
                if v not in SMA_TYPES:
                    _fail(where, f"unknown SMA type {v!r}; expected one of {list(SMA_TYPES)}")
            out[key] = values
        elif key == "smn2_copies":
            values = list(value) if isinstance(value, list | tuple) else [value]
            for v in values:
                if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 8:
                    _fail(where, f"SMN2 copies must be integers 1-8, got {v!r}")
            out[key] = values
        elif key in ("symptomatic", "can_sit", "can_walk", "ever_walked"):
            if not isinstance(value, bool):
                _fail(where, f"must be true or false, got {value!r}")
            out[key] = value
        else:
            out[key] = _range(where, value)
    start = out.get("age_at_start_months", DEFAULT_START_RANGE)
    lo = max(start[0], 0.0)
    hi = min(start[1], DEFAULT_START_RANGE[1])
    if lo > hi:
        _fail("population.age_at_start_months", "the range is empty")
    out["age_at_start_months"] = (lo, hi)
    return out


def _validate_endpoint(i: int, raw: Any) -> _Endpoint:
    where = f"endpoints[{i}]"
    if not isinstance(raw, Mapping):
        _fail(where, f"expected a mapping, got {raw!r}")
    allowed = {
        "name",
        "kind",
        "scale",
        "threshold",
        "milestone",
        "definition",
        "event",
        "events",
        "published",
        "accept",
        "figures",
        "follow_up",
    }
    for key in raw:
        if key not in allowed:
            _fail(f"{where}.{key}", f"unknown key; expected one of {sorted(allowed)}")
    kind = raw.get("kind")
    if kind not in ENDPOINT_KINDS:
        _fail(
            f"{where}.kind",
            f"unknown endpoint kind {kind!r}; expected one of {list(ENDPOINT_KINDS)}",
        )
    ep = _Endpoint(name=str(raw.get("name", f"endpoint_{i}")), kind=kind)
    if "follow_up" in raw:
        ep.follow_up = _follow_up(f"{where}.follow_up", raw["follow_up"])
    if kind in SCALE_KINDS:
        scale = raw.get("scale")
        if scale not in SCALES:
            _fail(f"{where}.scale", f"unknown scale {scale!r}; expected one of {list(SCALES)}")
        ep.scale = scale
        if kind != "change":
            t = raw.get("threshold")
            if not isinstance(t, int | float) or isinstance(t, bool):
                _fail(f"{where}.threshold", f"a number is required for kind {kind}")
            ep.threshold = float(t)
    if kind in ("milestone", "has_milestone"):
        ep.milestone = _choice(f"{where}.milestone", raw.get("milestone"), MILESTONES)
    if "definition" in raw:
        if ep.milestone != "sitting":
            _fail(f"{where}.definition", "only a sitting milestone takes a definition")
        ep.definition = _choice(f"{where}.definition", raw["definition"], SITTING_DEFINITIONS)
    if "events" in raw:
        if kind != "event_free":
            _fail(f"{where}.events", "only kind event_free takes events")
        events = raw["events"]
        if not isinstance(events, list | tuple) or not events:
            _fail(f"{where}.events", f"expected a non-empty list of {list(EVENTS)}")
        ep.events = tuple(_choice(f"{where}.events", e, EVENTS) for e in events)
    if "event" in raw:
        if kind != "median_event_age":
            _fail(f"{where}.event", "only kind median_event_age takes an event")
        ep.event = _choice(f"{where}.event", raw["event"], EVENT_AGES)
    return ep


def _choice(key: str, value: Any, options: tuple[str, ...]) -> str:
    if value not in options:
        _fail(key, f"unknown value {value!r}; expected one of {list(options)}")
    return str(value)


@dataclass
class _Arm:
    pop: Population
    noise: EventNoise
    start: np.ndarray
    follow: np.ndarray
    baseline_noise: np.ndarray  # (n, n_scales) standard normal
    followup_noise: np.ndarray


def emulate_trial(
    spec: Mapping[str, Any],
    *,
    seed: int = 0,
    params: DiseaseParams | None = None,
) -> pd.DataFrame:
    """Emulate a trial on the synthetic disease model.

    Parameters
    ----------
    spec
        Trial spec, see ``DESIGN.md`` section 3 and the module docstring.
    seed
        Seed of the emulation; the same seed gives the same table.
    params
        Disease parameters; the calibrated defaults when ``None``.

    Returns
    -------
    pandas.DataFrame
        Columns ``arm, endpoint, value, n``: one row per arm and endpoint.

    Raises
    ------
    TrialSpecError
        If the spec is invalid or its population is empty.

    Examples
    --------
    >>> spec = {"n_per_arm": 50, "population": {"sma_type": ["2"], "age_at_start_months": [24, 60]},
    ...         "arms": ["untreated"], "follow_up": {"months": 12},
    ...         "endpoints": [{"name": "d", "kind": "change", "scale": "hfmse"}]}
    >>> emulate_trial(spec, seed=1).columns.tolist()
    ['arm', 'endpoint', 'value', 'n']
    """
    params = params or DiseaseParams()
    s = validate_spec(spec)
    rng = np.random.default_rng(seed)
    arms = s["arms"]
    eligible = _recruit(s, rng, params, n_needed=s["n_per_arm"] * len(arms))
    rows = []
    for i, arm in enumerate(arms):
        idx = np.arange(i, len(eligible.start), len(arms))[: s["n_per_arm"]]
        group = _Arm(
            pop=eligible.pop.take(idx),
            noise=eligible.noise.take(idx),
            start=eligible.start[idx],
            follow=eligible.follow[idx],
            baseline_noise=eligible.baseline_noise[idx],
            followup_noise=eligible.followup_noise[idx],
        )
        rows.extend(_run_arm(group, arm, s["endpoints"], params))
    return pd.DataFrame(rows, columns=["arm", "endpoint", "value", "n"])


def _recruit(
    s: dict[str, Any], rng: np.random.Generator, params: DiseaseParams, *, n_needed: int
) -> _Arm:
    """Draw candidates until ``n_needed`` match the population at their start age."""
    pop_spec = s["population"]
    lo, hi = pop_spec["age_at_start_months"]
    fu_kind, fu_value = s["follow_up"]
    batch = max(4 * n_needed, 5000)
    parts: list[_Arm] = []
    n_found = 0
    n_drawn = 0
    while n_found < n_needed:
        if n_drawn >= MAX_CANDIDATES_PER_PATIENT * n_needed:
            msg = (
                f"trial spec: population: only {n_found} of {n_drawn} simulated patients match "
                f"{_describe(pop_spec)}; the population is empty or too rare to fill "
                f"{n_needed} places"
            )
            raise TrialSpecError(msg)
        pop = sample_population(batch, rng, params)
        noise = EventNoise.draw(batch, rng)
        start = lo + (hi - lo) * rng.random(batch)
        follow = _follow_up_age(fu_kind, fu_value, start, pop.onset_months)
        base_z = rng.standard_normal((batch, len(SCALES)))
        fu_z = rng.standard_normal((batch, len(SCALES)))
        n_drawn += batch
        keep = _prefilter(pop, start, follow, pop_spec)
        if not keep.any():
            continue
        idx = np.flatnonzero(keep)
        cand = _Arm(pop.take(idx), noise.take(idx), start[idx], follow[idx], base_z[idx], fu_z[idx])
        ok = _eligible_at_start(cand, pop_spec, params)
        idx2 = np.flatnonzero(ok)
        parts.append(
            _Arm(
                cand.pop.take(idx2),
                cand.noise.take(idx2),
                cand.start[idx2],
                cand.follow[idx2],
                cand.baseline_noise[idx2],
                cand.followup_noise[idx2],
            )
        )
        n_found += len(idx2)
    return _concat(parts)


def _follow_up_age(kind: str, value: float, start: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """Age at the end of follow-up (months) under the spec's ``follow_up``."""
    if kind == "months":
        return start + value
    if kind == "months_after_onset":
        return onset + value
    return np.full(len(start), value)


def _describe(pop_spec: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in pop_spec.items())


def _concat(parts: list[_Arm]) -> _Arm:
    pop = Population(
        **{
            f: np.concatenate([getattr(p.pop, f) for p in parts])
            for f in Population.__dataclass_fields__
        }
    )
    noise = EventNoise(
        **{
            f: np.concatenate([getattr(p.noise, f) for p in parts])
            for f in EventNoise.__dataclass_fields__
        }
    )
    return _Arm(
        pop,
        noise,
        np.concatenate([p.start for p in parts]),
        np.concatenate([p.follow for p in parts]),
        np.concatenate([p.baseline_noise for p in parts]),
        np.concatenate([p.followup_noise for p in parts]),
    )


def _prefilter(
    pop: Population, start: np.ndarray, follow: np.ndarray, spec: dict[str, Any]
) -> np.ndarray:
    """Criteria known at birth (cheap): type, copies, onset, symptomatic, follow-up after start."""
    keep = follow > start
    if "sma_type" in spec:
        keep &= np.isin(pop.sma_type, spec["sma_type"])
    if "smn2_copies" in spec:
        keep &= np.isin(pop.smn2_copies, spec["smn2_copies"])
    if "onset_age_months" in spec:
        lo, hi = spec["onset_age_months"]
        keep &= (pop.onset_months >= lo) & (pop.onset_months <= hi)
    if "symptomatic" in spec:
        keep &= (pop.onset_months < start) if spec["symptomatic"] else (pop.onset_months > start)
    return keep


def _eligible_at_start(cand: _Arm, spec: dict[str, Any], params: DiseaseParams) -> np.ndarray:
    """Criteria that need the (untreated) course up to the start age."""
    n = len(cand.start)
    grid = default_grid(float(cand.start.max()) if n else 1.0)
    hist = simulate_history(cand.pop, Treatments.none(n), grid, cand.noise, params)
    alive = ~(hist.death <= cand.start) & ~(hist.permanent_ventilation <= cand.start)
    ability = hist.ability_at(cand.start)
    ok = alive
    thresholds = params.milestone_threshold
    if "can_sit" in spec:
        ok &= (ability >= thresholds["sitting"]) == spec["can_sit"]
    if "can_walk" in spec:
        ok &= (ability >= thresholds["walking"]) == spec["can_walk"]
    if "ever_walked" in spec:
        ok &= (hist.milestone_gained["walking"] <= cand.start) == spec["ever_walked"]
    for j, scale in enumerate(SCALES):
        if scale in spec:
            lo, hi = spec[scale]
            score = _score(scale, ability, cand.start, cand.baseline_noise[:, j], params)
            ok &= (score >= lo) & (score <= hi)
    return ok


def _score(
    scale: str, ability: np.ndarray, age: np.ndarray, z: np.ndarray, params: DiseaseParams
) -> np.ndarray:
    from sma_response.simulate.params import SCALE_RANGE

    lo, hi = SCALE_RANGE[scale]
    mean = expected_score(scale, ability)
    return np.clip(np.round(mean + noise_sd(scale, age, params, expected=mean) * z), lo, hi)


def _run_arm(
    group: _Arm, arm: str, endpoints: list[_Endpoint], params: DiseaseParams
) -> list[tuple]:
    n = len(group.start)
    plan = Treatments.none(n) if arm == "untreated" else Treatments.single(arm, group.start)
    follow = [
        group.follow
        if ep.follow_up is None
        else _follow_up_age(*ep.follow_up, group.start, group.pop.onset_months)
        for ep in endpoints
    ]
    grid = default_grid(max(float(fu.max()) for fu in follow))
    hist = simulate_history(group.pop, plan, grid, group.noise, params)
    rows = []
    for ep, fu in zip(endpoints, follow, strict=True):
        if ep.scale is not None:
            value, n_used = _scale_endpoint(ep, group, fu, hist, params)
        elif ep.kind == "hine2_responder":
            value, n_used = _hine2_responders(group, fu, hist, params), n
        else:
            value, n_used = _course_endpoint(ep, fu, hist, params), n
        rows.append((arm, ep.name, value, n_used))
    return rows


def _scores(
    scale: str, group: _Arm, fu: np.ndarray, hist: History, params: DiseaseParams
) -> tuple[np.ndarray, np.ndarray]:
    """Observed scores at start and follow-up (``nan`` where the scale does not apply)."""
    j = SCALES.index(scale)
    out = []
    for age, z in ((group.start, group.baseline_noise), (fu, group.followup_noise)):
        score = _score(scale, hist.ability_at(age), age, z[:, j], params)
        fused = hist.scoliosis_surgery <= age
        out.append(score + np.where(fused, params.fusion_shift.get(scale, 0.0), 0.0))
    return out[0], out[1]


def _scale_endpoint(
    ep: _Endpoint, group: _Arm, fu: np.ndarray, hist: History, params: DiseaseParams
) -> tuple[float, int]:
    """Compute a scale endpoint among patients alive at follow-up with both scores."""
    bl, fu_score = _scores(str(ep.scale), group, fu, hist, params)
    ok = ~(hist.death <= fu) & ~np.isnan(bl) & ~np.isnan(fu_score)
    if not ok.any():
        return np.nan, 0
    change = (fu_score - bl)[ok]
    t = np.nan if ep.threshold is None else float(ep.threshold)
    if ep.kind == "change":
        value = change.mean()
    elif ep.kind == "responder":
        value = (change >= t).mean()
    elif ep.kind == "decliner":
        value = (change <= -t).mean()
    elif ep.kind == "stable":
        value = (np.abs(change) < t).mean()
    else:  # reaches
        value = (fu_score[ok] >= t).mean()
    return float(value), int(ok.sum())


def _hine2_responders(group: _Arm, fu: np.ndarray, hist: History, params: DiseaseParams) -> float:
    """ENDEAR's HINE-2 responder share (intention to treat: deaths are non-responders)."""
    bl, fu_score = _scores("hine2", group, fu, hist, params)
    alive = ~(hist.death <= fu)
    gained = np.nan_to_num(fu_score - bl, nan=-np.inf) >= params.hine2_responder_gain
    return float((alive & gained).mean())


def _milestone_ages(
    ep: _Endpoint, hist: History, params: DiseaseParams
) -> tuple[np.ndarray, np.ndarray]:
    """Ages a milestone was gained and lost, under the endpoint's definition of sitting."""
    name = str(ep.milestone)
    shift = params.sitting_definition_shift[ep.definition] if name == "sitting" else 0.0
    if shift == 0.0:
        return hist.milestone_gained[name], hist.milestone_lost[name]
    return hist.milestone_ages(params.milestone_threshold[name] + shift)


def _course_endpoint(ep: _Endpoint, fu: np.ndarray, hist: History, params: DiseaseParams) -> float:
    """Milestones, events and event ages, on everybody randomised."""
    alive_fu = ~(hist.death <= fu)
    if ep.kind in ("milestone", "has_milestone"):
        gained, lost = _milestone_ages(ep, hist, params)
        got = (gained <= fu) & alive_fu
        if ep.kind == "has_milestone":
            got &= ~(lost <= fu)
        return float(got.mean())
    if ep.kind == "event_free":
        free = alive_fu if "death" in ep.events else np.ones(len(fu), dtype=bool)
        if "permanent_ventilation" in ep.events:
            free = free & ~(hist.permanent_ventilation <= fu)
        return float(free.mean())
    # median_event_age
    if ep.event == "death_or_ventilation":
        event = np.fmin(hist.death, hist.permanent_ventilation)
        at_risk = np.ones(len(fu), dtype=bool)
    elif ep.event == "death":
        event, at_risk = hist.death, np.ones(len(fu), dtype=bool)
    else:
        milestone = "walking" if ep.event == "loss_of_ambulation" else "sitting"
        event = hist.milestone_lost[milestone]
        at_risk = hist.milestone_gained[milestone] <= fu
    if not at_risk.any():
        return np.nan
    event = np.where(event[at_risk] <= fu[at_risk], event[at_risk], np.inf)
    median = float(np.median(event))
    return median if np.isfinite(median) else np.nan


def load_trial_specs(trials_dir: Path, names: str | Sequence[str] = "all") -> list[dict[str, Any]]:
    """Read trial specs from ``trials_dir`` (``all``, one name or a list of names).

    Raises
    ------
    TrialSpecError
        If a named spec does not exist or a file is not a YAML mapping.
    """
    available = {p.stem: p for p in sorted(Path(trials_dir).glob("*.yaml"))}
    wanted = (
        list(available) if names == "all" else ([names] if isinstance(names, str) else list(names))
    )
    specs = []
    for name in wanted:
        if name not in available:
            msg = (
                f"trial={name}: no spec {name}.yaml in {trials_dir}; available: {sorted(available)}"
            )
            raise TrialSpecError(msg)
        try:
            spec = yaml.safe_load(available[name].read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            msg = f"{available[name]}: not valid YAML ({err})"
            raise TrialSpecError(msg) from err
        if not isinstance(spec, dict):
            msg = f"{available[name]}: expected a mapping at the top level"
            raise TrialSpecError(msg)
        spec.setdefault("name", name)
        specs.append(spec)
    return specs
