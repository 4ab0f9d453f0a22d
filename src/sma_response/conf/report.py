"""Structured-config schema of ``configs/report.yaml`` (the ``sma-report`` entry point)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from sma_response.conf.store import PathsConfig, register_configs
from sma_response.report.spec import ReportSpec
from sma_response.tracking.spec import TrackingSpec

__all__ = ["ReportConfig", "register_report_configs"]


@dataclass
class ReportConfig:
    """Schema of ``configs/report.yaml``.

    Attributes
    ----------
    paths, tracking, report
        Where things live, the MLflow store holding the run, what reports show.
    run_id
        The training run to report on (or give ``model_uri``).
    model_uri
        ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or ``runs:/<run_id>/model``.
    patients
        Pseudonymous patient ids or index ids; empty: a few examples (cohort) or everyone
        (export).
    export_path
        A registry export (folder, or one file of it) of new patients; ``None``: report on
        the run's own cohort.
    export_registry
        Name of the export's mapping in ``registry_dir`` (e.g. ``smartcare_dach``).
    registry_dir, pseudonym_key_file
        As in ``configs/harmonise.yaml``: the same key gives the same pseudonyms.
    out_dir
        Reports go to ``<out_dir>/<run_id>/`` (new patients: ``<run_id>/export-<registry>/``).
    progress
        Show a progress bar while reports are rendered.
    """

    paths: PathsConfig = field(default_factory=PathsConfig)
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    report: ReportSpec = field(default_factory=ReportSpec)
    run_id: str | None = None
    model_uri: str | None = None
    patients: list[str] = field(default_factory=list)
    export_path: str | None = None
    export_registry: str | None = None
    registry_dir: str = MISSING
    pseudonym_key_file: str = MISSING
    out_dir: str = MISSING
    progress: bool = True


def register_report_configs() -> None:
    """Register ``report_config_schema`` and the group schemas with Hydra's ConfigStore."""
    register_configs()
    store = ConfigStore.instance()
    store.store(name="report_config_schema", node=ReportConfig)
    store.store(group="report", name="report_schema", node=ReportSpec)
    store.store(group="tracking", name="tracking_schema", node=TrackingSpec)
