"""Structured-config schema of ``configs/validate.yaml`` (the ``sma-validate`` entry point)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from sma_response.conf.factory import ConfigError
from sma_response.conf.nodes import node_dict, node_spec
from sma_response.conf.store import PathsConfig, register_configs
from sma_response.tracking.spec import TrackingSpec

__all__ = ["ValidateConfig", "register_validate_configs", "validate_arguments"]


@dataclass
class ValidateConfig:
    """Schema of ``configs/validate.yaml``.

    Attributes
    ----------
    paths
        Where things live.
    tracking
        Store the validation run is logged to (the local one by default).
    model_uri
        ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or ``runs:/<run_id>/model``.
    run_id
        Alternatively the model's training run.
    model_tracking_uri
        Store holding the model (a consortium tracking server); ``None``: ``tracking.uri``.
    export_dir
        The local registry export: one registry's folder, or a folder of registry folders.
    registries
        Mapping of the export: a name in ``registry_dir``, a path to a mapping YAML, ``all``
        (every mapping whose folder is in ``export_dir``) or a list of names.
    registry_dir, pseudonym_key_file
        As in ``configs/harmonise.yaml``.
    site
        Label of the validating site, shown in the report.
    min_cell
        Cells (subgroups, calibration bins, curve steps) with fewer patients, events or
        non-events are suppressed.
    recalibrate
        Also fit recalibration in the large and logistic (linear) recalibration locally and
        report performance before and after.
    n_boot
        Bootstrap resamples for confidence intervals.
    seed
        Seed of the bootstrap.
    out_dir
        Reports go to ``<out_dir>/<validation run id>/``.
    progress
        Progress bars while harmonising.
    """

    paths: PathsConfig = field(default_factory=PathsConfig)
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    model_uri: str | None = None
    run_id: str | None = None
    model_tracking_uri: str | None = None
    export_dir: str = MISSING
    registries: Any = MISSING
    registry_dir: str = MISSING
    pseudonym_key_file: str = MISSING
    site: str = "local site"
    min_cell: int = 10
    recalibrate: bool = True
    n_boot: int = 200
    seed: int = 0
    out_dir: str = MISSING
    progress: bool = True


def register_validate_configs() -> None:
    """Register ``validate_schema`` (and the shared schemas) with Hydra's ConfigStore."""
    register_configs()
    store = ConfigStore.instance()
    store.store(name="validate_schema", node=ValidateConfig)
    store.store(group="tracking", name="tracking_schema", node=TrackingSpec)


def validate_arguments(cfg: DictConfig) -> dict[str, Any]:
    """Return the keyword arguments of ``validate_model`` from a composed ``validate`` config.

    Raises
    ------
    ConfigError
        When the export or its mapping is not given (one line with the command to run).
    """
    for key in ("export_dir", "registries"):
        if OmegaConf.is_missing(cfg, key):
            msg = (
                f"{key}: required (sma-validate model=<uri> export_dir=<folder> registry=<mapping>)"
            )
            raise ConfigError(msg)
    tracking = node_spec(cfg.tracking, TrackingSpec, key="tracking")
    model_tracking = None
    if cfg.model_tracking_uri and cfg.model_tracking_uri != tracking.uri:
        model_tracking = TrackingSpec(uri=str(cfg.model_tracking_uri), artifact_location=None)
    registries = cfg.registries if isinstance(cfg.registries, str) else list(cfg.registries)
    texts = ("export_dir", "registry_dir", "pseudonym_key_file", "out_dir", "site")
    return {
        "model_uri": cfg.model_uri,
        "run_id": cfg.run_id,
        "registries": registries,
        "tracking": tracking,
        "model_tracking": model_tracking,
        "paths": node_dict(cfg.paths, key="paths"),
        **{key: str(cfg[key]) for key in texts},
        "min_cell": int(cfg.min_cell),
        "recalibrate": bool(cfg.recalibrate),
        "n_boot": int(cfg.n_boot),
        "seed": int(cfg.seed),
        "progress": bool(cfg.progress),
    }
