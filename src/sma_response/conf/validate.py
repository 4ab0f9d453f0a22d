"""Structured-config schema of ``configs/validate.yaml`` (the ``sma-validate`` entry point)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from sma_response.conf.store import PathsConfig, register_configs
from sma_response.tracking.spec import TrackingSpec

__all__ = ["ValidateConfig", "register_validate_configs"]


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
