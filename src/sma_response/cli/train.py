"""``sma-train``: train, validate and log one model (or a sweep with ``-m``)."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from sma_response.cli._args import check_group_choices, groups_help
from sma_response.cli._display import train_summary
from sma_response.cli._errors import check_writable, one_line_errors, output_root
from sma_response.conf.resolvers import CONFIG_DIR, PROJECT_ROOT, register_resolvers
from sma_response.conf.train import register_train_configs
from sma_response.pipelines.train import TrainingError, run_training
from sma_response.tracking.run import TrackingAccessError

register_resolvers()
register_train_configs()


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Run the training pipeline; return the optimised metric for sweepers."""
    with one_line_errors("sma-train", [TrainingError, TrackingAccessError]):
        result = run_training(cfg)
    train_summary(result)
    return result.objective


EXAMPLES = (
    "sma-train                                   # the default run (experiment baseline_responder)",
    "sma-train experiments=loro_external         # leave-one-region-out validation",
    "sma-train model=hist_gb target=delta_hfmse  # another model and target",
    "sma-train -m experiments=xgb_optuna         # an Optuna sweep",
)


def cli() -> None:
    """Entry point: our ``--help``; config-group choices checked in one line; the Hydra app."""
    search = [CONFIG_DIR, PROJECT_ROOT]
    if any(a in ("--help", "-h") for a in sys.argv[1:]):
        sys.stdout.write(groups_help("sma-train", search, examples=EXAMPLES))
        sys.exit(0)
    check_group_choices(sys.argv[1:], prog="sma-train", search=search)
    check_writable("sma-train", output_root(sys.argv[1:]), key="paths.output_root")
    main()


if __name__ == "__main__":
    cli()
