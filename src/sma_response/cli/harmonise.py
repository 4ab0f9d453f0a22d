"""``sma-harmonise``: harmonise a dataset's registry exports into the CDM and print a summary."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig
from rich.console import Console

from sma_response.cli._tables import harmonisation_table
from sma_response.conf.harmonise import register_harmonise_configs
from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.pipelines.harmonise import HarmonisationError, run_harmonisation

register_harmonise_configs()  # also registers the ${project_root:} resolver


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="harmonise")
def main(cfg: DictConfig) -> None:
    """Harmonise the dataset named by ``cfg.dataset`` and print the accounting summary."""
    try:
        result = run_harmonisation(cfg)
    except HarmonisationError as err:
        sys.stderr.write(f"sma-harmonise: error: {err}\n")
        sys.exit(2)
    Console(width=None if Console().is_terminal else 120).print(harmonisation_table(result))


if __name__ == "__main__":
    main()
