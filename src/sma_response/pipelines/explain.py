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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sma_response.evaluate.conformal import coverage_metrics
from sma_response.explain.run import RunExplanation, explain_run
from sma_response.explain.spec import ExplainSpec
from sma_response.features.design import synthetic_example
from sma_response.report.basis import ReportBasis
from sma_response.report.batch import write_reports
from sma_response.report.inputs import ReportInputs, example_ids, outcome_frame
from sma_response.report.options import agreement_metrics
from sma_response.report.spec import ReportSpec
from sma_response.report.training import RunToExplain, change_intervals, report_inputs

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


def _example_reports(
    logger: Any, inputs: ReportInputs, basis: ReportBasis, *, spec: ReportSpec, created: str
) -> tuple[list[Path], int]:
    """Write and log the example reports; return their files and the number of patients."""
    if not (spec.enabled and spec.n_examples > 0):
        return [], 0
    with tempfile.TemporaryDirectory() as tmp:
        chosen = example_ids(inputs.patients, n=spec.n_examples, task=basis.task)
        paths = write_reports(
            inputs, basis=basis, index_ids=chosen, folder=Path(tmp), spec=spec, created=created
        )
        logger.log_artifacts(Path(tmp), "reports")
    return [Path("reports") / p.name for p in paths], len(chosen)


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
    shap = _shap_step(logger, run, explain_spec)
    t_shap = time.perf_counter() - started
    outcome = outcome_frame(
        run.design.X, target_kind=run.target_kind, target_scale=run.target_scale
    )
    iv = change_intervals(run, outcome, spec=report_spec)
    inputs, basis = report_inputs(
        run, outcome, iv, shap.first, shap.importance, shap.info, provenance=provenance
    )
    logger.log_table(iv.coverage, "evaluation/interval_coverage.csv")
    logger.log_metrics(coverage_metrics(iv.coverage, report_spec.interval_level))
    logger.log_text(basis.to_json(), "report/basis.json")
    logger.log_table(inputs.patients, "report/patients.parquet")
    logger.log_table(inputs.alternatives, "report/alternatives.parquet")
    logger.log_metrics(agreement_metrics(inputs.patients, inputs.alternatives))
    if run.task == "classification" and provenance.get("model_uri"):
        logger.log_model(
            iv.change_final,
            input_example=synthetic_example(run.design.X),
            pip_requirements=pip_requirements,
            metadata={"task": "regression", "target": "change_on_outcome_scale"},
            name="change_model",
            register=False,
        )
    t_reports = time.perf_counter()
    paths, n_patients = _example_reports(logger, inputs, basis, spec=report_spec, created=created)
    seconds = time.perf_counter() - started
    logger.log_metrics(
        {
            "timing/shap_seconds": t_shap,
            "timing/example_reports_seconds": time.perf_counter() - t_reports,
            "timing/explain_seconds": seconds,
        }
    )
    log.info(
        "explain: SHAP %.1f s, whole step %.1f s; example reports of %d patients (%d files)",
        t_shap, seconds, n_patients, len(paths),
    )  # fmt: skip
    return ExplainOutcome(
        basis=basis,
        inputs=inputs,
        importance=shap.importance,
        coverage=iv.coverage,
        report_paths=paths,
        seconds=seconds,
        fit_seconds=iv.fit_seconds,
    )


def _shap_step(logger: Any, run: RunToExplain, explain_spec: ExplainSpec) -> RunExplanation:
    """SHAP values of every held-out and every final prediction, importance and figures, logged."""
    shap = explain_run(
        run.cv.models, run.final, run.design.X, run.splits, run.cv.predictions,
        run.groups["region"], spec=explain_spec, task=run.task,
    )  # fmt: skip
    for path, table in shap.tables().items():
        logger.log_table(table, path)
    logger.log_dict(shap.info, "explain/spec.json")
    logger.set_tags({"explain.method_used": shap.info["method_used"]})
    for path, fig in shap.figures.items():
        logger.log_figure(fig, path)
    return shap
