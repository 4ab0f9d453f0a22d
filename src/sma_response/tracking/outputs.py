"""What a training run logs, and where: inputs, results and the per-therapy contrasts.

The artifact layout (``cohort/``, ``evaluation/``, ``predictions/``, ``effects/``, ``config/``,
``environment/``, ``data/``) is read back by ``sma-reproduce``, ``sma-report`` and
``sma-validate``; it is written here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sma_response.effects.run import EffectsResult
from sma_response.evaluate.dropout import EstimandBias
from sma_response.evaluate.plots import performance_figures
from sma_response.evaluate.samplesize import SampleSize
from sma_response.evaluate.summary import RunEvaluation, first_repeat, held_out_regions
from sma_response.features.design import Design
from sma_response.models.fit import RunFits
from sma_response.tracking.provenance import installed_requirements, package_versions
from sma_response.tracking.run import RunLogger
from sma_response.tracking.spec import TrackingSpec

__all__ = ["TrainResult", "log_effects", "log_training_inputs", "log_training_results"]

#: Config keys not logged as parameters: folders of this machine, the tracking store itself.
_UNLOGGED_PARAMS = ("paths.", "harmonise.paths", "tracking.")


def log_training_inputs(
    run: RunLogger,
    *,
    config: Mapping[str, Any],
    params: Mapping[str, Any],
    hydra: Mapping[str, Any],
    cdm_dir: Path,
    digest: str,
    dataset: str,
    fingerprint: Mapping[str, Any],
) -> None:
    """Log the resolved config, its flat parameters, overrides, environment and data identity.

    ``params`` are the config's dotted keys (folders and tracking settings are left out);
    ``fingerprint`` holds rows and digest per CDM table, so ``sma-reproduce`` can name what
    changed.
    """
    run.log_params({k: v for k, v in params.items() if not k.startswith(_UNLOGGED_PARAMS)})
    run.log_dict(dict(config), "config/config.yaml")
    run.log_dict(
        {"overrides": hydra.get("overrides", []), "choices": hydra.get("choices", {})},
        "config/overrides.json",
    )
    run.log_text("\n".join(installed_requirements()) + "\n", "environment/versions.txt")
    run.log_dict(package_versions(), "environment/key_packages.json")
    run.log_dataset(uri=str(cdm_dir), digest=digest, name=f"cdm:{dataset}")
    run.log_dict(dict(fingerprint), "data/cdm_fingerprint.json")


def log_training_results(
    run: RunLogger, design: Design, fits: RunFits, ev: RunEvaluation, *, task: str
) -> None:
    """Log metrics, attrition, subgroups, out-of-fold predictions and the performance figures."""
    run.log_metrics(ev.logged_metrics())
    if ev.not_estimable:  # a NaN figure always comes with its reason
        run.set_tags({f"not_estimable.{k}": v for k, v in ev.not_estimable.items()})
    cohort = design.cohort
    run.log_metrics(
        {"cohort/n_index_events": len(cohort), "cohort/n_patients": cohort["linked_id"].nunique()}
    )
    run.log_table(design.attrition, "cohort/attrition.csv")
    run.log_table(ev.subgroups, "evaluation/subgroups.csv")
    if ev.internal_external is not None:
        run.log_table(ev.internal_external.regions, "evaluation/loro_regions.csv")
    if isinstance(ev.sample_size, SampleSize):
        run.log_table(ev.sample_size.table(), "evaluation/sample_size.csv")
    elif ev.sample_size is not None:
        run.set_tags({"samplesize.not_estimable": ev.sample_size})
    oof = fits.cv.predictions.merge(cohort[["index_id", "patient_id"]], on="index_id", how="left")
    run.log_table(
        oof[["patient_id", "index_id", "repeat", "fold", "y_true", "y_pred"]],
        "predictions/oof.parquet",
    )
    if fits.baseline_cv is not None:
        run.log_table(fits.baseline_cv.predictions, "predictions/oof_baseline.parquet")
    first = first_repeat(fits.cv.predictions)
    figures = performance_figures(
        first["y_true"].to_numpy(), first["y_pred"].to_numpy(), ev.subgroups, task=task
    )
    for path, fig in figures.items():
        run.log_figure(fig, path)


def log_effects(run: RunLogger, effects: EffectsResult | None) -> None:
    """Log the per-therapy contrasts, their overlap, population and truth scores (if any)."""
    if effects is None:
        return
    run.log_metrics(effects.metrics)
    run.log_table(effects.estimates, "effects/estimates.parquet")
    run.log_table(effects.overlap, "effects/overlap.csv")
    run.log_table(effects.population, "effects/population.csv")
    if not effects.scores.empty:
        run.log_table(effects.scores, "effects/truth_scores.csv")
    for path, fig in effects.figures.items():
        run.log_figure(fig, path)


@dataclass
class TrainResult:
    """What one training run produced (also what the CLI summary shows)."""

    run_id: str
    experiment_name: str
    tracking_uri: str
    artifact_uri: str
    task: str
    model_name: str
    n_index_events: int
    n_patients: int
    n_events: int
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    comparison: dict[str, float]  # model minus baseline, paired bootstrap intervals
    baseline_name: str | None
    oracle: dict[str, float]
    attrition: pd.DataFrame
    model_uri: str | None
    model_version: str | None
    registered_model: str | None  # models:/<name>/<version>
    data_digest: str
    objective: float | None
    fit_seconds: float
    wall_seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    sample_size: SampleSize | str | None = None  # Riley's criteria, or why not estimable
    not_estimable: dict[str, str] = field(default_factory=dict)  # NaN figure -> why
    estimand_text: str = ""  # what the target estimates (the attrition table's estimand step)
    drop_out: EstimandBias | None = None  # the cohort's mean target under drop-out
    effects: EffectsResult | None = None  # per-therapy contrasts, overlap, truth's score
    held_out_regions: pd.DataFrame | None = None  # each region's AUROC/RMSE when held out
    held_out_pooled: float | None = None  # leave-one-region-out, pooled (beside cv/)
    weighted: dict[str, float] = field(default_factory=dict)  # ipcw/*: weighted to the eligible
    confirmation: dict[str, float] = field(default_factory=dict)  # confirm/*: reserved persons

    @classmethod
    def of_run(
        cls,
        run: RunLogger,
        tracking: TrackingSpec,
        design: Design,
        fits: RunFits,
        ev: RunEvaluation,
        *,
        task: str,
        model_name: str,
        baseline_name: str | None,
        objective_key: str,
        loro: bool,
        model: tuple[str | None, str | None],
        digest: str,
        timings: dict[str, float],
    ) -> TrainResult:
        """Assemble the result of a finished run; ``objective_key`` names the swept metric.

        ``model`` is the logged model's URI and registered version (each ``None`` when not
        logged or not registered); ``timings`` holds ``fit_main``, ``fit_baseline``,
        ``fit_change_model`` and ``pipeline`` seconds among the steps.
        """
        model_uri, version = model
        objective = ev.metrics.get(objective_key.split("/", 1)[-1])
        y, cohort = design.y, design.cohort
        key = "auroc" if task == "classification" else "rmse"  # the pooled held-out figure
        pooled = None if ev.internal_external is None else ev.internal_external.pooled[key]
        return cls(
            run_id=run.run_id,
            experiment_name=tracking.experiment_name,
            tracking_uri=tracking.uri,
            artifact_uri=run.artifact_uri,
            task=task,
            model_name=model_name,
            n_index_events=len(cohort),
            n_patients=int(cohort["linked_id"].nunique()),
            n_events=int(y.sum()) if task == "classification" and y is not None else 0,
            metrics=ev.metrics,
            baseline_metrics=ev.baseline_metrics,
            comparison=ev.comparison,
            baseline_name=baseline_name if fits.baseline_cv is not None else None,
            held_out_regions=held_out_regions(ev, task=task, loro=loro),
            held_out_pooled=pooled,
            oracle=ev.oracle,
            attrition=design.attrition,
            model_uri=model_uri,
            model_version=version,
            registered_model=(
                f"models:/{tracking.registered_model_name}/{version}" if version else None
            ),
            data_digest=digest,
            objective=None if objective is None else float(objective),
            fit_seconds=timings["fit_main"] + timings["fit_baseline"] + timings["fit_change_model"],
            wall_seconds=timings["pipeline"],
            timings=timings,
            sample_size=ev.sample_size,
            not_estimable=ev.not_estimable,
            drop_out=ev.estimand,
            weighted=ev.weighted,
            confirmation=ev.confirmation,
        )
