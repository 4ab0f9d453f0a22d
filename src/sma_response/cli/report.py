"""``sma-report``: per-patient clinician reports (HTML + PDF) from a logged training run."""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from sma_response.cli._errors import check_writable, one_line_errors, output_root
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
    with one_line_errors(
        "sma-report", [ReportError, TrackingAccessError], where=str(cfg.out_dir), status=1
    ):
        result = run_reports(cfg)
    report_summary(result)


def cli() -> None:
    """Entry point: a read-only run folder is one line before Hydra creates it; the Hydra app."""
    check_writable("sma-report", output_root(sys.argv[1:]), key="paths.output_root")
    main()


if __name__ == "__main__":
    cli()
