"""Structured-config schema of ``configs/reproduce.yaml`` (the ``sma-reproduce`` entry point)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from sma_response.conf.store import PathsConfig, register_configs
from sma_response.tracking.spec import TrackingSpec

__all__ = ["ReproduceConfig", "register_reproduce_configs"]


@dataclass
class ReproduceConfig:
    """Schema of ``configs/reproduce.yaml``.

    Attributes
    ----------
    paths, tracking
        The current checkout and the MLflow store holding the run (the reproduction is logged
        there too).
    run_id
        The run to reproduce.
    rerun
        Re-run the training and compare results; ``False`` only checks the environment.
    changes
        Overrides applied to the logged config before the re-run (``["seed=1"]``); each one is
        reported as a difference.
    data_dir, output_root
        Where the data and outputs are now; ``None``: the logged folders, moved with the
        checkout when it moved.
    compare
        Logged files compared exactly between the two runs (when the original has them).
    """

    paths: PathsConfig = field(default_factory=PathsConfig)
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    run_id: str = MISSING
    rerun: bool = True
    changes: list[str] = field(default_factory=list)
    data_dir: str | None = None
    output_root: str | None = None
    compare: list[str] = field(default_factory=list)


def register_reproduce_configs() -> None:
    """Register ``reproduce_schema`` (and the shared schemas) with Hydra's ConfigStore."""
    register_configs()
    store = ConfigStore.instance()
    store.store(name="reproduce_schema", node=ReproduceConfig)
    store.store(group="tracking", name="tracking_schema", node=TrackingSpec)
