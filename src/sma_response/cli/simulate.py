"""``sma-simulate``: write a synthetic multi-registry SMA dataset and print a summary."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig
from rich.console import Console

from sma_response.cli._errors import check_writable, one_line_errors, output_root
from sma_response.cli._tables import simulation_table
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.conf.store import register_configs
from sma_response.pipelines.simulate import run_simulation
from sma_response.simulate.spec import SimulationSpecError

log = logging.getLogger(__name__)
register_resolvers()
register_configs()


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="simulate")
def main(cfg: DictConfig) -> None:
    """Simulate the dataset described by ``cfg`` and print the summary table."""
    with one_line_errors("sma-simulate", [SimulationSpecError], where=str(cfg.paths.data_dir)):
        result = run_simulation(cfg)
    Console(width=None if Console().is_terminal else 120).print(simulation_table(result))


def cli() -> None:
    """Entry point: a read-only run folder is one line before Hydra creates it; the Hydra app."""
    check_writable("sma-simulate", output_root(sys.argv[1:]), key="paths.output_root")
    main()


if __name__ == "__main__":
    cli()
