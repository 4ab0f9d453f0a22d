"""The explain step of a training run: SHAP values, intervals, report inputs, all logged.

:func:`explain_training_run` is what ``run_training`` calls inside its MLflow run, after
evaluation. It orders stage calls and logs what they return: SHAP values of every held-out and
final prediction with importance and figures (:mod:`sma_response.explain`), the change model and
its conformal intervals, the report rows and basis (:mod:`sma_response.report.training`), and
example reports.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sma_response.evaluate.conformal import coverage_metrics
from sma_response.explain.folds import check_against_predictions, explain_folds
from sma_response.explain.plots import explanation_figures
from sma_response.explain.shap_values import explain, resolve_method
from sma_response.explain.spec import ExplainSpec
from sma_response.explain.summarise import global_importance, group_importance
from sma_response.report.basis import ReportBasis
from sma_response.report.batch import write_reports
from sma_response.report.inputs import ReportInputs, example_ids, outcome_frame
from sma_response.report.spec import ReportSpec
from sma_response.report.training import RunToExplain, change_intervals, report_inputs
from sma_response.schemas import ShapValues

__all__ = ["ExplainOutcome", "explain_training_run"]

log = logging.getLogger(__name__)


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
    iv = change_intervals(run, outcome, spec=report_spec)
    inputs, basis = report_inputs(
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
