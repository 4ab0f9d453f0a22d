"""OmegaConf resolvers and the locations of the project's config folders."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

#: Repository root (the folder holding ``configs/``); for an installed wheel, the working dir.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
if not (PROJECT_ROOT / "configs").is_dir():  # installed as a wheel, not from a checkout
    PROJECT_ROOT = Path.cwd()
CONFIG_DIR = PROJECT_ROOT / "configs"


def target_name(kind: str, scale: str | None = None) -> str:
    """Name of a target in registered model names: the kind, and the scale of a change target.

    Examples
    --------
    >>> target_name("responder"), target_name("delta", "hfmse"), target_name("delta", "primary")
    ('responder', 'delta-hfmse', 'delta-primary')
    """
    return f"{kind}-{scale}" if kind == "delta" and scale else str(kind)


#: The MLflow experiment of runs that belong to no ``experiments/`` file.
DEFAULT_EXPERIMENT = "sma-response"


def experiment_name(experiment: str | None = None) -> str:
    """MLflow experiment of a run: one per ``experiments/`` file, the default one otherwise.

    Examples
    --------
    >>> experiment_name(None), experiment_name("xgb_optuna")
    ('sma-response', 'sma-response/xgb_optuna')
    """
    return f"{DEFAULT_EXPERIMENT}/{experiment}" if experiment else DEFAULT_EXPERIMENT


def register_resolvers() -> None:
    """Register ``${project_root:}``, ``${target_name:kind,scale}``, ``${experiment_name:e}``."""
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))
    if not OmegaConf.has_resolver("target_name"):
        OmegaConf.register_new_resolver("target_name", target_name)
    if not OmegaConf.has_resolver("experiment_name"):
        OmegaConf.register_new_resolver("experiment_name", experiment_name)
