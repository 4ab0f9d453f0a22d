"""Hydra callbacks: group the jobs of a multirun sweep under one MLflow parent run."""

from __future__ import annotations

import atexit
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from sma_response.conf.nodes import node_spec
from sma_response.evaluate.plots import plot_learning_curve
from sma_response.tracking.lookup import register_model, set_run_tags
from sma_response.tracking.provenance import git_dirty, git_sha
from sma_response.tracking.run import child_runs, end_parent_run, start_parent_run
from sma_response.tracking.spec import TrackingSpec

log = logging.getLogger(__name__)

#: Environment variable carrying the parent run id to the sweep's jobs (inherited by workers).
PARENT_RUN_ENV = "SMA_PARENT_RUN_ID"
#: Metrics shown for every child of a sweep, by task.
SWEEP_METRICS = {
    "classification": ["cv/auroc", "cv/auprc", "cv/brier", "cv/calibration_slope"],
    "regression": ["cv/rmse", "cv/mae", "cv/r2", "cv/calibration_slope"],
}
#: A sweep tagged so (``tags: [learning_curve]``) also logs its learning curve on the parent.
LEARNING_CURVE = "learning_curve"
#: Metrics for which lower is better (the sweep's best run minimises them).
LOWER_IS_BETTER = ("brier", "rmse", "mae")


def _tracking(config: DictConfig) -> TrackingSpec:
    return node_spec(config.tracking, TrackingSpec, key="tracking")


def _sweep_metrics(config: DictConfig) -> list[str]:
    task = "regression" if config.get("target", {}).get("kind") == "delta" else "classification"
    optimised = str(config.get("optimized_metric") or SWEEP_METRICS[task][0])
    return list(dict.fromkeys([optimised, *SWEEP_METRICS[task]]))


class MLflowParentRun(Callback):
    """Open a parent run when a multirun starts; at its end, log and print the comparison."""

    def __init__(self) -> None:
        self.run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Create the parent run and hand its id to the jobs."""
        spec = _tracking(config)
        name = f"sweep:{config.get('experiment') or config.get('task_name', 'train')}"
        root = Path(str(config.paths.root_dir))
        tags = {
            "sweep": "parent",
            "experiment": str(config.get("experiment") or "none"),
            "optimized_metric": _sweep_metrics(config)[0],
            "git_sha": git_sha(root) or "unknown",
            "git_dirty": str(git_dirty(root)),
            "seed": str(config.get("seed")),
        }
        self.run_id = start_parent_run(spec, run_name=name, tags=tags)
        os.environ[PARENT_RUN_ENV] = self.run_id
        # A job that fails aborts the sweep before on_multirun_end: the parent run must still
        # end (as FAILED), never stay RUNNING.
        atexit.register(self._fail_if_open, spec)
        log.info("multirun parent MLflow run %s", self.run_id)

    def _fail_if_open(self, spec: TrackingSpec) -> None:
        if self.run_id is None:
            return
        run_id, self.run_id = self.run_id, None
        end_parent_run(spec, run_id, status="FAILED")
        os.environ.pop(PARENT_RUN_ENV, None)
        log.error("sweep failed: parent MLflow run %s ended as FAILED", run_id)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Log the children's metrics as ``sweep/comparison.csv`` and the best value; finish."""
        if self.run_id is None:
            return
        spec = _tracking(config)
        metrics = _sweep_metrics(config)
        key = metrics[0]
        confirm = f"confirm/{key.split('/', 1)[-1]}"  # not a column: no one selects on it
        table = child_runs(spec, self.run_id, metrics=[*metrics, confirm])
        table = ranked(table, key)
        summary: dict[str, float] = {"sweep/n_runs": float(len(table))}
        curve = LEARNING_CURVE in list(config.get("tags") or [])
        best_line = ""
        if table["best"].any():
            row = table.loc[table["best"]].iloc[0]
            summary[f"best/{key}"] = float(row[key])
            best_line = _register_best(spec, self.run_id, str(row["run_id"]))
            if not curve and not math.isnan(float(row[confirm])):  # a curve has no "best"
                summary[f"best/{confirm}"] = float(row[confirm])
                best_line += confirmation_note(key, float(row[key]), float(row[confirm]))
        table = table.drop(columns=[confirm])
        extra = learning_curve(spec, self.run_id, metric=key.split("/", 1)[-1]) if curve else {}
        run_id, self.run_id = self.run_id, None
        failed = bool(len(table)) and "status" in table and (table["status"] != "FINISHED").any()
        end_parent_run(
            spec, run_id, summary=summary, table=table, status="FAILED" if failed else "FINISHED",
            extra=extra,
        )  # fmt: skip
        os.environ.pop(PARENT_RUN_ENV, None)
        _print_comparison(table, metrics=metrics, parent_run_id=run_id)
        if best_line:
            Console().print(best_line, highlight=False)


def learning_curve(spec: TrackingSpec, parent_run_id: str, *, metric: str) -> dict[str, Any]:
    """Return the sweep's learning curve: its table and a figure per metric, by artifact path.

    Each child is one development size (``cohort/n_index_events``); its cross-validated and
    reserved-person (``confirm/*``) figures are drawn against it, with the largest run's Riley
    minimum (``samplesize/n_required``) as a line.
    """
    metrics = [metric, "calibration_slope"]
    names = [
        f"{prefix}/{m}{end}"
        for m in metrics
        for prefix in ("cv", "confirm")
        for end in ("", "_ci_low", "_ci_high")
    ]
    runs = child_runs(
        spec, parent_run_id, metrics=["cohort/n_index_events", "samplesize/n_required", *names]
    )
    runs = runs.rename(columns={"cohort/n_index_events": "n"}).sort_values("n")
    required = runs["samplesize/n_required"].dropna()
    n_required = float(required.iloc[-1]) if len(required) else None
    out: dict[str, Any] = {"sweep/learning_curve.csv": runs}
    for m in metrics:
        out[f"sweep/learning_curve_{m}.png"] = plot_learning_curve(
            runs, metric=m, n_required=n_required
        )
    return out


def confirmation_note(key: str, selected: float, confirmed: float) -> str:
    """Set the best run's selected-on figure beside its held-out confirmation (sentence).

    Examples
    --------
    >>> confirmation_note("cv/auroc", 0.885, 0.861)  # doctest: +NORMALIZE_WHITESPACE
    '; cv/auroc 0.885 on the folds the search selected on, 0.861 on the persons reserved from
    the whole search (confirm/auroc: the estimate to report)'
    """
    name = key.split("/", 1)[-1]
    return (
        f"; {key} {selected:.3f} on the folds the search selected on, {confirmed:.3f} on the "
        f"persons reserved from the whole search (confirm/{name}: the estimate to report)"
    )


def _register_best(spec: TrackingSpec, parent_run_id: str, best: str) -> str:
    """Tag the parent with the best child; register the best child's model (members do not)."""
    set_run_tags(spec, parent_run_id, {"sweep.best_run_id": best})
    if not spec.registered_model_name or not spec.log_model or not spec.register:
        return f"best run {best} (not registered: tracking.register=true registers it)"
    try:
        version = register_model(spec, f"runs:/{best}/model")
    except Exception as err:
        log.warning("the best run's model was not registered: %s", err)
        return f"best run {best} (its model could not be registered)"
    return f"best run {best}: registered as models:/{spec.registered_model_name}/{version}"


def ranked(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """Sort a sweep's children by ``key`` (best first) and mark the best one (``best``).

    Lower is better for :data:`LOWER_IS_BETTER` metrics; runs without the metric come last.

    Examples
    --------
    >>> t = pd.DataFrame({"run_id": ["a", "b", "c"], "cv/auroc": [0.8, float("nan"), 0.9]})
    >>> ranked(t, "cv/auroc")[["run_id", "best"]].values.tolist()
    [['c', True], ['a', False], ['b', False]]
    """
    out = table.copy()
    if key not in out or out[key].isna().all():
        return out.assign(best=False)
    lower = key.rsplit("/", 1)[-1].startswith(LOWER_IS_BETTER)
    out = out.sort_values(key, ascending=lower, na_position="last", kind="stable")
    out["best"] = False
    out.iloc[0, out.columns.get_loc("best")] = True
    return out.reset_index(drop=True)


def round_overrides(text: str, digits: int = 3) -> str:
    """Shorten the numbers of a run's overrides to ``digits`` significant digits.

    Examples
    --------
    >>> round_overrides("model.classifier.learning_rate=0.012345678 model.classifier.max_depth=4")
    'model.classifier.learning_rate=0.0123 model.classifier.max_depth=4'
    """

    def short(match: re.Match[str]) -> str:
        return f"={float(match.group(1)):.{digits}g}"

    return re.sub(r"=(-?\d+\.\d+(?:e-?\d+)?)(?=\s|$)", short, text)


def _print_comparison(table: Any, *, metrics: list[str], parent_run_id: str) -> None:
    console = Console(width=None if Console().is_terminal else 100)
    out = Table(
        title=f"Sweep: {len(table)} runs under parent run {parent_run_id}, best first "
        f"by {metrics[0]}"
    )
    out.add_column("run", overflow="fold")
    out.add_column("overrides", overflow="fold", ratio=1)
    for column in metrics:
        out.add_column(column, justify="right")
    for row in table.to_dict("records"):
        cells = [
            "-" if not isinstance(v, float) or math.isnan(v) else f"{v:.3f}"
            for v in (row.get(m) for m in metrics)
        ]
        mark = "* " if row.get("best") else ""
        out.add_row(
            f"{mark}{str(row['run_id'])[:8]}", round_overrides(str(row.get("overrides") or "")),
            *cells, style="bold" if row.get("best") else None,
        )  # fmt: skip
    console.print(out)
    console.print("* the best run", highlight=False)
