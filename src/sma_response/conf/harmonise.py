"""Structured-config schema of ``configs/harmonise.yaml`` (the ``sma-harmonise`` entry point).

Kept beside :mod:`sma_response.conf.store` (which registers the shared ``paths`` schema); it
can be folded into that module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sma_response.conf.factory import ConfigError
from sma_response.conf.resolvers import register_resolvers
from sma_response.conf.store import PathsConfig, register_configs
from sma_response.harmonise.layout import ExportLayout
from sma_response.harmonise.linkage import LinkageSpec

__all__ = ["HarmoniseConfig", "export_harmonise_config", "register_harmonise_configs"]


@dataclass
class HarmoniseConfig:
    """Schema of ``configs/harmonise.yaml``.

    Attributes
    ----------
    paths
        Where things live.
    dataset
        Dataset name: reads ``raw_dir``, writes ``out_dir``.
    registries
        ``all`` (every mapping in ``registry_dir`` whose export folder exists) or a list of names.
    raw_dir, out_dir
        Raw dataset folder and harmonised output folder.
    registry_dir
        Folder of the registry mappings (``<name>.yaml``).
    pseudonym_key_file
        Git-ignored file holding the pseudonymisation secret (used when ``SMA_PSEUDONYM_KEY`` is
        not set; the secret is never part of the config).
    evaluate_linkage
        Measure duplicate linkage against the simulator's truth when the dataset has one.
    progress
        Show a progress bar over registries.
    linkage
        Duplicate linkage weights and tolerances.
    on_stale
        What a training or report run does when the exports (or mappings) changed since the CDM
        was built (content digest): ``reharmonise`` (default) or ``refuse``.
    """

    paths: PathsConfig = field(default_factory=PathsConfig)
    dataset: str = "default"
    registries: Any = "all"
    raw_dir: str = MISSING
    out_dir: str = MISSING
    registry_dir: str = MISSING
    pseudonym_key_file: str = MISSING
    evaluate_linkage: bool = True
    progress: bool = True
    linkage: LinkageSpec = field(default_factory=LinkageSpec)
    on_stale: str = "reharmonise"


def register_harmonise_configs() -> None:
    """Register ``harmonise_schema`` (and the shared schemas and resolvers) with Hydra."""
    register_resolvers()
    register_configs()
    ConfigStore.instance().store(name="harmonise_schema", node=HarmoniseConfig)


def export_harmonise_config(
    layout: ExportLayout,
    *,
    key_file: Path,
    paths: Mapping[str, Any],
    out_dir: Path,
    linkage: Mapping[str, Any] | None,
    progress: bool,
) -> DictConfig:
    """Return the ``harmonise`` config that reads a site's export (never anything else).

    ``linkage`` is the training run's logged linkage settings (``None``: the defaults).
    """
    node: dict[str, Any] = {
        "paths": dict(paths),
        "dataset": "validation",
        "registries": layout.registries,
        "raw_dir": str(layout.raw_dir),
        "out_dir": str(out_dir),
        "registry_dir": str(layout.registry_dir),
        "pseudonym_key_file": str(key_file),
        "evaluate_linkage": False,  # reads nothing but the export itself
        "progress": progress,
    }
    if linkage:
        node["linkage"] = dict(linkage)
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(HarmoniseConfig), node)
    except OmegaConfBaseException as err:
        msg = f"harmonisation settings: {err}".splitlines()[0]
        raise ConfigError(msg) from err
    if not isinstance(cfg, DictConfig):  # merged onto a structured schema: a mapping
        msg = "harmonisation settings: not a mapping"
        raise ConfigError(msg)
    return cfg
