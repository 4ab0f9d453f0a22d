"""Hydra callbacks: group the jobs of a multirun sweep under one MLflow parent run."""

from __future__ import annotations

import logging
import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from sma_response.tracking.run import end_parent_run, start_parent_run
from sma_response.tracking.spec import TrackingSpec

log = logging.getLogger(__name__)

#: Environment variable carrying the parent run id to the sweep's jobs (inherited by workers).
PARENT_RUN_ENV = "SMA_PARENT_RUN_ID"


def _tracking(config: DictConfig) -> TrackingSpec:
    node = OmegaConf.to_container(config.tracking, resolve=True)
    return TrackingSpec(**node)  # type: ignore[arg-type]


class MLflowParentRun(Callback):
    """Open a parent run when a multirun starts and close it when the sweep ends."""

    def __init__(self) -> None:
        self.run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Create the parent run and hand its id to the jobs."""
        spec = _tracking(config)
        name = f"sweep:{config.get('experiment') or config.get('task_name', 'train')}"
        self.run_id = start_parent_run(spec, run_name=name, tags={"sweep": "parent"})
        os.environ[PARENT_RUN_ENV] = self.run_id
        log.info("multirun parent MLflow run %s", self.run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Mark the parent run finished."""
        if self.run_id is not None:
            end_parent_run(_tracking(config), self.run_id)
            os.environ.pop(PARENT_RUN_ENV, None)
