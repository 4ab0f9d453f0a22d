"""Structured-config schema of ``configs/train.yaml`` (the ``sma-train`` entry point).

Each stage owns its spec dataclass; this module assembles them so that a typo or a wrong type in
any group fails when the config is composed, before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from sma_response.cohort.spec import CohortSpec, TargetSpec
from sma_response.cohort.target import check_target_spec
from sma_response.conf.factory import ConfigError, build_estimator, try_estimator
from sma_response.conf.harmonise import HarmoniseConfig, register_harmonise_configs
from sma_response.conf.store import PathsConfig
from sma_response.effects.eligibility import coerce_rules
from sma_response.effects.spec import ARMS, EFFECT_ESTIMATORS, EffectsSpec
from sma_response.evaluate.dropout import DROP_OUT_METHODS, DROP_OUT_WEIGHTS
from sma_response.explain.spec import ExplainSpec
from sma_response.features.spec import FeatureSpec
from sma_response.models.spec import ValidationSpec
from sma_response.report.i18n import check_report_languages
from sma_response.report.spec import INTERVAL_GROUPS, ReportSpec
from sma_response.simulate.spec import SimulationSpec
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "EvaluateSpec",
    "ModelConfig",
    "TrainConfig",
    "check_train_values",
    "register_train_configs",
]


@dataclass
class ModelConfig:
    """One model option (the ``model`` group).

    Attributes
    ----------
    name
        Short name logged with the run.
    preprocess
        ``tree`` (one-hot, missing values kept) or ``linear`` (imputation with missing
        indicators and standardisation).
    classifier, regressor
        ``_target_`` nodes of the unfitted estimator for each task.
    regressor_name
        What the regressor is called where it is not ``name`` (``logreg`` fits a ridge
        regression to a continuous target): tables and reports use :meth:`label`.
    """

    name: str = MISSING
    preprocess: str = "tree"
    classifier: Any = None
    regressor: Any = None
    regressor_name: str | None = None

    def label(self, task: str) -> str:
        """Name of the estimator the option fits for ``task`` (``logreg`` -> ``ridge``).

        Examples
        --------
        >>> m = ModelConfig(name="logreg", regressor_name="ridge")
        >>> m.label("classification"), m.label("regression")
        ('logreg', 'ridge')
        """
        return self.regressor_name if task == "regression" and self.regressor_name else self.name


@dataclass
class EvaluateSpec:
    """Evaluation settings (the ``evaluate`` group).

    Attributes
    ----------
    n_boot
        Bootstrap resamples for confidence intervals.
    min_subgroup_n
        Subgroups smaller than this are flagged (and drawn hollow in forest plots).
    imprecise_events
        Subgroups with fewer events or non-events than this are flagged imprecise (tables
        and reports).
    baseline
        Name of the comparator fitted beside the main model: the ``baseline_model`` group's
        option (``${baseline_model.name}``), or ``None`` for none.
    oracle
        Compare with the simulator's ground truth when the dataset has one.
    drop_out
        ``ipcw``: estimate the cohort's mean target under informative drop-out with
        inverse-probability-of-censoring weights and, with a truth, log the bias of the
        complete-case and of the weighted estimate (``estimand/*``); ``none``: skip (the
        dataclass default, the behaviour of runs logged before the key existed).
    drop_out_weights
        ``ipcw``: the weights also enter the model and its evaluation: fitted inside each
        training part of the run's folds, they weight the model's and the comparator's fits
        (the final model's too) and the held-out metrics (``ipcw/*``, beside the unweighted
        ``cv/*``; against the truth of every eligible event on synthetic data); ``metrics``:
        the held-out metrics only (the fits unweighted: the comparison ``ipcw`` is judged by);
        ``none``: unweighted (the default).
    internal_external
        Also fit leave-one-region-out (``loro/*`` metrics, ``evaluation/loro_regions.csv``):
        the estimate an external site's validation is compared with. Skipped when the run's
        own validation is ``loro`` (its ``cv/*`` is that estimate) or there is one region.
    """

    n_boot: int = 200
    min_subgroup_n: int = 20
    imprecise_events: int = 100
    baseline: str | None = "logreg"
    oracle: bool = True
    drop_out: str = "none"
    drop_out_weights: str = "none"
    internal_external: bool = False


@dataclass
class TrainConfig:
    """Schema of ``configs/train.yaml``."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    simulation: SimulationSpec = field(default_factory=SimulationSpec)
    harmonise: HarmoniseConfig = field(default_factory=HarmoniseConfig)
    cohort: CohortSpec = field(default_factory=CohortSpec)
    target: TargetSpec = field(default_factory=TargetSpec)
    features: FeatureSpec = field(default_factory=FeatureSpec)
    validation: ValidationSpec = field(default_factory=ValidationSpec)
    model: ModelConfig = field(default_factory=ModelConfig)
    baseline_model: ModelConfig | None = None
    evaluate: EvaluateSpec = field(default_factory=EvaluateSpec)
    effects: EffectsSpec = field(default_factory=lambda: EffectsSpec(enabled=False))
    explain: ExplainSpec = field(default_factory=ExplainSpec)
    report: ReportSpec = field(default_factory=ReportSpec)
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    seed: int = 0
    dataset: str = "default"
    simulate_if_missing: bool = True
    task_name: str = "train"
    experiment: str | None = None
    tags: list[str] = field(default_factory=list)
    optimized_metric: str = "cv/auroc"
    progress: bool = True


def register_train_configs() -> None:
    """Register ``train_schema`` and the group schemas with Hydra's ConfigStore."""
    register_harmonise_configs()
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(group="cohort", name="cohort_schema", node=CohortSpec)
    store.store(group="target", name="target_schema", node=TargetSpec)
    store.store(group="features", name="features_schema", node=FeatureSpec)
    store.store(group="validation", name="validation_schema", node=ValidationSpec)
    store.store(group="model", name="model_schema", node=ModelConfig)
    store.store(group="evaluate", name="evaluate_schema", node=EvaluateSpec)
    store.store(group="effects", name="effects_schema", node=EffectsSpec)
    store.store(group="tracking", name="tracking_schema", node=TrackingSpec)
    store.store(group="explain", name="explain_schema", node=ExplainSpec)
    store.store(group="report", name="report_schema", node=ReportSpec)


def check_train_values(cfg: DictConfig, spec: TrainConfig) -> None:
    """Refuse values the schema's types allow but a run cannot use, before any data is read.

    Raises
    ------
    ConfigError
        One line naming the key: a negative bootstrap size or seed, fewer than 2 folds, an
        unknown interval group, a setting the model's estimator refuses (found by a trial fit
        on 8 rows of noise).
    """
    for key, value, least in (
        ("evaluate.n_boot", spec.evaluate.n_boot, 0),
        ("evaluate.imprecise_events", spec.evaluate.imprecise_events, 1),
        ("evaluate.min_subgroup_n", spec.evaluate.min_subgroup_n, 1),
        ("validation.n_splits", spec.validation.n_splits, 2),
        ("validation.n_repeats", spec.validation.n_repeats, 1),
        ("seed", spec.seed, 0),
    ):
        if value < least:
            msg = f"{key}: must be at least {least}, got {value}"
            raise ConfigError(msg)
    fraction = spec.validation.test_fraction
    if not 0.0 < fraction < 1.0:
        msg = f"validation.test_fraction: must be between 0 and 1, got {fraction}"
        raise ConfigError(msg)
    if not 0 <= spec.validation.confirmation <= 0.9:
        msg = (
            "validation.confirmation: must be between 0 and 0.9 (the share of persons "
            f"reserved), got {spec.validation.confirmation}"
        )
        raise ConfigError(msg)
    unknown = sorted(set(spec.report.interval_groups) - set(INTERVAL_GROUPS))
    if unknown:
        msg = f"report.interval_groups: unknown {unknown}; choose from {list(INTERVAL_GROUPS)}"
        raise ConfigError(msg)
    try:
        check_report_languages(spec.report.language, spec.report.region_languages)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if spec.evaluate.drop_out not in DROP_OUT_METHODS:
        msg = (
            f"evaluate.drop_out: unknown {spec.evaluate.drop_out!r}; expected one of "
            f"{list(DROP_OUT_METHODS)}"
        )
        raise ConfigError(msg)
    if spec.evaluate.drop_out_weights not in DROP_OUT_WEIGHTS:
        msg = (
            f"evaluate.drop_out_weights: unknown {spec.evaluate.drop_out_weights!r}; expected "
            f"one of {list(DROP_OUT_WEIGHTS)}"
        )
        raise ConfigError(msg)
    _check_effects(spec.effects)
    if urlsplit(spec.tracking.uri).password is not None:
        msg = (
            "tracking.uri: holds a password, which would be logged with the run; set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead"
        )
        raise ConfigError(msg)
    try:
        check_target_spec(spec.target)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    task = "regression" if spec.target.kind == "delta" else "classification"
    key = "classifier" if task == "classification" else "regressor"
    estimator = build_estimator(cfg.model[key], key=f"model.{key}")
    try_estimator(estimator, key=f"model.{key}", task=task)


def _check_effects(spec: EffectsSpec) -> None:
    """Refuse effects settings a run cannot use (one line naming the key)."""
    if spec.estimator not in EFFECT_ESTIMATORS:
        known = list(EFFECT_ESTIMATORS)
        msg = f"effects.estimator: unknown {spec.estimator!r}; expected one of {known}"
        raise ConfigError(msg)
    if spec.reference not in ARMS:
        msg = f"effects.reference: unknown therapy {spec.reference!r}; expected one of {list(ARMS)}"
        raise ConfigError(msg)
    if not 0.0 < spec.min_propensity < 0.5:
        msg = f"effects.min_propensity: must be between 0 and 0.5, got {spec.min_propensity}"
        raise ConfigError(msg)
    if not 0.0 < spec.interval_level < 1.0:
        msg = f"effects.interval_level: must be between 0 and 1, got {spec.interval_level}"
        raise ConfigError(msg)
    if spec.n_splits < 2:
        msg = f"effects.n_splits: must be at least 2, got {spec.n_splits}"
        raise ConfigError(msg)
    try:
        coerce_rules(spec.eligibility)
    except ValueError as err:
        raise ConfigError(str(err)) from err
