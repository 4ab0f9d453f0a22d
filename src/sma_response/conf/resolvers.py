"""OmegaConf resolvers and the locations of the project's config folders."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

#: Repository root (the folder holding ``configs/``); for an installed wheel, the working dir.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
if not (PROJECT_ROOT / "configs").is_dir():  # installed as a wheel, not from a checkout
    PROJECT_ROOT = Path.cwd()
CONFIG_DIR = PROJECT_ROOT / "configs"


def register_resolvers() -> None:
    """Register ``${project_root:}`` (idempotent)."""
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))
