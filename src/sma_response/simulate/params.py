"""Parameters of the synthetic SMA disease model.

Every number here is a model parameter, tuned so that trial emulation reproduces the published
figures listed in ``DESIGN.md`` section 9 (see ``configs/trials/``). Times are in months unless a
name says otherwise; latent motor ability runs from 0 (no antigravity movement) to 100 (healthy
adult). Sources for the clinical anchors are in ``shared/domain/SMA_FACTS.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SMA_TYPES: tuple[str, ...] = ("0", "1", "2", "3a", "3b", "4")
THERAPIES: tuple[str, ...] = ("nusinersen", "risdiplam", "onasemnogene")
ARMS: tuple[str, ...] = (*THERAPIES, "untreated")
SCALES: tuple[str, ...] = ("chop_intend", "hine2", "hfmse", "rhs", "rulm", "mfm32", "6mwt")
MILESTONES: tuple[str, ...] = ("head_control", "sitting", "standing", "walking")
EVENTS: tuple[str, ...] = (
    "death",
    "permanent_ventilation",
    "feeding_tube",
    "scoliosis_surgery",
    "loss_of_ambulation",
)

#: Scale ranges (min, max) and the meaningful change used for "response".
SCALE_RANGE: dict[str, tuple[float, float]] = {
    "chop_intend": (0, 64),
    "hine2": (0, 26),
    "hfmse": (0, 66),
    "rhs": (0, 69),
    "rulm": (0, 37),
    "mfm32": (0, 100),
    "6mwt": (0, 900),
}
MEANINGFUL_CHANGE: dict[str, float] = {
    "chop_intend": 4,  # ENDEAR responder definition
    "hine2": 2,  # proxy: two milestone categories (HINE-2 responder is category-based)
    "hfmse": 3,  # CHERISH
    "rhs": 3,  # no formal MCID; by analogy with HFMSE
    "rulm": 2,
    "mfm32": 3,
    "6mwt": 30,  # metres
}


@dataclass
class TypeParams:
    """Natural-history parameters of one SMA type.

    Attributes
    ----------
    onset : tuple
        Onset age distribution in months: ``(low, mode, high)`` of a triangular law.
    fast_loss : tuple
        Mean and SD (on the logit scale) of the share of motor-neuron reserve lost in the
        early, fast phase of the disease.
    fast_tau : float
        Time constant (months of disease time) of the fast loss.
    slow_loss : float
        Further linear loss of reserve per month of disease time (slow, lifelong decline).
    """

    onset: tuple[float, float, float]
    fast_loss: tuple[float, float]
    fast_tau: float
    slow_loss: float


@dataclass
class TherapyParams:
    """Effect of one therapy on the latent disease process.

    Attributes
    ----------
    efficacy : float
        Share by which the disease clock slows while on therapy (1 = disease stopped).
    recovery : float
        Maximum share of already-lost reserve that is regained (window of opportunity).
    recovery_tau : float
        Time constant of the recovery, months.
    lag : float
        Months from the first dose until the therapy acts (loading doses, transgene expression).
    """

    efficacy: float
    recovery: float
    recovery_tau: float = 4.0
    lag: float = 1.0


def _default_types() -> dict[str, TypeParams]:
    return {
        "0": TypeParams(
            onset=(-2.0, -1.0, 0.0), fast_loss=(0.97, 0.3), fast_tau=1.0, slow_loss=0.01
        ),
        "1": TypeParams(
            onset=(0.25, 1.5, 6.0), fast_loss=(0.86, 0.45), fast_tau=2.5, slow_loss=0.004
        ),
        "2": TypeParams(
            onset=(6.5, 9.0, 18.0), fast_loss=(0.58, 0.25), fast_tau=6.0, slow_loss=0.0015
        ),
        "3a": TypeParams(
            onset=(18.0, 22.0, 36.0), fast_loss=(0.30, 0.3), fast_tau=18.0, slow_loss=0.0008
        ),
        "3b": TypeParams(
            onset=(36.0, 60.0, 216.0), fast_loss=(0.15, 0.3), fast_tau=36.0, slow_loss=0.0009
        ),
        "4": TypeParams(
            onset=(216.0, 300.0, 420.0), fast_loss=(0.10, 0.3), fast_tau=36.0, slow_loss=0.0006
        ),
    }


def _default_therapies() -> dict[str, TherapyParams]:
    return {
        "nusinersen": TherapyParams(efficacy=0.62, recovery=0.21, recovery_tau=2.0, lag=1.5),
        "risdiplam": TherapyParams(efficacy=0.65, recovery=0.23, lag=1.0),
        "onasemnogene": TherapyParams(efficacy=0.90, recovery=0.30, lag=0.5),
    }


@dataclass
class DiseaseParams:
    """All parameters of the disease model (natural history, therapy, events, scales).

    The defaults are the model's structural starting values; the calibrated values are the
    overrides fitted by ``make calibrate`` (``configs/calibration/fitted_params.yaml``), which
    the simulation and emulation configs apply with :meth:`with_overrides`.
    """

    # --- genetics -> type (Calucho 2018; type mix at birth about 60/27/12 %) ---
    copies_at_birth: dict[int, float] = field(
        default_factory=lambda: {1: 0.005, 2: 0.69, 3: 0.27, 4: 0.03, 5: 0.005}
    )
    type_given_copies: dict[int, dict[str, float]] = field(
        default_factory=lambda: {
            1: {"0": 1.0},
            2: {"0": 0.03, "1": 0.79, "2": 0.15, "3a": 0.03},
            3: {"1": 0.15, "2": 0.54, "3a": 0.19, "3b": 0.12},
            4: {"2": 0.03, "3a": 0.04, "3b": 0.84, "4": 0.09},
            5: {"3b": 0.3, "4": 0.7},
        }
    )
    types: dict[str, TypeParams] = field(default_factory=_default_types)
    #: Disease process starts at this share of the onset age (subclinical loss precedes symptoms).
    disease_lead: float = 0.5
    #: Each SMN2 copy above the type's usual count lowers fast loss by this share (logit units).
    copies_protection: float = 0.35
    # --- maturation: healthy ability = 100 * (1 - exp(-(age / tau) ** power)) ---
    maturation_tau: float = 18.0
    #: Below 1: fast early gains, slow approach to the adult level (motor maturity about age 7).
    maturation_power: float = 0.8
    #: Ability thresholds for milestones (healthy child: sits about 6 mo, walks about 12 mo).
    milestone_threshold: dict[str, float] = field(
        default_factory=lambda: {
            "head_control": 15.0,
            "sitting": 30.0,
            "standing": 45.0,
            "walking": 52.0,
        }
    )
    #: Sitting under other definitions, as a shift of the sitting threshold (ability points):
    #: 5 s (Bayley) is easier than WHO's 10 s, which is easier than 30 s (Bayley item 26).
    sitting_definition_shift: dict[str, float] = field(
        default_factory=lambda: {"bayley_5s": -3.0, "who_10s": 0.0, "bayley_30s": 4.0}
    )
    #: The model scores HINE-2 as one total, not item by item: a gain of this many total points
    #: stands for the ENDEAR responder rule (more milestone categories improved than worsened).
    hine2_responder_gain: float = 2.0
    # --- therapy ---
    therapies: dict[str, TherapyParams] = field(default_factory=_default_therapies)
    #: Recovery shrinks with age and disease duration at start (window of opportunity): factor
    #: floor + (1 - floor) * exp(-age_months / age_tau - duration_months / duration_tau); the
    #: floor is the share left to an adult who starts late (treated adults stabilise, some gain).
    recovery_age_tau: float = 100.0
    recovery_duration_tau: float = 120.0
    recovery_adult_floor: float = 0.0
    #: ... and with lost reserve: factor remaining_reserve ** reserve_power.
    recovery_reserve_power: float = 0.1
    #: SD of the unobservable patient-level response effect (log scale). It multiplies the
    #: recovery and divides the residual disease rate on therapy.
    response_sd: float = 0.7
    # --- events (hazards per month as a logistic function of remaining reserve) ---
    resp_hazard_max: float = 0.15
    #: Reserve at which the hazard is half its maximum, in infancy and in adulthood (airways
    #: and chest wall make infants more vulnerable); it moves between them with age_tau months.
    resp_reserve_mid: float = 0.20
    resp_reserve_mid_adult: float = 0.10
    resp_age_tau: float = 24.0
    resp_reserve_scale: float = 0.02
    #: Share of therapy-driven recovery that also reaches bulbar and respiratory function:
    #: treated infants gain limb function more readily than they shed ventilatory support.
    resp_recovery_share: float = 0.05
    #: Share of respiratory failures that are deaths (the rest start permanent ventilation).
    resp_death_share: float = 0.5
    #: Mean survival after permanent ventilation starts, months.
    ventilated_survival: float = 48.0
    feeding_hazard_max: float = 0.2
    feeding_reserve_mid: float = 0.22
    #: Scoliosis surgery hazard per month for non-walkers aged 8-20 years (lifetime about 80 %).
    scoliosis_hazard: float = 0.012
    #: Background (non-SMA) death hazard per month.
    background_death: float = 0.00008
    # --- scales ---
    #: Measurement noise SD of one assessment at mid-range, in scale points (6MWT in metres).
    #: Sum scores are noisiest mid-range and steadier near floor and ceiling: the SD is scaled by
    #: 2 * sqrt(p * (1 - p)), p the expected score as a share of the range (6MWT: constant).
    scale_noise: dict[str, float] = field(
        default_factory=lambda: {
            "chop_intend": 2.5,
            "hine2": 1.2,
            "hfmse": 2.6,
            "rhs": 2.6,
            "rulm": 1.5,
            "mfm32": 3.0,
            "6mwt": 25.0,
        }
    )
    #: Extra HFMSE/RHS noise SD in young children (decays with age, years): cooperation.
    young_child_noise: float = 1.5
    young_child_noise_tau_years: float = 3.0
    #: Spinal fusion shifts scores (Wijngaarde 2019): HFMSE about -4.5, RHS about -3 (type 2).
    fusion_shift: dict[str, float] = field(default_factory=lambda: {"hfmse": -4.5, "rhs": -3.0})

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> DiseaseParams:
        """Return a copy with the values of a nested mapping put in place.

        Parameters
        ----------
        overrides
            The same nesting as the parameters: ``{"types": {"2": {"slow_loss": 0.001}},
            "therapies": {"risdiplam": {"efficacy": 0.7}}}``; a tuple is given whole.

        Raises
        ------
        ValueError
            For a name that is not a parameter (the message gives the dotted path).

        Examples
        --------
        >>> p = DiseaseParams().with_overrides({"therapies": {"risdiplam": {"efficacy": 0.7}}})
        >>> p.therapies["risdiplam"].efficacy, DiseaseParams().therapies["risdiplam"].efficacy
        (0.7, 0.65)
        """
        return _override(self, overrides or {}, "")

    def value_at(self, path: str) -> float:
        """Return the number at a dotted path (``types.1.fast_loss.1``: the type 1 loss SD).

        Examples
        --------
        >>> DiseaseParams().value_at("therapies.nusinersen.lag")
        1.5
        """
        node: Any = self
        for key in path.split("."):
            node = _child(node, key, path)
        return float(node)


def nested_override(path: str, value: float, params: DiseaseParams) -> dict[str, Any]:
    """Return the nested override that sets one dotted path (a tuple element sets the tuple).

    Examples
    --------
    >>> nested_override("types.1.fast_loss.1", 0.3, DiseaseParams())
    {'types': {'1': {'fast_loss': [0.86, 0.3]}}}
    """
    keys = path.split(".")
    node: Any = params
    chain = []
    for key in keys:
        chain.append(node)
        node = _child(node, key, path)
    parent = chain[-1]
    leaf: float | list[float]
    if isinstance(parent, tuple):
        whole = list(parent)
        whole[int(keys[-1])] = value
        keys, leaf = keys[:-1], whole
    else:
        leaf = value
    out: dict[str, Any] = {}
    cursor = out
    for key in keys[:-1]:
        cursor = cursor.setdefault(key, {})
    cursor[keys[-1]] = leaf
    return out


def overrides_for(values: Mapping[str, float], params: DiseaseParams) -> dict[str, Any]:
    """Return the nested override that sets every dotted path of ``values`` on ``params``.

    Examples
    --------
    >>> overrides_for({"types.1.fast_loss.1": 0.3, "types.1.fast_loss.0": 0.8}, DiseaseParams())
    {'types': {'1': {'fast_loss': [0.8, 0.3]}}}
    """
    out: dict[str, Any] = {}
    for path, value in values.items():
        step = nested_override(path, float(value), params)
        params = params.with_overrides(step)
        out = _merge(out, step)
    return out


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _child(node: Any, key: str, path: str) -> Any:
    if dataclasses.is_dataclass(node) and key in {f.name for f in dataclasses.fields(node)}:
        return getattr(node, key)
    if isinstance(node, dict):
        for k in node:
            if str(k) == key:
                return node[k]
    if isinstance(node, tuple) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    msg = f"disease parameters: {path}: no parameter {key!r} there"
    raise ValueError(msg)


def _override(node: Any, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        if isinstance(node, tuple):
            if not isinstance(value, list | tuple) or len(value) != len(node):
                where = path.rstrip(".")
                msg = f"disease parameters: {where}: expected {len(node)} numbers, got {value!r}"
                raise ValueError(msg)
            return tuple(float(v) for v in value)
        if isinstance(node, bool) or not isinstance(node, int | float):
            msg = f"disease parameters: {path.rstrip('.')}: expected a mapping, got {value!r}"
            raise ValueError(msg)
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"disease parameters: {path.rstrip('.')}: expected a number, got {value!r}"
            raise ValueError(msg)
        return float(value)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {
            key: _override(_child(node, str(key), f"{path}{key}"), sub, f"{path}{key}.")
            for key, sub in value.items()
        }
        return dataclasses.replace(node, **changes)
    if isinstance(node, dict):
        out = dict(node)
        for key, sub in value.items():
            real = next((k for k in node if str(k) == str(key)), None)
            if real is None:
                msg = f"disease parameters: {path}{key}: no parameter {key!r} there"
                raise ValueError(msg)
            out[real] = _override(node[real], sub, f"{path}{key}.")
        return out
    msg = f"disease parameters: {path.rstrip('.')}: not a group of parameters"
    raise ValueError(msg)
