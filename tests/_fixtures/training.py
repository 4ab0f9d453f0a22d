"""Compose the train config with data, outputs and the MLflow store under a temporary folder."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from sma_response.conf.report import register_report_configs
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.conf.train import register_train_configs

__all__ = ["compose_report", "compose_train"]


def compose_train(tmp: Path, *overrides: str, n_patients: int = 1200):
    """Compose ``configs/train.yaml`` with data, outputs and MLflow under ``tmp``."""
    register_resolvers()
    register_train_configs()
    GlobalHydra.instance().clear()
    base = [
        f"simulation.n_patients={n_patients}",
        "simulation.dataset=pytest",
        f"paths.data_dir={tmp / 'data'}",
        f"paths.output_root={tmp / 'outputs'}",
        f"tracking.uri=sqlite:///{tmp / 'mlruns' / 'mlflow.db'}",
        f"tracking.artifact_location={tmp / 'mlruns' / 'artifacts'}",
        "evaluate.n_boot=50",
        "report.tripod=false",  # one PDF per run; the shared run (conftest) writes one
        "evaluate.drop_out=none",  # a second cohort and weights per run; the shared run has them
        "evaluate.drop_out_weights=none",  # censoring models per fold; the shared run has them
        "effects.enabled=false",  # per-therapy learners per run; the shared run has them
        "report.family_summary=false",  # three more PDFs per run; the shared run writes them
        "evaluate.internal_external=false",  # a second set of fits per run; the shared run has it
        "progress=false",
        "tracking.register=true",  # the tests read their runs' model versions
    ]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*base, *overrides])
    GlobalHydra.instance().clear()
    return cfg


def compose_report(train_cfg, *overrides: str):
    """Compose ``configs/report.yaml`` against a training config's data and MLflow store."""
    register_resolvers()
    register_report_configs()
    GlobalHydra.instance().clear()
    base = [
        f"paths.data_dir={train_cfg.paths.data_dir}",
        f"paths.output_root={train_cfg.paths.output_root}",
        f"tracking.uri={train_cfg.tracking.uri}",
        f"tracking.artifact_location={train_cfg.tracking.artifact_location}",
        "report.n_jobs=1",
        "progress=false",
    ]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="report", overrides=[*base, *overrides])
    GlobalHydra.instance().clear()
    return cfg
