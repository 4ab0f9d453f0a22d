"""``sma-reproduce``: rebuild a logged training run, re-run it, say what differs.

Usage: sma-reproduce <run id> [key=value ...]     (keys: configs/reproduce.yaml)
  sma-reproduce 3f2a...                           reproduce a run of the local store
  sma-reproduce 3f2a... tracking=server           on the tracking server ($MLFLOW_TRACKING_URI)
  sma-reproduce 3f2a... rerun=false               only check config, data, packages and code
  sma-reproduce 3f2a... data_dir=/scratch/data    the data moved
  sma-reproduce 3f2a... model.classifier.max_depth=4   what if: any key of the logged training
                                                  config changes the re-run (a reported difference)
Exit status: 0 reproduced bit-for-bit, 1 something differs, 2 usage error or unknown run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import fields

from sma_response.cli._args import compose_from_argv
from sma_response.cli._errors import one_line_errors
from sma_response.cli._reports import reproduction_table
from sma_response.conf.reproduce import ReproduceConfig
from sma_response.pipelines.reproduce import ReproductionError, run_reproduction
from sma_response.tracking.run import TrackingAccessError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the reproduction and print the difference table; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    cfg = compose_from_argv(
        args,
        prog="sma-reproduce",
        config_name="reproduce",
        usage=__doc__ or "",
        positional="run_id",
        known=[f.name for f in fields(ReproduceConfig)],
        collect="changes",
    )
    errors = [ReproductionError, TrackingAccessError]
    with one_line_errors("sma-reproduce", errors, exit=False) as done:
        report = run_reproduction(cfg)
    if done.status:
        return done.status
    reproduction_table(report)
    return 0 if report.status in ("identical", "consistent") else 1


if __name__ == "__main__":
    sys.exit(main())
