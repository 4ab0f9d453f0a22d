"""``sma-harmonise``: harmonise a dataset's registry exports into the CDM and print a summary."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig
from rich.console import Console

from sma_response.cli._errors import check_writable, one_line_errors, output_root
from sma_response.cli._tables import harmonisation_table
from sma_response.conf.harmonise import register_harmonise_configs
from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.pipelines.harmonise import HarmonisationError, run_harmonisation

register_harmonise_configs()  # also registers the ${project_root:} resolver


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="harmonise")
def main(cfg: DictConfig) -> None:
    """Harmonise the dataset named by ``cfg.dataset`` and print the accounting summary."""
    with one_line_errors("sma-harmonise", [HarmonisationError], where=str(cfg.out_dir)):
        result = run_harmonisation(cfg)
    Console(width=None if Console().is_terminal else 120).print(harmonisation_table(result))


def cli() -> None:
    """Entry point: a read-only run folder is one line before Hydra creates it; the Hydra app."""
    check_writable("sma-harmonise", output_root(sys.argv[1:]), key="paths.output_root")
    main()


if __name__ == "__main__":
    cli()
