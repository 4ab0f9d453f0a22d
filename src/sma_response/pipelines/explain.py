"""The explain step of a training run: SHAP values, intervals, report inputs, all logged.

:func:`explain_training_run` is what ``run_training`` calls inside its MLflow run, after
evaluation. Each step is a stage call; this module only orders them and logs what they return:

1. SHAP values of every out-of-fold prediction (each fold model on its held-out rows, checked
   against the logged predictions) and of the final model on every row
   (:mod:`sma_response.explain.folds`);
2. global and per-region importance and their figures (:mod:`sma_response.explain.plots`);
3. the predicted change on the outcome scale (the run's model for a ``delta`` target, a
   companion regressor of the same family otherwise) with cross-conformal intervals whose
   held-out coverage is measured per region and per scale (:mod:`sma_response.evaluate.conformal`);
4. the report rows: held-out probability, change and interval, and the estimate under each
   therapy option (:mod:`sma_response.report.inputs`);
5. the :class:`~sma_response.report.basis.ReportBasis` (aggregates only) and example reports.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from sma_response.evaluate.conformal import (
    ConformalQuantiles,
    coverage_metrics,
    coverage_table,
    cross_conformal,
    fit_conformal,
)
from sma_response.explain.folds import check_against_predictions, explain_folds
from sma_response.explain.plots import explanation_figures
from sma_response.explain.shap_values import explain, resolve_method
from sma_response.explain.spec import ExplainSpec
from sma_response.explain.summarise import global_importance, group_importance
from sma_response.features.design import Design, observed_change
from sma_response.models.fit import CVResult, fit_cv, fit_final
from sma_response.report.basis import ReportBasis, cohort_profile, subgroup_counts
from sma_response.report.batch import write_reports
from sma_response.report.inputs import (
    ReportInputs,
    example_ids,
    held_out_alternatives,
    held_out_patients,
    outcome_frame,
    performance_rows,
    therapy_options,
)
from sma_response.report.spec import ReportSpec
from sma_response.schemas import ShapValues

__all__ = ["ExplainOutcome", "RunToExplain", "explain_training_run"]

log = logging.getLogger(__name__)


@dataclass
class RunToExplain:
    """What the training run hands to the explain step.

    Attributes
    ----------
    design
        The run's cohort, labels and feature frame (indexed by ``index_id``).
    groups, splits
        Subgroup variables (indexed by ``index_id``) and validation folds.
    cv, final
        Cross-validation result with the fold models (``keep_models=True``) and the final
        pipeline.
    subgroups
        Subgroup metrics of the run (``evaluate.subgroup_metrics``).
    change_estimator
        Unfitted regressor of the same family, fitted on the change for a classification run
        (``None`` for a regression run: the run's model predicts the change itself).
    preprocess_kind
        Preprocessing of the run's model.
    task, target_kind, target_scale, model_name
        What the run predicts, with which model.
    """

    design: Design
    groups: pd.DataFrame
    splits: pd.DataFrame
    cv: CVResult
    final: Pipeline
    subgroups: pd.DataFrame
    change_estimator: BaseEstimator | None
    preprocess_kind: str
    task: str
    target_kind: str
    target_scale: str | None
    model_name: str

    @property
    def first_repeat(self) -> int:
        """The repeat whose held-out predictions the reports and metrics use."""
        return int(self.cv.predictions["repeat"].min())


@dataclass
class ExplainOutcome:
    """What the training-run step produced."""

    basis: ReportBasis
    inputs: ReportInputs
    importance: pd.DataFrame
    coverage: pd.DataFrame
    report_paths: list[Path]
    seconds: float
    fit_seconds: float = 0.0  # fitting the change model (classification runs)


@dataclass
class _Intervals:
    change_cv: CVResult
    change_final: Pipeline
    held: pd.DataFrame  # held-out change predictions (first repeat) with the outcome frame
    intervals: pd.DataFrame
    quantiles: ConformalQuantiles
    coverage: pd.DataFrame
    fit_seconds: float


def _change_models(run: RunToExplain) -> tuple[CVResult, Pipeline, float]:
    """Models of the change on the outcome scale (the run's own for a regression run)."""
    if run.task != "classification":
        return run.cv, run.final, 0.0
    if run.change_estimator is None:
        msg = "explain: a classification run needs a change_estimator for the expected change"
        raise ValueError(msg)
    if run.design.targets is None:
        msg = "explain: a classification run needs its targets for the expected change"
        raise ValueError(msg)
    started = time.perf_counter()
    X = run.design.X
    change = observed_change(run.design.targets, X.index)
    kind = run.preprocess_kind
    change_cv = fit_cv(
        X,
        change,
        run.splits,
        estimator=run.change_estimator,
        preprocess_kind=kind,
        task="regression",
        keep_models=True,
    )
    change_final = fit_final(X, change, estimator=run.change_estimator, preprocess_kind=kind)
    return change_cv, change_final, time.perf_counter() - started


def _intervals(
    run: RunToExplain, outcome: pd.DataFrame, *, first_repeat: int, spec: ReportSpec
) -> _Intervals:
    change_cv, change_final, fit_seconds = _change_models(run)
    held = change_cv.predictions.loc[change_cv.predictions["repeat"] == first_repeat]
    held = held.join(outcome, on="index_id")
    level, min_n = spec.interval_level, spec.interval_min_n
    intervals = cross_conformal(held, level=level, min_n=min_n)
    quantiles = fit_conformal(
        (held["y_true"] - held["y_pred"]).to_numpy(),
        held["scale"].to_numpy(dtype=object),
        level=level,
        min_n=min_n,
    )
    cov_groups = run.groups[["region"]].join(outcome[["scale"]].astype(object).fillna("unknown"))
    return _Intervals(
        change_cv=change_cv,
        change_final=change_final,
        held=held,
        intervals=intervals,
        quantiles=quantiles,
        coverage=coverage_table(intervals, cov_groups),
        fit_seconds=fit_seconds,
    )


def _log_explanations(
    logger: Any,
    *,
    shap_oof: pd.DataFrame,
    shap_final: pd.DataFrame,
    importance: pd.DataFrame,
    by_region: pd.DataFrame,
    explain_info: dict[str, Any],
    figures: dict[str, Any],
) -> None:
    logger.log_table(shap_oof, "explain/shap_oof.parquet")
    logger.log_table(shap_final, "explain/shap_final.parquet")
    logger.log_table(importance, "explain/importance.csv")
    logger.log_table(global_importance(shap_final), "explain/importance_final_model.csv")
    logger.log_table(by_region.reset_index(), "explain/importance_by_region.csv")
    logger.log_dict(explain_info, "explain/spec.json")
    logger.set_tags({"explain.method_used": explain_info["method_used"]})
    for path, fig in figures.items():
        logger.log_figure(fig, path)


def _example_reports(
    logger: Any, inputs: ReportInputs, basis: ReportBasis, *, spec: ReportSpec, created: str
) -> list[Path]:
    if not (spec.enabled and spec.n_examples > 0):
        return []
    with tempfile.TemporaryDirectory() as tmp:
        chosen = example_ids(inputs.patients, n=spec.n_examples, task=basis.task)
        paths = write_reports(
            inputs, basis=basis, index_ids=chosen, folder=Path(tmp), spec=spec, created=created
        )
        logger.log_artifacts(Path(tmp), "reports")
    return [Path("reports") / p.name for p in paths]


def explain_training_run(
    logger: Any,
    run: RunToExplain,
    *,
    explain_spec: ExplainSpec,
    report_spec: ReportSpec,
    provenance: dict[str, Any],
    created: str,
    pip_requirements: list[str],
) -> ExplainOutcome:
    """Explain a training run, measure interval coverage, log everything and example reports.

    Parameters
    ----------
    logger
        The open :class:`~sma_response.tracking.run.RunLogger`.
    run
        The run's design, folds, models and subgroup metrics.
    explain_spec, report_spec
        Settings.
    provenance
        ``run_id, model_uri, model_version, data_digest, git_sha, package_version``.
    created
        Date of the run (ISO).
    pip_requirements
        Requirements of the logged change model.
    """
    started = time.perf_counter()
    if not run.cv.models:
        msg = "explain: the cross-validation kept no fold models (fit_cv(keep_models=True))"
        raise ValueError(msg)
    shap_first, importance, explain_info = _shap_step(logger, run, explain_spec)
    t_shap = time.perf_counter() - started
    outcome = outcome_frame(
        run.design.X, target_kind=run.target_kind, target_scale=run.target_scale
    )
    iv = _intervals(run, outcome, first_repeat=run.first_repeat, spec=report_spec)
    inputs, basis = _report_inputs(
        run, outcome, iv, shap_first, importance, explain_info, provenance=provenance
    )
    logger.log_table(iv.coverage, "evaluation/interval_coverage.csv")
    logger.log_metrics(coverage_metrics(iv.coverage, report_spec.interval_level))
    logger.log_text(basis.to_json(), "report/basis.json")
    logger.log_table(inputs.patients, "report/patients.parquet")
    logger.log_table(inputs.alternatives, "report/alternatives.parquet")
    if run.task == "classification" and provenance.get("model_uri"):
        logger.log_model(
            iv.change_final,
            input_example=run.design.X.head(5),
            pip_requirements=pip_requirements,
            metadata={"task": "regression", "target": "change_on_outcome_scale"},
            name="change_model",
            register=False,
        )
    t_reports = time.perf_counter()
    paths = _example_reports(logger, inputs, basis, spec=report_spec, created=created)
    seconds = time.perf_counter() - started
    logger.log_metrics(
        {
            "timing/shap_seconds": t_shap,
            "timing/example_reports_seconds": time.perf_counter() - t_reports,
            "timing/explain_seconds": seconds,
        }
    )
    log.info(
        "explain: SHAP %.1f s, whole step %.1f s; %d example reports", t_shap, seconds, len(paths)
    )
    return ExplainOutcome(
        basis=basis,
        inputs=inputs,
        importance=importance,
        coverage=iv.coverage,
        report_paths=paths,
        seconds=seconds,
        fit_seconds=iv.fit_seconds,
    )


def _shap_step(
    logger: Any, run: RunToExplain, explain_spec: ExplainSpec
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """SHAP values of every held-out and every final prediction, importance and figures."""
    X, task = run.design.X, run.task
    method = resolve_method(run.final[-1], method=explain_spec.method)
    spec = ExplainSpec(**{**asdict(explain_spec), "method": method})
    shap_oof = explain_folds(run.cv.models, X, run.splits, spec=spec)
    check_against_predictions(shap_oof, run.cv.predictions, task=task)
    shap_final = ShapValues.validate(explain(run.final, X, spec=spec), lazy=True)
    shap_first = shap_oof.loc[shap_oof["repeat"] == run.first_repeat]
    importance = global_importance(shap_first)  # held-out SHAP, as metrics use held-out rows
    explain_info = {
        **asdict(explain_spec),
        "method_used": method,
        "background": "none (tree_path_dependent)",
    }
    figures = explanation_figures(
        shap_first,
        X,
        run.groups["region"],
        importance=importance,
        n_top=explain_spec.n_top,
        n_dependence=explain_spec.n_dependence,
        task=task,
    )
    _log_explanations(
        logger,
        shap_oof=shap_oof,
        shap_final=shap_final,
        importance=importance,
        by_region=group_importance(shap_first, run.groups["region"].rename("region")),
        explain_info=explain_info,
        figures=figures,
    )
    return shap_first, importance, explain_info


def _report_inputs(
    run: RunToExplain,
    outcome: pd.DataFrame,
    iv: _Intervals,
    shap_first: pd.DataFrame,
    importance: pd.DataFrame,
    explain_info: dict[str, Any],
    *,
    provenance: dict[str, Any],
) -> tuple[ReportInputs, ReportBasis]:
    """Held-out report rows, the estimate under each therapy, and the run's report basis."""
    X, task = run.design.X, run.task
    preds = run.cv.predictions
    main_first = preds.loc[preds["repeat"] == run.first_repeat].set_index("index_id")
    patients = held_out_patients(
        main_first, iv.held, iv.intervals, run.design.cohort, outcome, task=task,
        quantiles=iv.quantiles,
    )  # fmt: skip
    alternatives = held_out_alternatives(
        run.cv.models, iv.change_cv.models, X, outcome, run.splits, repeat=run.first_repeat,
        task=task, quantiles=iv.quantiles,
    )  # fmt: skip
    basis = ReportBasis(
        task=task,
        target_kind=run.target_kind,
        target_scale=run.target_scale,
        model_name=run.model_name,
        provenance={**provenance, "model_name": run.model_name},
        explain=explain_info,
        interval=iv.quantiles.to_dict(),
        coverage=iv.coverage.to_dict("records"),
        profile=cohort_profile(X),
        counts=subgroup_counts(run.groups.reindex(X.index)),
        performance=performance_rows(run.subgroups, main_first.reset_index(), run.groups),
        importance=importance.to_dict("records"),
        therapies=therapy_options(X),
    )
    return ReportInputs(patients=patients, alternatives=alternatives, shap=shap_first), basis
