"""``sma-emulate``: emulate published SMA trials and print emulated vs published values."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from sma_response.cli._display import calibration_console_table
from sma_response.conf.nodes import node_dict, node_list
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.pipelines.emulate import run_emulation, write_calibration_report
from sma_response.simulate.evidence import EvidenceError
from sma_response.simulate.trials import TrialSpecError

register_resolvers()


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="emulate")
def main(cfg: DictConfig) -> None:
    """Emulate the trials named by ``trial`` and print the calibration table."""
    wanted = [str(t) for t in node_list(cfg.trial, key="trial")]
    trial: str | list[str] = "all" if wanted == ["all"] else wanted
    try:
        table = run_emulation(
            Path(cfg.trials_dir),
            trial=trial,
            seed=cfg.seed,
            n_per_arm=cfg.n_per_arm,
            figures_file=Path(cfg.figures_file),
            disease=node_dict(cfg.disease, key="disease"),
        )
    except (TrialSpecError, EvidenceError) as err:
        sys.stderr.write(f"sma-emulate: error: {err}\n")
        sys.exit(2)
    n_out = calibration_console_table(table)
    if cfg.report_file and table["figure"].notna().any():
        path = write_calibration_report(
            table,
            figures_file=Path(cfg.figures_file),
            loso_file=Path(cfg.loso_file) if cfg.loso_file else None,
            report_file=Path(cfg.report_file),
            settings={
                "seed": cfg.seed,
                "patients per arm": cfg.n_per_arm or "as in each spec",
                "parameters": "configs/calibration/fitted_params.yaml",
            },
        )
        sys.stdout.write(f"calibration report: {path}\n")
    if cfg.strict and n_out:
        sys.exit(1)


if __name__ == "__main__":
    main()
