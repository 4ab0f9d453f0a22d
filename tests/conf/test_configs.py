"""Every primary config, group option and experiment composes; every _target_ instantiates."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from sklearn.base import is_classifier, is_regressor

from sma_response.conf.factory import build_estimator
from sma_response.conf.resolvers import CONFIG_DIR, PROJECT_ROOT, register_resolvers
from sma_response.conf.train import register_train_configs

GROUPS = ["cohort", "target", "features", "validation", "model", "evaluate", "tracking"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONFIG_DIR / g).glob("*.yaml"))]
EXPERIMENTS = sorted(p.stem for p in (PROJECT_ROOT / "experiments").glob("*.yaml"))


def _compose(*overrides: str, name: str = "train"):
    register_resolvers()
    register_train_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides))
    GlobalHydra.instance().clear()
    return cfg


def test_every_experiment_is_listed():
    assert set(EXPERIMENTS) >= {"baseline_responder", "loro_external", "model_comparison"}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_group_option_composes_and_resolves(group, option):
    cfg = _compose(f"{group}={option}")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved[group]
    if group == "model":
        assert is_classifier(build_estimator(cfg.model["classifier"], key="model.classifier"))
        assert is_regressor(build_estimator(cfg.model["regressor"], key="model.regressor"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes(name):
    cfg = _compose(f"experiments={name}")
    assert cfg.experiment == name
    header = (PROJECT_ROOT / "experiments" / f"{name}.yaml").read_text(encoding="utf-8")
    assert header.startswith("# @package _global_")
    assert "# Q:" in header
    assert "Run: sma-train" in header


def test_typo_in_override_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="n_splitz"):
        _compose("validation.n_splitz=3")


def test_typo_in_a_group_file_fails_at_compose_time(tmp_path):
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "typo.yaml").write_text(
        "defaults:\n  - validation_schema\n  - _self_\nn_splitz: 3\n", encoding="utf-8"
    )
    searchpath = f"hydra.searchpath=[file://{tmp_path},file://{PROJECT_ROOT}]"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sma_response.cli.train",
            "validation=typo",
            searchpath,
            "--cfg",
            "job",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "n_splitz" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wrong_type_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException, match="n_splits"):
        _compose("validation.n_splits=five")


@pytest.mark.parametrize("name", ["simulate", "harmonise", "emulate"])
def test_other_primary_configs_compose(name):
    from sma_response.conf.harmonise import register_harmonise_configs

    register_harmonise_configs()
    cfg = _compose(name=name)
    expected = {"simulate": "simulation", "harmonise": "registries", "emulate": "trial"}[name]
    assert expected in cfg
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


@pytest.mark.parametrize("name", ["train", "report"])
def test_pdf_rendering_chatter_stays_out_of_the_job_log(name):
    """Issue #14.6: WeasyPrint's per-page INFO lines were 75% of train.log."""
    job_logging = OmegaConf.load(CONFIG_DIR / f"{name}.yaml").hydra.job_logging
    loggers = OmegaConf.to_container(job_logging, resolve=False).get("loggers", {})
    for noisy in ("weasyprint", "fontTools"):  # parents of weasyprint.progress, fontTools.subset
        assert loggers.get(noisy, {}).get("level") == "WARNING", noisy
    assert "sma_response" not in loggers  # the package's own INFO lines stay
