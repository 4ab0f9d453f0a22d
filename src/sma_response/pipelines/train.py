"""Training pipeline: data -> cohort -> target -> features -> CV model -> evaluation -> MLflow run.

Reads top to bottom as the arrows of ``DESIGN.md`` section 2. Stages are pure; this module does
the file I/O, the config conversion and the tracking calls.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sma_response.cohort.build import build_cohort
from sma_response.cohort.target import define_target
from sma_response.conf.callbacks import PARENT_RUN_ENV
from sma_response.conf.factory import ConfigError, build_estimator, check_targets
from sma_response.conf.nodes import node_dict
from sma_response.conf.train import TrainConfig
from sma_response.evaluate.metrics import (
    compare_models,
    compute_metrics,
    model_vs_oracle,
    oracle_metrics,
)
from sma_response.evaluate.plots import (
    plot_calibration,
    plot_decision_curve,
    plot_forest,
    plot_predicted_vs_observed,
    plot_roc,
)
from sma_response.evaluate.subgroups import make_subgroups, subgroup_metrics
from sma_response.features.engineer import make_features
from sma_response.harmonise.io import read_text
from sma_response.harmonise.pseudonym import pseudonymise, resolve_key
from sma_response.models.fit import fit_cv, fit_final
from sma_response.models.split import assign_splits
from sma_response.pipelines.fingerprint import cdm_fingerprint
from sma_response.schemas import CDM_SCHEMAS, validate_cdm
from sma_response.tracking.provenance import (
    git_dirty,
    git_sha,
    installed_requirements,
    package_versions,
)
from sma_response.tracking.run import mlflow_run

if TYPE_CHECKING:  # the explain step is imported when used (it pulls in shap and WeasyPrint)
    from sma_response.pipelines.explain import ExplainOutcome

log = logging.getLogger(__name__)

#: Pinned requirements written into the logged model (no slow pip inference).
MODEL_REQUIREMENTS = ("numpy", "pandas", "scikit-learn", "xgboost", "mlflow", "cloudpickle")


class TrainingError(Exception):
    """The run cannot go on for a reason the user can fix (one line, no traceback)."""


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


def _task(kind: str) -> str:
    return "regression" if kind == "delta" else "classification"


def _harmonise_cfg(cfg: DictConfig) -> DictConfig:
    return OmegaConf.create(node_dict(cfg.harmonise, key="harmonise"))


def ensure_cdm(cfg: DictConfig) -> Path:
    """Return the CDM folder of ``cfg.dataset``, simulating and harmonising it when missing.

    Raises
    ------
    TrainingError
        If the dataset has no raw data and may not be simulated.
    """
    from sma_response.pipelines.harmonise import run_harmonisation
    from sma_response.pipelines.simulate import run_simulation

    raw_dir = Path(cfg.harmonise.raw_dir)
    cdm_dir = Path(cfg.harmonise.out_dir) / "cdm"
    raw_manifest = raw_dir / "manifest.json"
    cdm_manifest = cdm_dir / "manifest.json"
    if not raw_dir.is_dir():
        if not cfg.simulate_if_missing:
            msg = (
                f"no dataset at {raw_dir} "
                "(set simulate_if_missing=true to create the synthetic one)"
            )
            raise TrainingError(msg)
        log.warning("dataset %s not found: simulating it into %s", cfg.dataset, raw_dir)
        sim_cfg = OmegaConf.create(
            {
                "seed": cfg.seed,
                "simulation": OmegaConf.to_container(cfg.simulation, resolve=True),
                "paths": OmegaConf.to_container(cfg.paths, resolve=True),
                "progress": cfg.progress,
            }
        )
        run_simulation(sim_cfg)
    stale = (
        cdm_manifest.is_file()
        and raw_manifest.is_file()
        and (raw_manifest.stat().st_mtime > cdm_manifest.stat().st_mtime)
    )
    if not cdm_manifest.is_file() or stale:
        log.warning("harmonising %s into %s", raw_dir, cdm_dir)
        run_harmonisation(_harmonise_cfg(cfg))
    return cdm_dir


def load_cdm(cdm_dir: Path) -> tuple[dict[str, pd.DataFrame], str]:
    """Read and validate the CDM tables; return them with the CDM digest from its manifest."""
    tables = {name: pd.read_parquet(cdm_dir / f"{name}.parquet") for name in CDM_SCHEMAS}
    manifest = json.loads((cdm_dir / "manifest.json").read_text(encoding="utf-8"))
    return validate_cdm(tables), str(manifest.get("digest", ""))


def _model_node(cfg: DictConfig, name: str, task: str) -> tuple[Any, str]:
    """Load a model option by name (for the baseline comparator) and return (estimator, kind)."""
    path = Path(cfg.paths.root_dir) / "configs" / "model" / f"{name}.yaml"
    if not path.is_file():
        msg = f"evaluate.baseline={name!r}: no model option configs/model/{name}.yaml"
        raise TrainingError(msg)
    loaded = node_dict(OmegaConf.load(path), resolve=False, key=f"evaluate.baseline({name})")
    node = OmegaConf.create(
        {"seed": cfg.seed, **{k: v for k, v in loaded.items() if k != "defaults"}}
    )
    key = "classifier" if task == "classification" else "regressor"
    estimator = build_estimator(node[key], key=f"evaluate.baseline({name}).{key}")
    return estimator, str(node.get("preprocess", "tree"))


def oracle_predictions(
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    raw_dir: Path,
    key_file: Path,
    task: str,
) -> pd.Series | None:
    """Join the simulator's ground truth to the cohort (evaluation only, never training).

    Returns the true response probability (classification) or expected change (regression)
    of each index event's actual therapy on its target scale, or ``None`` without ground truth.
    """
    truth = raw_dir / "ground_truth"
    if not (truth / "counterfactuals.parquet").is_file():
        return None
    # The same secret harmonisation used, so pseudonymous keys match.
    secret = read_text(key_file) if key_file.is_file() else None
    key = resolve_key(environ=os.environ, local_secret=secret)
    links = pd.read_parquet(truth / "registry_links.parquet")
    parts = [
        g.assign(
            patient_id=pseudonymise(
                g["local_id"].astype(str), registry=str(reg), key=key
            ).to_numpy()
        )
        for reg, g in links.groupby("registry", sort=True)
    ]
    links = pd.concat(parts, ignore_index=True)[["patient_id", "person_id"]]
    cf = pd.read_parquet(
        truth / "counterfactuals.parquet",
        columns=[
            "person_id",
            "option",
            "index_age_days",
            "scale",
            "expected_change",
            "response_probability",
        ],
    )
    rows = cohort[["index_id", "patient_id", "therapy", "index_age_days"]].merge(
        targets[["index_id", "primary_scale"]], on="index_id"
    )
    rows = rows.merge(links, on="patient_id", how="left")
    joined = rows.merge(
        cf.rename(
            columns={
                "option": "therapy",
                "scale": "primary_scale",
                "index_age_days": "truth_age_days",
            }
        ),
        on=["person_id", "therapy", "primary_scale"],
        how="left",
    )
    # The truth is indexed at the first therapy start; later index events have no oracle.
    joined = joined.loc[(joined["truth_age_days"] - joined["index_age_days"]).abs() <= 31]
    value = "response_probability" if task == "classification" else "expected_change"
    return joined.set_index("index_id")[value]


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}." if prefix or k else ""))
    elif isinstance(node, list):
        out[prefix.rstrip(".")] = json.dumps(node)
    else:
        out[prefix.rstrip(".")] = node
    return out


def _hydra_info() -> dict[str, Any]:
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return {}
        hc = HydraConfig.get()
        return {
            "choices": {k: v for k, v in node_dict(hc.runtime.choices).items() if v is not None},
            "overrides": list(hc.overrides.task),
            "output_dir": hc.runtime.output_dir,
        }
    except (ImportError, ValueError):
        return {}


def _metrics_block(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}/{k}": v for k, v in metrics.items() if isinstance(v, int | float)}


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
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    try:  # every _target_, at any depth, before any data is read
        check_targets(cfg)
    except ConfigError as err:
        raise TrainingError(str(err)) from err
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    spec: TrainConfig = OmegaConf.to_object(cfg)  # type: ignore[assignment]
    task = _task(spec.target.kind)

    t = time.perf_counter()
    cdm_dir = ensure_cdm(cfg)
    cdm, digest = load_cdm(cdm_dir)
    timings["data"] = time.perf_counter() - t

    t = time.perf_counter()
    cohort, attrition = build_cohort(cdm, spec=spec.cohort, target=spec.target)
    targets = define_target(cohort, cdm, spec=spec.target, cohort_spec=spec.cohort)
    cohort = cohort.loc[cohort["index_id"].isin(targets["index_id"])].reset_index(drop=True)
    if len(cohort) < 2 * max(spec.validation.n_splits, 2):
        msg = (
            f"cohort has {len(cohort)} index events after the inclusion rules; too few to validate"
        )
        raise TrainingError(msg)
    features = make_features(cdm, cohort, spec=spec.features)
    y = targets.set_index("index_id")["target"].loc[features.index]
    splits = assign_splits(cohort, targets, spec=spec.validation, seed=spec.seed)
    timings["cohort_features"] = time.perf_counter() - t

    key = "classifier" if task == "classification" else "regressor"
    try:
        estimator = build_estimator(cfg.model[key], key=f"model.{key}")
    except ConfigError as err:
        raise TrainingError(str(err)) from err
    t = time.perf_counter()
    cv = fit_cv(
        features,
        y,
        splits,
        estimator=estimator,
        preprocess_kind=spec.model.preprocess,
        task=task,
        keep_models=spec.explain.enabled,  # fold models: SHAP of every out-of-fold prediction
    )
    final = fit_final(features, y, estimator=estimator, preprocess_kind=spec.model.preprocess)
    timings["fit_main"] = time.perf_counter() - t
    t = time.perf_counter()
    baseline_cv = None
    if spec.evaluate.baseline and spec.evaluate.baseline != spec.model.name:
        base_est, base_kind = _model_node(cfg, spec.evaluate.baseline, task)
        baseline_cv = fit_cv(
            features, y, splits, estimator=base_est, preprocess_kind=base_kind, task=task
        )
    timings["fit_baseline"] = time.perf_counter() - t

    t = time.perf_counter()
    rng = np.random.default_rng(spec.seed)
    preds = cv.predictions
    first = preds.loc[preds["repeat"] == preds["repeat"].min()]
    metrics = compute_metrics(
        first["y_true"].to_numpy(),
        first["y_pred"].to_numpy(),
        task=task,
        rng=rng,
        n_boot=spec.evaluate.n_boot,
    )
    baseline_metrics: dict[str, float] = {}
    comparison: dict[str, float] = {}
    if baseline_cv is not None:
        b = baseline_cv.predictions
        b = b.loc[b["repeat"] == b["repeat"].min()]
        baseline_metrics = compute_metrics(
            b["y_true"].to_numpy(),
            b["y_pred"].to_numpy(),
            task=task,
            rng=rng,
            n_boot=spec.evaluate.n_boot,
        )
        # Model minus baseline on the same held-out rows and bootstrap resamples (paired).
        paired = first.merge(b[["index_id", "y_pred"]], on="index_id", suffixes=("", "_base"))
        comparison = compare_models(
            paired["y_true"].to_numpy(),
            paired["y_pred"].to_numpy(),
            paired["y_pred_base"].to_numpy(),
            task=task,
            rng=rng,
            n_boot=spec.evaluate.n_boot,
        )
    oracle: dict[str, float] = {}
    oracle_pred = None
    if spec.evaluate.oracle and spec.target.kind in ("responder", "delta"):
        oracle_pred = oracle_predictions(
            cohort,
            targets,
            raw_dir=Path(cfg.harmonise.raw_dir),
            key_file=Path(cfg.harmonise.pseudonym_key_file),
            task=task,
        )
    if oracle_pred is not None and len(oracle_pred) > 0:
        rows = (
            first.set_index("index_id")
            .join(oracle_pred.rename("oracle"), how="inner")
            .dropna(subset=["oracle"])
        )
        oracle = oracle_metrics(
            rows["y_true"].to_numpy(),
            rows["oracle"].to_numpy(),
            task=task,
            rng=rng,
            n_boot=spec.evaluate.n_boot,
        )
        same_rows = compute_metrics(
            rows["y_true"].to_numpy(), rows["y_pred"].to_numpy(), task=task, rng=rng, n_boot=0
        )
        oracle.update(
            {
                f"model_same_rows_{k}": v
                for k, v in same_rows.items()
                if not k.endswith(("_low", "_high"))
            }
        )
        oracle.update(model_vs_oracle(same_rows, oracle))
        oracle["coverage"] = len(rows) / max(len(first), 1)
    groups = make_subgroups(cohort, cdm["patients"])
    subgroups = subgroup_metrics(
        first,
        groups,
        task=task,
        rng=rng,
        min_n=spec.evaluate.min_subgroup_n,
        n_boot=spec.evaluate.n_boot,
    )
    timings["evaluate"] = time.perf_counter() - t

    objective = metrics.get(spec.optimized_metric.split("/", 1)[-1])
    info = _hydra_info()
    sha = git_sha(Path(cfg.paths.root_dir))
    tags = {
        "task_name": spec.task_name,
        "experiment": spec.experiment or "none",
        "tags": ",".join(spec.tags),
        "model": spec.model.name,
        "target": spec.target.kind,
        "validation": spec.validation.kind,
        "git_sha": sha or "unknown",
        "git_dirty": git_dirty(Path(cfg.paths.root_dir)),
        "package_version": package_versions(["sma-response"])["sma-response"],
        "seed": spec.seed,
        "dataset": spec.dataset,
        **{f"choice.{k}": v for k, v in info.get("choices", {}).items()},
        "overrides": " ".join(info.get("overrides", []))[:5000] or "none",
        **(extra_tags or {}),  # issue #6: reproduction tags
    }
    t = time.perf_counter()
    with mlflow_run(
        spec.tracking,
        run_name=f"{spec.model.name}:{spec.target.kind}:{spec.validation.kind}",
        tags=tags,
        parent_run_id=os.environ.get(PARENT_RUN_ENV),
    ) as run:
        resolved = node_dict(cfg)
        run.log_params(
            {
                k: v
                for k, v in _flatten(resolved).items()
                if not k.startswith(("paths.", "harmonise.paths", "tracking."))
            }
        )
        run.log_dict(resolved, "config/config.yaml")
        run.log_dict(
            {"overrides": info.get("overrides", []), "choices": info.get("choices", {})},
            "config/overrides.json",
        )
        run.log_text("\n".join(installed_requirements()) + "\n", "environment/versions.txt")
        run.log_dict(package_versions(), "environment/key_packages.json")
        run.log_dataset(uri=str(cdm_dir), digest=digest, name=f"cdm:{spec.dataset}")
        # issue #6: rows and digest per CDM table, so sma-reproduce can name what changed
        run.log_dict(cdm_fingerprint(cdm_dir), "data/cdm_fingerprint.json")
        run.log_metrics(_metrics_block("cv", metrics))
        run.log_metrics(_metrics_block("baseline", baseline_metrics))
        run.log_metrics(_metrics_block("comparison", comparison))  # model minus baseline
        run.log_metrics(_metrics_block("oracle", oracle))
        run.log_metrics(
            {
                "cohort/n_index_events": len(cohort),
                "cohort/n_patients": cohort["linked_id"].nunique(),
            }
        )
        run.log_table(attrition, "cohort/attrition.csv")
        run.log_table(subgroups, "evaluation/subgroups.csv")
        oof = preds.merge(cohort[["index_id", "patient_id"]], on="index_id", how="left")
        run.log_table(
            oof[["patient_id", "index_id", "repeat", "fold", "y_true", "y_pred"]],
            "predictions/oof.parquet",
        )
        if baseline_cv is not None:
            run.log_table(baseline_cv.predictions, "predictions/oof_baseline.parquet")
        _log_figures(run, first, subgroups, task)
        model_uri = version = None
        if spec.tracking.log_model:
            reqs = [
                f"{p}=={v}"
                for p, v in package_versions(MODEL_REQUIREMENTS).items()
                if v != "not installed"
            ]
            model_uri, version = run.log_model(
                final,
                input_example=features.head(5),
                pip_requirements=reqs,
                metadata={"task": task, "target": spec.target.kind, "data_digest": digest},
            )
        # ---- explanations, intervals and example reports (issue #5; pipelines/explain.py) ----
        t_explain = time.perf_counter()
        explained = None
        if spec.explain.enabled:
            explained = _explain_block(
                run,
                cfg=cfg,
                spec=spec,
                task=task,
                features=features,
                targets=targets,
                cohort=cohort,
                groups=groups,
                splits=splits,
                cv=cv,
                final=final,
                subgroups=subgroups,
                digest=digest,
                sha=sha,
                model_uri=model_uri,
                version=version,
            )
        # ---- end of issue #5 block ----
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
        run_id, artifact_uri = run.run_id, run.artifact_uri
    return TrainResult(
        run_id=run_id,
        experiment_name=spec.tracking.experiment_name,
        tracking_uri=spec.tracking.uri,
        artifact_uri=artifact_uri,
        task=task,
        model_name=spec.model.name,
        n_index_events=len(cohort),
        n_patients=int(cohort["linked_id"].nunique()),
        n_events=int(y.sum()) if task == "classification" else 0,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        comparison=comparison,
        baseline_name=spec.evaluate.baseline if baseline_cv is not None else None,
        oracle=oracle,
        attrition=attrition,
        model_uri=model_uri,
        model_version=version,
        registered_model=(
            f"models:/{spec.tracking.registered_model_name}/{version}" if version else None
        ),
        data_digest=digest,
        objective=None if objective is None else float(objective),
        fit_seconds=fit_seconds,
        wall_seconds=timings["pipeline"],
        timings=timings,
    )


def _log_figures(run: Any, preds: pd.DataFrame, subgroups: pd.DataFrame, task: str) -> None:
    import matplotlib.pyplot as plt

    y, p = preds["y_true"].to_numpy(), preds["y_pred"].to_numpy()
    figures = (
        {
            "plots/roc.png": plot_roc(y, p),
            "plots/calibration.png": plot_calibration(y, p),
            "plots/decision_curve.png": plot_decision_curve(y, p),
            "plots/forest_region.png": plot_forest(subgroups, metric="auroc", variable="region"),
        }
        if task == "classification"
        else {
            "plots/predicted_vs_observed.png": plot_predicted_vs_observed(y, p),
            "plots/forest_region.png": plot_forest(subgroups, metric="rmse", variable="region"),
        }
    )
    for path, fig in figures.items():
        run.log_figure(fig, path)
        plt.close(fig)


def _explain_block(
    run: Any, *, cfg: DictConfig, spec: TrainConfig, task: str, **kw: Any
) -> ExplainOutcome | None:
    """Issue #5: SHAP values, interval coverage, report basis and example reports (logged)."""
    import datetime as dt

    from sma_response.explain.shap_values import resolve_method
    from sma_response.pipelines.explain import explain_training_run

    try:
        resolve_method(kw["final"][-1], method=spec.explain.method)
    except ValueError as err:  # not a tree ensemble (e.g. the logistic baseline): no TreeSHAP
        log.warning("explanations skipped: %s", err)
        run.set_tags({"explain.skipped": str(err)})
        return None
    change_estimator = None
    if task == "classification":
        change_estimator = build_estimator(cfg.model["regressor"], key="model.regressor")
    versions = package_versions(MODEL_REQUIREMENTS).items()
    reqs = [f"{p}=={v}" for p, v in versions if v != "not installed"]
    return explain_training_run(
        run,
        features=kw["features"],
        targets=kw["targets"],
        cohort=kw["cohort"],
        groups=kw["groups"],
        splits=kw["splits"],
        cv=kw["cv"],
        final=kw["final"],
        change_estimator=change_estimator,
        preprocess_kind=spec.model.preprocess,
        subgroups=kw["subgroups"],
        task=task,
        target_kind=spec.target.kind,
        target_scale=spec.target.scale,
        model_name=spec.model.name,
        explain_spec=spec.explain,
        report_spec=spec.report,
        provenance={
            "run_id": run.run_id,
            "model_uri": kw["model_uri"],
            "model_version": kw["version"],
            "data_digest": kw["digest"],
            "git_sha": kw["sha"],
            "package_version": package_versions(["sma-response"])["sma-response"],
        },
        created=dt.date.today().isoformat(),
        pip_requirements=reqs,
    )
