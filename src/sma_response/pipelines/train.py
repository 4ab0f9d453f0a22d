"""Training pipeline: data -> design -> CV model -> evaluation -> explanations -> MLflow run.

Reads top to bottom as the arrows of ``DESIGN.md`` section 2. Every step is a stage call; this
module does the config conversion, the file I/O and the tracking calls.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sma_response._utils.errors import reraise
from sma_response.cohort.target import describe_estimand
from sma_response.conf.callbacks import PARENT_RUN_ENV
from sma_response.conf.factory import ConfigError, build_estimator, check_targets
from sma_response.conf.nodes import node_dict
from sma_response.conf.runtime import flatten, hydra_info, run_name, run_tags
from sma_response.conf.train import TrainConfig, check_train_values
from sma_response.effects.run import EffectsResult, effects_of_design
from sma_response.evaluate.dropout import (
    FoldWeights,
    drop_out_estimate,
    fold_weights,
    weighted_evaluation,
)
from sma_response.evaluate.subgroups import make_subgroups
from sma_response.evaluate.summary import (
    RunEvaluation,
    confirmation_metrics,
    evaluate_run,
    internal_external,
)
from sma_response.explain.shap_values import resolve_method
from sma_response.features.design import (
    Design,
    DesignError,
    EligibleEvents,
    build_design,
    eligible_events,
    split_confirmation,
    synthetic_example,
)
from sma_response.models.fit import CVResult, RunFits, fit_internal_external, fit_run
from sma_response.models.split import assign_splits, reserve_confirmation
from sma_response.pipelines.data import (
    DataError,
    ensure_cdm,
    load_cdm,
    option_truth_frames,
    oracle_predictions,
    read_cdm_fingerprint,
)
from sma_response.pipelines.explain import ExplainOutcome, explain_training_run
from sma_response.report.render import render_pdf
from sma_response.report.training import RunToExplain
from sma_response.report.tripod import tripod_report
from sma_response.tracking.lookup import register_model
from sma_response.tracking.outputs import (
    TrainResult,
    log_effects,
    log_training_inputs,
    log_training_results,
)
from sma_response.tracking.provenance import (
    model_requirements,
    run_provenance,
)
from sma_response.tracking.run import RunLogger, check_access, mlflow_run

__all__ = ["TrainResult", "TrainingError", "run_training"]

log = logging.getLogger(__name__)


class TrainingError(Exception):
    """The run cannot go on for a reason the user can fix (one line, no traceback)."""


def _checked_config(cfg: DictConfig) -> tuple[DictConfig, TrainConfig]:
    """Return a read-only copy of the config and its typed form (targets allow-listed)."""
    check_targets(cfg)  # every _target_, at any depth, before any data is read
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    spec = OmegaConf.to_object(cfg)
    if not isinstance(spec, TrainConfig):
        msg = "run_training needs a composed 'train' config"
        raise TrainingError(msg)
    check_train_values(cfg, spec)  # values a run cannot use, an option the estimator refuses
    return cfg, spec


def _task(kind: str) -> str:
    return "regression" if kind == "delta" else "classification"


def _estimator_key(task: str) -> str:
    return "classifier" if task == "classification" else "regressor"


def _baseline(cfg: DictConfig, spec: TrainConfig, task: str) -> tuple[Any, str] | None:
    """Return the comparator's estimator and preprocessing (``None``: no comparator)."""
    name = spec.evaluate.baseline
    if not name or name == spec.model.name:
        return None
    held = spec.baseline_model.name if spec.baseline_model is not None else None
    if held != name:
        msg = (
            f"evaluate.baseline={name!r}, but the baseline_model group holds {held!r}: "
            f"choose the comparator with model@baseline_model={name} (evaluate.baseline=null: none)"
        )
        raise TrainingError(msg)
    key = _estimator_key(task)
    estimator = build_estimator(cfg.baseline_model[key], key=f"baseline_model.{key}")
    return estimator, str(cfg.baseline_model.preprocess)


def _baseline_label(spec: TrainConfig) -> str | None:
    """Name the comparator for tables and reports (``ridge`` for logreg on a change)."""
    if spec.baseline_model is None:
        return spec.evaluate.baseline
    return spec.baseline_model.label(_task(spec.target.kind))


def _design(cdm: dict[str, pd.DataFrame], spec: TrainConfig) -> tuple[Design, Design | None]:
    """Return the design to fit and validate, and the reserved confirmation set (or ``None``)."""
    try:
        design = build_design(
            cdm,
            cohort_spec=spec.cohort,
            feature_spec=spec.features,
            target_spec=spec.target,
            min_events=2 * max(spec.validation.n_splits, 2),
        )
    except DesignError as err:
        msg = f"cohort: {err} after the inclusion rules; too few to validate"
        raise TrainingError(msg) from err
    if not spec.validation.confirmation or design.targets is None:
        return design, None
    persons = reserve_confirmation(
        design.cohort, design.targets, fraction=spec.validation.confirmation, seed=spec.seed
    )
    return split_confirmation(design, persons)


def _eligible(
    spec: TrainConfig, cdm: dict[str, pd.DataFrame], held: Design | None
) -> EligibleEvents | None:
    """Every eligible index event, labelled or censored (for the drop-out analyses only).

    The persons of the confirmation set (``held``) stay out of these too.
    """
    if spec.evaluate.drop_out == "none" and spec.evaluate.drop_out_weights == "none":
        return None
    eligible = eligible_events(
        cdm, cohort_spec=spec.cohort, feature_spec=spec.features, target_spec=spec.target
    )
    return eligible if held is None else eligible.without(pd.Index(held.cohort["linked_id"]))


def _fit(
    cfg: DictConfig,
    spec: TrainConfig,
    design: Design,
    eligible: EligibleEvents | None,
    timings: dict[str, float],
) -> tuple[RunFits, FoldWeights | None]:
    task = _task(spec.target.kind)
    key = _estimator_key(task)
    estimator = build_estimator(cfg.model[key], key=f"model.{key}")
    splits = assign_splits(design.cohort, design.targets, spec=spec.validation, seed=spec.seed)
    weights = None
    if spec.evaluate.drop_out_weights != "none" and eligible is not None:
        weights = fold_weights(eligible, splits)  # the censoring model inside each training part
    fitted = weights if spec.evaluate.drop_out_weights == "ipcw" else None
    fits = fit_run(
        design.X, design.y, splits, estimator=estimator, preprocess_kind=spec.model.preprocess,
        task=task, keep_models=spec.explain.enabled or weights is not None,
        baseline=_baseline(cfg, spec, task),
        weights=None if fitted is None else (fitted.train, fitted.final),
    )  # fmt: skip
    timings["fit_main"], timings["fit_baseline"] = fits.fit_seconds, fits.baseline_seconds
    if spec.evaluate.internal_external and spec.validation.kind != "loro":
        t = time.perf_counter()
        fits.internal_external = fit_internal_external(
            design.X, design.y, design.cohort, design.targets, estimator=estimator,
            preprocess_kind=spec.model.preprocess, task=task,
        )  # fmt: skip
        timings["fit_internal_external"] = time.perf_counter() - t
    return fits, weights


def _oracle(
    cfg: DictConfig, spec: TrainConfig, cohort: pd.DataFrame, targets: pd.DataFrame | None
) -> pd.Series | None:
    if not spec.evaluate.oracle or spec.target.kind not in ("responder", "delta"):
        return None
    if targets is None:
        return None
    return oracle_predictions(
        cohort,
        targets,
        raw_dir=Path(cfg.harmonise.raw_dir),
        key_file=Path(cfg.harmonise.pseudonym_key_file),
        task=_task(spec.target.kind),
        estimand=spec.target.estimand,
    )


def _evaluate(
    cfg: DictConfig,
    spec: TrainConfig,
    design: Design,
    fits: RunFits,
    groups: pd.DataFrame,
    eligible: EligibleEvents | None,
    weights: FoldWeights | None,
    held: Design | None,
) -> RunEvaluation:
    task = _task(spec.target.kind)
    oracle = _oracle(cfg, spec, design.cohort, design.targets)
    ev = evaluate_run(
        fits.cv.predictions,
        groups,
        task=task,
        seed=spec.seed,
        n_boot=spec.evaluate.n_boot,
        min_subgroup_n=spec.evaluate.min_subgroup_n,
        imprecise_events=spec.evaluate.imprecise_events,
        baseline=None if fits.baseline_cv is None else fits.baseline_cv.predictions,
        oracle=oracle,
        features=design.X,
    )
    if eligible is not None:  # drop-out: the cohort's rate, and the weighted performance
        truth = _oracle(cfg, spec, eligible.cohort, eligible.labels)
        n_splits = max(spec.validation.n_splits, 2)
        if spec.evaluate.drop_out != "none":
            ev.estimand = drop_out_estimate(eligible, truth, seed=spec.seed, n_splits=n_splits)
        if weights is not None:
            ev.weighted = weighted_evaluation(
                fits.cv, weights, eligible, truth, task=task, seed=spec.seed,
                n_boot=spec.evaluate.n_boot,
                weighted_fits=spec.evaluate.drop_out_weights == "ipcw",
            )  # fmt: skip
    if held is not None:  # the final model on the persons reserved from everything
        ev.confirmation, reasons = confirmation_metrics(
            fits.final, held, task=task, seed=spec.seed, n_boot=spec.evaluate.n_boot
        )
        ev.not_estimable.update(reasons)
    if isinstance(fits.internal_external, CVResult):
        regions = design.cohort.set_index("index_id")["region"]
        ev.internal_external = internal_external(
            fits.internal_external.predictions, regions, task=task
        )
    elif isinstance(fits.internal_external, str):
        ev.not_estimable["loro"] = fits.internal_external
    return ev


def _effects(
    cfg: DictConfig, spec: TrainConfig, design: Design, groups: pd.DataFrame
) -> EffectsResult | None:
    """Per-therapy contrasts of the cohort (responder targets), scored against any truth."""
    if not spec.effects.enabled or spec.target.kind != "responder" or design.targets is None:
        return None
    truth = None
    if spec.evaluate.oracle:
        truth = option_truth_frames(
            design.cohort, design.targets, raw_dir=Path(cfg.harmonise.raw_dir),
            key_file=Path(cfg.harmonise.pseudonym_key_file), estimand=spec.target.estimand,
        )  # fmt: skip
    return effects_of_design(
        design, groups["region"], spec=spec.effects, seed=spec.seed, truth=truth
    )


def _log_tripod(
    run: RunLogger, cfg: DictConfig, spec: TrainConfig, design: Design, ev: RunEvaluation,
    *, digest: str, baseline: CVResult | None,
) -> None:  # fmt: skip
    """Log the run's TRIPOD+AI report as Markdown, HTML and PDF (``report/tripod_ai.*``)."""
    if not spec.report.tripod:
        return
    key = _estimator_key(_task(spec.target.kind))
    root = Path(cfg.paths.root_dir)
    info = {
        **run_provenance(run.run_id, model_uri=None, model_version=None, digest=digest, root=root),
        "model_name": spec.model.name, "target_kind": spec.target.kind,
        "target_scale": spec.target.scale, "task": _task(spec.target.kind),
        "dataset": spec.dataset, "seed": spec.seed, "created": dt.date.today().isoformat(),
    }  # fmt: skip
    md, html = tripod_report(
        design, ev, run=info, cohort_rules=node_dict(cfg.cohort),
        validation=node_dict(cfg.validation), model_params=node_dict(cfg.model[key]),
        baseline_name=_baseline_label(spec) if baseline is not None else None,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "tripod_ai.md").write_text(md, encoding="utf-8")
        (folder / "tripod_ai.html").write_text(html, encoding="utf-8")
        render_pdf(html, folder / "tripod_ai.pdf")
        run.log_artifacts(folder, "report")


def _explain(
    run: RunLogger,
    cfg: DictConfig,
    spec: TrainConfig,
    design: Design,
    fits: RunFits,
    ev: RunEvaluation,
    groups: pd.DataFrame,
    effects: EffectsResult | None,
    models: tuple[str | None, str | None],
    digest: str,
) -> ExplainOutcome | None:
    """SHAP values, interval coverage, report basis and example reports (logged)."""
    try:
        resolve_method(fits.final[-1], method=spec.explain.method)
    except ValueError as err:  # not a tree ensemble (e.g. the logistic baseline): no TreeSHAP
        log.warning("explanations skipped: %s", err)
        run.set_tags({"explain.skipped": str(err)})
        return None
    task = _task(spec.target.kind)
    change_estimator = None
    if task == "classification":
        change_estimator = build_estimator(cfg.model["regressor"], key="model.regressor")
    to_explain = RunToExplain(
        design=design,
        groups=groups,
        splits=fits.splits,
        cv=fits.cv,
        final=fits.final,
        subgroups=ev.subgroups,
        change_estimator=change_estimator,
        preprocess_kind=spec.model.preprocess,
        task=task,
        target_kind=spec.target.kind,
        target_scale=spec.target.scale,
        model_name=spec.model.name,
        estimand=spec.target.estimand,
        effects=effects,
    )
    model_uri, version = models
    provenance = run_provenance(
        run.run_id, model_uri=model_uri, model_version=version, digest=digest,
        root=Path(cfg.paths.root_dir),
    )  # fmt: skip
    return explain_training_run(
        run,
        to_explain,
        explain_spec=spec.explain,
        report_spec=spec.report,
        provenance=provenance,
        created=dt.date.today().isoformat(),
        pip_requirements=model_requirements(),
    )


def run_training(cfg: DictConfig, *, extra_tags: dict[str, str] | None = None) -> TrainResult:
    """Run one training job and log it to MLflow.

    Parameters
    ----------
    cfg
        A composed ``train`` config (``configs/train.yaml``); it is not modified.
    extra_tags
        More run tags (``sma-reproduce`` marks a reproduction with ``reproduces=<run id>``).

    Returns
    -------
    TrainResult
        Run id, cohort size, metrics with intervals, oracle, timings.

    Raises
    ------
    TrainingError
        For problems the user can fix (no data, empty cohort, bad model option).
    """
    with reraise(TrainingError, ConfigError, DataError):  # a user's mistake: one line
        return _train(cfg, extra_tags)


def _train(cfg: DictConfig, extra_tags: dict[str, str] | None) -> TrainResult:
    t_start = time.perf_counter()
    cfg, spec = _checked_config(cfg)
    check_access(spec.tracking)  # a server that refuses this user: say so before the work
    task = _task(spec.target.kind)
    t = time.perf_counter()
    cdm_dir = ensure_cdm(cfg)
    cdm, digest = load_cdm(cdm_dir)
    timings = {"data": time.perf_counter() - t}
    t = time.perf_counter()
    design, held = _design(cdm, spec)
    timings["cohort_features"] = time.perf_counter() - t
    eligible = _eligible(spec, cdm, held)
    fits, weights = _fit(cfg, spec, design, eligible, timings)
    t = time.perf_counter()
    groups = make_subgroups(design.cohort, cdm["patients"])
    ev = _evaluate(cfg, spec, design, fits, groups, eligible, weights, held)
    timings["evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    effects = _effects(cfg, spec, design, groups)
    timings["effects"] = time.perf_counter() - t

    t = time.perf_counter()
    with mlflow_run(
        spec.tracking,
        run_name=run_name(spec),
        tags=run_tags(spec, Path(cfg.paths.root_dir), extra_tags),
        parent_run_id=os.environ.get(PARENT_RUN_ENV),
    ) as run:
        resolved = node_dict(cfg)
        log_training_inputs(
            run, config=resolved, params=flatten(resolved), hydra=hydra_info(), cdm_dir=cdm_dir,
            digest=digest, dataset=spec.dataset, fingerprint=read_cdm_fingerprint(cdm_dir),
        )  # fmt: skip
        log_training_results(run, design, fits, ev, task=task)
        log_effects(run, effects)
        _log_tripod(run, cfg, spec, design, ev, digest=digest, baseline=fits.baseline_cv)
        model_uri = version = None
        if spec.tracking.log_model:
            model_uri, _ = run.log_model(
                fits.final,
                input_example=synthetic_example(design.X),
                pip_requirements=model_requirements(),
                metadata={"task": task, "target": spec.target.kind, "data_digest": digest},
                register=False,  # registered below, once the run has finished
            )
        t_explain = time.perf_counter()
        explained = None
        if spec.explain.enabled:
            explained = _explain(
                run, cfg, spec, design, fits, ev, groups, effects, (model_uri, version), digest
            )
        timings["explain"] = time.perf_counter() - t_explain
        timings["fit_change_model"] = 0.0 if explained is None else explained.fit_seconds
        timings["logging"] = time.perf_counter() - t - timings["explain"]
        fit_seconds = timings["fit_main"] + timings["fit_baseline"] + timings["fit_change_model"]
        timings["pipeline"] = time.perf_counter() - t_start
        run.log_metrics(
            {
                "timing/fit_seconds": fit_seconds,  # every model fit of the run
                **{f"timing/{k}_seconds": v for k, v in timings.items()},
            }
        )
    # Only a FINISHED run gets a model version: a killed or failed one never reaches here; a
    # sweep's members do not register either (the sweep registers its best run at the end).
    in_sweep = bool(os.environ.get(PARENT_RUN_ENV))
    version = register_model(spec.tracking, model_uri) if model_uri and not in_sweep else None
    result = TrainResult.of_run(
        run, spec.tracking, design, fits, ev, task=task, model_name=spec.model.name,
        baseline_name=_baseline_label(spec), objective_key=spec.optimized_metric,
        loro=spec.validation.kind == "loro", model=(model_uri, version), digest=digest,
        timings=timings,
    )  # fmt: skip
    result.effects = effects
    result.estimand_text = describe_estimand(spec.target, spec.cohort)
    return result
