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


def register_resolvers() -> None:
    """Register ``${project_root:}`` and ``${target_name:kind,scale}`` (idempotent)."""
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))
    if not OmegaConf.has_resolver("target_name"):
        OmegaConf.register_new_resolver("target_name", target_name)
