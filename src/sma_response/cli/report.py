"""``sma-report``: per-patient clinician reports (HTML + PDF) from a logged training run."""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from sma_response.conf.report import register_report_configs
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.pipelines.report import ReportError, run_reports

register_resolvers()
register_report_configs()
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # quiet downloads


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="report")
def main(cfg: DictConfig) -> None:
    """Write the reports and print where they went."""
    try:
        paths = run_reports(cfg)
    except ReportError as err:
        sys.exit(f"sma-report: error: {err}")  # one line on stderr, exit status 1
    sys.stdout.write(f"sma-report: {len(paths) - 1} files and {paths[-1]}\n")


if __name__ == "__main__":
    main()
