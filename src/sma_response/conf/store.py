"""Structured-config schemas registered with Hydra's ConfigStore, so typos fail at compose time.

Each stage owns its spec dataclass (``simulate/spec.py`` ...); this module assembles them into
the schemas of the primary configs and registers them:

* ``simulate_schema``: the whole ``configs/simulate.yaml`` (:class:`SimulateConfig`);
* ``simulation/simulation_schema``: one option of the ``simulation`` group
  (:class:`~sma_response.simulate.spec.SimulationSpec`);
* ``paths/paths_schema``: one option of the ``paths`` group (:class:`PathsConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from sma_response.simulate.spec import SimulationSpec

__all__ = ["PathsConfig", "SimulateConfig", "register_configs"]


@dataclass
class PathsConfig:
    """Where things live (the ``paths`` group); every path the pipelines use comes from here.

    Attributes
    ----------
    root_dir
        Repository root (``${project_root:}``).
    data_dir
        Data folder; simulated datasets go to ``<data_dir>/raw/<dataset>/``.
    output_root
        Root of run outputs (Hydra run folders, logs).
    """

    root_dir: str = MISSING
    data_dir: str = MISSING
    output_root: str = MISSING


@dataclass
class SimulateConfig:
    """Schema of ``configs/simulate.yaml`` (the ``sma-simulate`` entry point).

    Attributes
    ----------
    simulation
        What to simulate.
    paths
        Where to write it.
    seed
        One seed for the whole dataset.
    progress
        Show a progress bar over patients.
    """

    simulation: SimulationSpec = field(default_factory=SimulationSpec)
    paths: PathsConfig = field(default_factory=PathsConfig)
    seed: int = 0
    progress: bool = True


def register_configs() -> None:
    """Register the schemas with Hydra's ConfigStore (idempotent: a second call overwrites)."""
    store = ConfigStore.instance()
    store.store(name="simulate_schema", node=SimulateConfig)
    store.store(group="simulation", name="simulation_schema", node=SimulationSpec)
    store.store(group="paths", name="paths_schema", node=PathsConfig)
