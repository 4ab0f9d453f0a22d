"""``sma-report``: per-patient clinician reports (HTML + PDF) from a logged training run."""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from sma_response.cli._reports import report_summary
from sma_response.conf.report import register_report_configs
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.pipelines.report import ReportError, run_reports
from sma_response.tracking.run import TrackingAccessError

register_resolvers()
register_report_configs()
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # quiet downloads


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="report")
def main(cfg: DictConfig) -> None:
    """Write the reports and print what was written where."""
    try:
        result = run_reports(cfg)
    except (ReportError, TrackingAccessError) as err:
        sys.exit(f"sma-report: error: {err}")  # one line on stderr, exit status 1
    report_summary(result)


if __name__ == "__main__":
    main()
