"""A training run's logged config, read back: definitions, changes, re-run config, config files.

``sma-reproduce``, ``sma-validate`` and ``sma-report`` rebuild what a run was made from out of
its logged ``config/config.yaml``. Every function here raises
:class:`~sma_response.conf.factory.ConfigError` (one line) for a config that cannot be used;
the entry points turn it into their own error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sma_response.cohort.spec import CohortSpec, TargetSpec
from sma_response.conf.compose import compose_config
from sma_response.conf.factory import ConfigError, check_group_paths, check_targets
from sma_response.conf.nodes import node_dict
from sma_response.conf.train import TrainConfig
from sma_response.features.spec import FeatureSpec
from sma_response.tracking.compare import Check, capped, diff_configs, first_line
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "Definitions",
    "apply_changes",
    "check_logged_overrides",
    "definitions",
    "logged_config",
    "overrides_check",
    "rerun_config",
    "train_config",
]

T = TypeVar("T")


def logged_config(text: str | None, run_id: str) -> DictConfig:
    """Parse a run's logged ``config/config.yaml`` (``None``: the run has none)."""
    if text is None:
        msg = f"run {run_id} has no config/config.yaml: it was not logged by sma-train"
        raise ConfigError(msg)
    try:
        node = OmegaConf.create(text)
    except OmegaConfBaseException as err:
        msg = f"run {run_id}: config/config.yaml is not a config mapping ({first_line(err)})"
        raise ConfigError(msg) from err
    if not isinstance(node, DictConfig):
        msg = f"run {run_id}: config/config.yaml is not a mapping"
        raise ConfigError(msg)
    return node


def _typed(cls: type[T], node: Any) -> T:
    """Build a stage spec from a logged config section, typed as in training."""
    try:
        spec = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), node or {}))
    except OmegaConfBaseException as err:
        msg = f"the model run's logged {cls.__name__} does not fit this version: {err}"
        raise ConfigError(msg.splitlines()[0]) from err
    if not isinstance(spec, cls):
        msg = f"the model run's logged {cls.__name__} is not a mapping"
        raise ConfigError(msg)
    return spec


@dataclass(frozen=True)
class Definitions:
    """How a run defined its cohort, target and features (what validation re-applies)."""

    cohort: CohortSpec
    target: TargetSpec
    features: FeatureSpec

    @property
    def task(self) -> str:
        """``regression`` for a change target, ``classification`` otherwise."""
        return "regression" if self.target.kind == "delta" else "classification"


def definitions(config: DictConfig) -> Definitions:
    """Return the cohort, target and feature definitions of a logged config."""
    return Definitions(
        cohort=_typed(CohortSpec, config.get("cohort")),
        target=_typed(TargetSpec, config.get("target")),
        features=_typed(FeatureSpec, config.get("features")),
    )


def apply_changes(config: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    """Return the logged config with ``key=value`` changes (single values only).

    Examples
    --------
    >>> apply_changes({"seed": 0, "model": {"depth": 3}}, ["model.depth=4"])
    {'seed': 0, 'model': {'depth': 4}}
    """
    if not changes:
        return config
    for change in changes:
        key, sep, _ = str(change).partition("=")
        if not sep or not key:
            msg = f"changes: {change!r} is not key=value"
            raise ConfigError(msg)
        node: Any = config
        for part in key.split(".")[:-1]:
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        if isinstance(node, Mapping) and isinstance(node.get(key.split(".")[-1]), Mapping):
            msg = (
                f"changes: {change!r} names a config group or section; a logged config is fully "
                "resolved, so change single values (e.g. model.classifier.max_depth=4)"
            )
            raise ConfigError(msg)
    try:
        merged = OmegaConf.merge(OmegaConf.create(config), OmegaConf.from_dotlist(list(changes)))
    except OmegaConfBaseException as err:
        msg = f"changes: {err}"
        raise ConfigError(msg) from err
    return node_dict(merged, resolve=False, key="changes")


def rerun_config(
    relocated: dict[str, Any],
    changes: Sequence[str],
    tracking: TrackingSpec,
    experiment_name: str | None,
) -> dict[str, Any]:
    """Return the logged config with ``changes``, for the run's experiment, unregistered."""
    config = apply_changes(relocated, changes)
    config["tracking"] = {
        **asdict(tracking),
        "experiment_name": experiment_name or tracking.experiment_name,
        "registered_model_name": None,
        "log_model": bool(config.get("tracking", {}).get("log_model", True)),
    }
    return config


def train_config(config: Mapping[str, Any]) -> DictConfig:
    """Put logged values on the current training schema, every ``_target_`` allow-listed."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.create(dict(config)))
    except OmegaConfBaseException as err:
        msg = f"the logged config does not fit the current training schema: {err}"
        raise ConfigError(msg.splitlines()[0]) from err
    try:  # before any data is read: a config from a shared store may not build arbitrary objects
        check_targets(cfg)
    except ConfigError as err:
        msg = f"the logged config is refused: {err}"
        raise ConfigError(msg) from err
    if not isinstance(cfg, DictConfig):  # merging onto a structured schema gives a mapping
        msg = "the logged config is not a mapping"
        raise ConfigError(msg)
    return cfg


def check_logged_overrides(args: list[str]) -> None:
    """Refuse logged overrides that would reach outside ``configs/`` (before composing them).

    A store is shared: an edited ``config/overrides.json`` could name a group option by path
    or add a search path, and so load configs (and their ``_target_``) from anywhere.
    """
    check_group_paths(args, source="logged overrides")
    for arg in args:
        if arg.lstrip("+~").startswith("hydra.searchpath"):
            msg = f"{arg} (logged overrides): a logged run may not add config search paths"
            raise ConfigError(msg)


def _recomposed(args: list[str], config_dir: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compose ``train`` with the logged overrides; return the config and the group choices."""
    cfg = compose_config("train", args, config_dir=config_dir, return_hydra_config=True)
    all_choices = node_dict(cfg.hydra.runtime.choices, resolve=False)
    choices = {str(k): v for k, v in all_choices.items() if not str(k).startswith("hydra/")}
    container = node_dict(cfg, resolve=False)
    container.pop("hydra", None)
    return node_dict(OmegaConf.create(container)), choices


def overrides_check(
    overrides: Mapping[str, Any] | None, logged: Mapping[str, Any], config_dir: Path | None
) -> Check:
    """Re-apply a run's logged overrides to the current ``configs/`` and compare with its config.

    Catches an edited default; only for runs launched through Hydra (with overrides logged).
    """
    name = "config files"
    if not overrides or not overrides.get("choices"):
        why = (
            "the run was not launched through Hydra (no overrides logged), so the current "
            "configs/ cannot be re-composed for it"
        )
        return Check(name=name, status="skipped", details=[why])
    args = [str(o) for o in overrides.get("overrides", [])]
    shown = f"{len(args)} override(s), {len(overrides['choices'])} group choices"
    try:
        check_logged_overrides(args)
        current, choices = _recomposed(args, config_dir)
    except (HydraException, OmegaConfBaseException, ConfigError) as err:
        why = f"the logged overrides no longer compose with configs/: {first_line(err)}"
        return Check(name, "differs", logged=shown, current="cannot compose", details=[why])
    logged_choices = {
        str(k): v for k, v in overrides["choices"].items() if not str(k).startswith("hydra/")
    }
    details = diff_configs(logged, current) + [
        f"choice {k}: {logged_choices.get(k)} logged, {choices.get(k)} now"
        for k in sorted(set(logged_choices) | set(choices))
        if logged_choices.get(k) != choices.get(k)
    ]
    return Check(
        name=name,
        status="differs" if details else "same",
        logged=shown,
        current="re-composed with the current configs/",
        details=capped(details),
    )
