"""``sma-validate``: validate a logged model on a local registry export; export aggregates only.

Usage: sma-validate model=<uri> export_dir=<folder> registry=<mapping> [key=value ...]
  model       models:/<name>/<version>, models:/<name>@<alias> or runs:/<run id>/model
              (or run_id=<training run id>); model_tracking_uri=<url> if it is on a server
  export_dir  the local export: one registry's folder, or a folder of registry folders
  registry    mapping name in configs/registry/, a path to your own mapping YAML, or all
  min_cell=10 recalibrate=true site="<label>" tracking=server ...   (configs/validate.yaml)
Writes validation_report.html and validation_report.json and logs a run to the local MLflow store.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sma_response.cli._args import compose_from_argv
from sma_response.cli._errors import one_line_errors
from sma_response.cli._reports import validation_summary
from sma_response.pipelines.validate import ValidationError, run_validation
from sma_response.tracking.run import TrackingAccessError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the validation and print its headline; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    cfg = compose_from_argv(
        args,
        prog="sma-validate",
        config_name="validate",
        usage=__doc__ or "",
        aliases={"model": "model_uri", "registry": "registries"},
    )
    errors = [ValidationError, TrackingAccessError]
    with one_line_errors("sma-validate", errors, where=str(cfg.out_dir), exit=False) as done:
        result = run_validation(cfg)
    if done.status:
        return done.status
    validation_summary(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
