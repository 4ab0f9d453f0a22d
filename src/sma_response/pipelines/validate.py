"""External validation of a logged model on a local registry export, exporting aggregates only.

``run_validation(cfg)`` is what ``sma-validate`` calls; :func:`validate_model` is the same with
keyword arguments (notebooks). For a model (``models:/`` or ``runs:/`` URI, or its training
run) and a registry export with its mapping it

1. reads the model run's logged config, so that cohort, target and features are defined
   exactly as in training, and the run's development metrics and interval quantiles;
2. harmonises the export in a temporary folder (the site's own pseudonym secret), deleted
   afterwards;
3. builds cohort, labels and features, and scores them with the logged model;
4. measures discrimination, calibration (with recalibration in the large and logistic/linear
   recalibration fitted locally), net benefit, per-subgroup performance and the coverage of
   the model's prediction intervals;
5. suppresses every small cell (:mod:`sma_response.evaluate.disclosure`), checks that no
   identifier of the local data appears anywhere in the output, and writes
   ``validation_report.json`` and ``validation_report.html`` to ``<out_dir>/<run id>/``;
6. logs them with the headline metrics as a run in the (local) tracking store, tagged with
   the model URI and version (and tags the model version when it lives in the same store).

Nothing row-level is written or logged: no prediction, no identifier, no table with one row
per patient.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sma_response._utils.io import atomic_write_text
from sma_response._utils.jsonable import to_jsonable
from sma_response.cohort.spec import CohortSpec, TargetSpec
from sma_response.conf.harmonise import HarmoniseConfig
from sma_response.evaluate.conformal import ConformalQuantiles, conformal_interval, coverage_table
from sma_response.evaluate.disclosure import (
    calibration_bins,
    decision_curve,
    roc_points,
    suppress_small_cells,
)
from sma_response.evaluate.metrics import compute_metrics
from sma_response.evaluate.recalibration import RECALIBRATION_METHODS, fit_recalibration
from sma_response.evaluate.subgroups import make_subgroups, subgroup_metrics
from sma_response.features.design import DesignError, build_design
from sma_response.features.spec import FeatureSpec
from sma_response.harmonise.quality import accounting_totals
from sma_response.report.inputs import outcome_frame
from sma_response.report.validation import render_validation_html
from sma_response.schemas import CDM_SCHEMAS, validate_cdm
from sma_response.tracking.lookup import (
    ModelRef,
    download_run_file,
    get_run,
    load_model,
    read_run_json,
    read_run_text,
    resolve_model,
    tag_model_version,
)
from sma_response.tracking.provenance import package_versions
from sma_response.tracking.run import mlflow_run
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "REPORT_HTML",
    "REPORT_JSON",
    "ValidationError",
    "ValidationResult",
    "find_identifiers",
    "run_validation",
    "validate_model",
]

log = logging.getLogger(__name__)

REPORT_JSON = "validation_report.json"
REPORT_HTML = "validation_report.html"
SCHEMA = "sma-response/validation/1"
#: Thresholds of the decision curve (predicted probability of a meaningful response).
DECISION_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05))
_KEYS = {
    "classification": ("auroc", "auprc", "brier", "calibration_intercept", "calibration_slope"),
    "regression": ("mae", "rmse", "r2", "calibration_intercept", "calibration_slope"),
}
_SUBGROUP_KEYS = {
    "classification": ("auroc", "calibration_slope"),
    "regression": ("rmse", "calibration_slope"),
}


class ValidationError(Exception):
    """The validation cannot be done for a reason the user can fix (one line, no traceback)."""


@dataclass
class ValidationResult:
    """What a validation produced.

    Attributes
    ----------
    run_id
        The validation run in the tracking store.
    tracking_uri
        That store.
    json_path, html_path
        The report files.
    report
        The aggregate report (the JSON's content).
    wall_seconds
        Duration.
    """

    run_id: str
    tracking_uri: str
    json_path: Path
    html_path: Path
    report: dict[str, Any]
    wall_seconds: float


# --------------------------------------------------------------------------- helpers


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return to_jsonable(frame.to_dict("records"))


def _spec(cls: type, node: Any) -> Any:
    """Build a stage spec from a logged config section (typed as in training)."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(cls), node or {}))
    except OmegaConfBaseException as err:
        msg = (
            f"the model run's logged {cls.__name__} does not fit this version: {err}".splitlines()[
                0
            ]
        )
        raise ValidationError(msg) from err


def find_identifiers(text: str, identifiers: Sequence[str]) -> list[str]:
    """Return the identifiers of the local data that occur in an exported text (none!).

    Examples
    --------
    >>> find_identifiers('{"n": 12, "level": "DE"}', ["a1b2c3d4e5f6a7b8", "DE"])
    ['DE']
    """
    return [i for i in identifiers if i and i in text]


def _registry_layout(
    export_dir: Path, registries: Any, registry_dir: Path, tmp: Path
) -> tuple[Path, Path, str | list[str], list[str]]:
    """Where ``run_harmonisation`` should read: (raw_dir, registry_dir, names, mapping names)."""
    from sma_response.harmonise.io import read_registry_spec
    from sma_response.harmonise.spec import RegistrySpecError

    if not export_dir.is_dir():
        msg = f"export_dir: no folder {export_dir}"
        raise ValidationError(msg)
    if isinstance(registries, str) and registries == "all":
        found = sorted(
            p.stem for p in registry_dir.glob("*.yaml") if (export_dir / p.stem).is_dir()
        )
        return export_dir, registry_dir, "all", found
    names = [registries] if isinstance(registries, str) else [str(r) for r in registries]
    if len(names) == 1 and (names[0].endswith((".yaml", ".yml")) or Path(names[0]).is_file()):
        path = Path(names[0])
        if not path.is_file():
            msg = f"registries: no mapping file {path}"
            raise ValidationError(msg)
        registry_dir, names = path.parent, [path.stem]
    if len(names) == 1:
        mapping = registry_dir / f"{names[0]}.yaml"
        if not mapping.is_file():
            available = sorted(p.stem for p in registry_dir.glob("*.yaml"))
            msg = f"registries: no mapping {mapping.name} in {registry_dir}; available: {available}"
            raise ValidationError(msg)
        try:
            folder = read_registry_spec(mapping).folder
        except RegistrySpecError as err:
            raise ValidationError(str(err)) from err
        if not (export_dir / folder).is_dir():  # the export folder itself: give it its name
            raw = tmp / "raw"
            raw.mkdir()
            (raw / folder).symlink_to(export_dir.resolve(), target_is_directory=True)
            return raw, registry_dir, names, names
    return export_dir, registry_dir, names, names


def _harmonise(
    *,
    export_dir: Path,
    registries: Any,
    registry_dir: Path,
    key_file: Path,
    linkage: Mapping[str, Any] | None,
    paths: Mapping[str, Any],
    tmp: Path,
    progress: bool,
) -> tuple[dict[str, pd.DataFrame], str, pd.DataFrame, list[str], str]:
    from sma_response.pipelines.harmonise import HarmonisationError, run_harmonisation

    raw_dir, reg_dir, names, mapping_names = _registry_layout(
        export_dir, registries, registry_dir, tmp
    )
    node = {
        "paths": dict(paths),
        "dataset": "validation",
        "registries": names,
        "raw_dir": str(raw_dir),
        "out_dir": str(tmp / "interim"),
        "registry_dir": str(reg_dir),
        "pseudonym_key_file": str(key_file),
        "evaluate_linkage": False,  # never reads anything but the export itself
        "progress": progress,
    }
    if linkage:
        node["linkage"] = dict(linkage)
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(HarmoniseConfig), node)
        result = run_harmonisation(cfg)  # type: ignore[arg-type]
    except HarmonisationError as err:
        raise ValidationError(str(err)) from err
    except OmegaConfBaseException as err:
        msg = f"harmonisation settings: {err}".splitlines()[0]
        raise ValidationError(msg) from err
    tables = {name: pd.read_parquet(result.cdm_dir / f"{name}.parquet") for name in CDM_SCHEMAS}
    records = accounting_totals(result.accounting, by=("registry",))
    registries_used = sorted(records["registry"].astype(str).unique()) or mapping_names
    return validate_cdm(tables), result.digest, records, registries_used, result.key_source


def _exclusions(attrition: pd.DataFrame, min_cell: int) -> list[dict[str, Any]]:
    """Count the index events excluded by each rule, small counts suppressed.

    No running totals: they would let a suppressed count be recovered by subtraction.
    """
    rows = []
    for r in attrition.iloc[1:].itertuples(index=False):
        if pd.isna(r.excluded):  # the step that defines the index events excludes nothing
            continue
        excluded: int | None = int(r.excluded)
        if excluded is not None and 0 < excluded < min_cell:
            excluded = None
        rows.append({"rule": str(r.rule), "description": str(r.description), "excluded": excluded})
    return rows


def _development(
    original: Mapping[str, Any], task: str, subgroups: pd.DataFrame | None
) -> dict[str, Any]:
    metrics = {
        k.removeprefix("cv/"): v for k, v in original["metrics"].items() if k.startswith("cv/")
    }
    regions = []
    if subgroups is not None and not subgroups.empty:
        keep = subgroups.loc[subgroups["variable"].isin(["overall", "region"])]
        cols = [
            c
            for c in keep.columns
            if c in ("variable", "level", "n") or c.split("_ci_")[0] in _KEYS[task]
        ]
        regions = _records(keep[cols])
    return {
        "validation": original["tags"].get("validation", "unknown"),
        "dataset": original["tags"].get("dataset", "unknown"),
        "metrics": to_jsonable(metrics),
        "regions": regions,
    }


def _interval_check(
    *,
    basis: Mapping[str, Any] | None,
    features: pd.DataFrame,
    targets: pd.DataFrame,
    groups: pd.DataFrame,
    change_pred: np.ndarray | None,
    min_cell: int,
) -> dict[str, Any]:
    if not basis or not basis.get("interval"):
        return {
            "available": False,
            "reason": "the model run logged no interval quantiles (report/basis.json; "
            "trained with explain.enabled=false?)",
        }
    if change_pred is None:
        return {
            "available": False,
            "reason": "the model run logged no model of the change (change_model) to "
            "centre the intervals on",
        }
    quantiles = ConformalQuantiles.from_dict(basis["interval"])
    outcome = outcome_frame(
        features, target_kind=basis["target_kind"], target_scale=basis.get("target_scale")
    )
    t = targets.set_index("index_id").reindex(features.index)
    observed = (t["outcome_score"] - t["baseline_score"]).to_numpy(dtype=float)
    iv = conformal_interval(
        change_pred,
        outcome["scale"].to_numpy(dtype=object),
        quantiles=quantiles,
        lower_limit=outcome["lower_limit"].to_numpy(),
        upper_limit=outcome["upper_limit"].to_numpy(),
    )
    ok = np.isfinite(observed)
    intervals = pd.DataFrame(
        {
            "index_id": features.index.astype(str)[ok],
            "lower": iv["lower"].to_numpy()[ok],
            "upper": iv["upper"].to_numpy()[ok],
            "covered": (observed[ok] >= iv["lower"].to_numpy()[ok] - 1e-9)
            & (observed[ok] <= iv["upper"].to_numpy()[ok] + 1e-9),
        }
    )
    cov_groups = (
        groups[["region"]].astype(object).join(outcome[["scale"]].astype(object).fillna("unknown"))
    )
    table = coverage_table(intervals, cov_groups)
    table["n_covered"] = np.round(table["coverage"] * table["n"]).astype(int)
    safe = suppress_small_cells(table, min_cell=min_cell, events_col="n_covered")
    overall = safe.iloc[0]
    dev: dict[str, Any] = next(
        (r for r in basis.get("coverage", []) if r.get("variable") == "overall"), {}
    )
    return {
        "available": True,
        "level": float(quantiles.level),
        "coverage": None if overall["suppressed"] else float(overall["coverage"]),
        "mean_width": None if overall["suppressed"] else float(overall["mean_width"]),
        "development_coverage": dev.get("coverage"),
        "table": _records(safe.drop(columns=["n_covered"])),
    }


def _log_run(
    tracking: TrackingSpec,
    *,
    ref: ModelRef,
    model_spec: TrackingSpec,
    report: dict[str, Any],
    site: str,
    digest: str,
    params: Mapping[str, Any],
    write: Any,
) -> tuple[str, Path, Path]:
    tags = {
        "task_name": "validate",
        "validation.model_uri": ref.uri,
        "validation.model_run_id": ref.run_id,
        "validation.model_name": ref.name or "unregistered",
        "validation.model_version": ref.version or "none",
        "validation.model_tracking_uri": model_spec.uri,
        "validation.site": site,
        "package_version": package_versions(["sma-response"])["sma-response"],
    }
    with mlflow_run(
        tracking, run_name=f"validate:{ref.name or ref.run_id}:{site}", tags=tags
    ) as run:
        report["run_id"] = run.run_id
        json_path, html_path = write(run.run_id)
        run.log_params(params)
        flat = {
            f"validation/{k}": v for k, v in report["metrics"].items() if isinstance(v, int | float)
        }
        for name, block in (report.get("recalibration") or {}).get("methods", {}).items():
            flat.update(
                {
                    f"validation/{name}/{k}": v
                    for k, v in block["metrics_after"].items()
                    if isinstance(v, int | float)
                }
            )
            flat[f"validation/{name}/intercept"] = block["intercept"]
            flat[f"validation/{name}/slope"] = block["slope"]
        if report["intervals"].get("coverage") is not None:
            flat["validation/interval_coverage"] = report["intervals"]["coverage"]
        flat["validation/n_suppressed"] = report["disclosure"]["n_suppressed"]
        run.log_metrics({k: v for k, v in flat.items() if v is not None})
        run.log_dataset(
            uri=f"local export at {site} (not shared)",
            digest=digest,
            name=f"validation:{site}",
            context="validation",
        )
        run.log_artifacts(json_path.parent, "validation")
        run_id = run.run_id
    if model_spec.uri == tracking.uri:
        tag_model_version(model_spec, ref, {f"validation.{run_id}": f"{site}: see run {run_id}"})
    return run_id, json_path, html_path


# --------------------------------------------------------------------------- main entry


def validate_model(
    *,
    model_uri: str | None = None,
    run_id: str | None = None,
    export_dir: str | Path,
    registries: Any,
    tracking: TrackingSpec,
    model_tracking: TrackingSpec | None = None,
    registry_dir: str | Path,
    pseudonym_key_file: str | Path,
    paths: Mapping[str, Any],
    out_dir: str | Path,
    site: str = "local site",
    min_cell: int = 10,
    recalibrate: bool = True,
    n_boot: int = 200,
    seed: int = 0,
    progress: bool = False,
) -> ValidationResult:
    """Validate a logged model on a local registry export; write and log aggregates only.

    Parameters
    ----------
    model_uri, run_id
        The model (``models:/...`` or ``runs:/...``), or its training run.
    export_dir
        The export: one registry's folder, or a folder of registry folders.
    registries
        Mapping name, path to a mapping YAML, ``all`` or a list of names.
    tracking
        Store the validation run is logged to.
    model_tracking
        Store holding the model (default: ``tracking``).
    registry_dir, pseudonym_key_file
        Mapping folder and the site's pseudonym secret file.
    paths
        The ``paths`` config (root, data and output folders).
    out_dir
        Reports go to ``<out_dir>/<validation run id>/``.
    site
        Label of the site in the report.
    min_cell
        Smallest count shown (:mod:`sma_response.evaluate.disclosure`).
    recalibrate
        Also report recalibrated performance.
    n_boot, seed
        Bootstrap resamples and seed.
    progress
        Progress bars while harmonising.

    Returns
    -------
    ValidationResult

    Raises
    ------
    ValidationError
        Unknown model, missing export or mapping, too few patients.
    """
    started = time.perf_counter()
    if min_cell < 1:
        msg = f"min_cell: must be at least 1, got {min_cell}"
        raise ValidationError(msg)
    model_spec = model_tracking or tracking
    try:
        ref = resolve_model(model_spec, model=model_uri, run_id=run_id)
        original = get_run(model_spec, ref.run_id)
    except LookupError as err:
        raise ValidationError(str(err)) from err
    text = read_run_text(model_spec, ref.run_id, "config/config.yaml")
    if text is None:
        msg = f"model run {ref.run_id} has no config/config.yaml: it was not logged by sma-train"
        raise ValidationError(msg)
    run_cfg: DictConfig = OmegaConf.create(text)  # type: ignore[assignment]
    cohort_spec: CohortSpec = _spec(CohortSpec, run_cfg.get("cohort"))
    target_spec: TargetSpec = _spec(TargetSpec, run_cfg.get("target"))
    feature_spec: FeatureSpec = _spec(FeatureSpec, run_cfg.get("features"))
    task = "regression" if target_spec.kind == "delta" else "classification"
    binary = task == "classification"
    basis = read_run_json(model_spec, ref.run_id, "report/basis.json")

    with tempfile.TemporaryDirectory(prefix="sma-validate-") as tmp_name:
        tmp = Path(tmp_name)
        cdm, digest, records, registry_names, key_source = _harmonise(
            export_dir=Path(export_dir),
            registries=registries,
            registry_dir=Path(registry_dir),
            key_file=Path(pseudonym_key_file),
            linkage=OmegaConf.to_container(run_cfg.harmonise.linkage)
            if "harmonise" in run_cfg and "linkage" in run_cfg.harmonise
            else None,  # type: ignore[arg-type]
            paths=paths,
            tmp=tmp,
            progress=progress,
        )
        dev_subgroups = None
        local = download_run_file(
            model_spec, ref.run_id, "evaluation/subgroups.csv", dst=tmp / "dev"
        )
        if local is not None:
            dev_subgroups = pd.read_csv(local)

    try:
        design = build_design(
            cdm,
            cohort_spec=cohort_spec,
            feature_spec=feature_spec,
            target_spec=target_spec,
            min_events=2 * min_cell,
        )
    except DesignError as err:
        msg = (
            f"only {err} of the export (the model's definitions): "
            f"too few to validate with min_cell={min_cell}"
        )
        raise ValidationError(msg) from err
    cohort, attrition, features, targets = (
        design.cohort,
        design.attrition,
        design.X,
        design.targets,
    )
    y = pd.Series(design.y).to_numpy(dtype=float)

    try:
        model = load_model(model_spec, ref.uri)
    except LookupError as err:
        raise ValidationError(str(err)) from err
    change_model = None
    if binary and basis:  # the companion model of the change, logged beside a classifier
        try:
            change_model = load_model(model_spec, f"runs:/{ref.run_id}/change_model")
        except LookupError:
            log.warning(
                "model run %s has no change_model: interval coverage not checked", ref.run_id
            )
    p = model.predict(None, model.prepare(features))["prediction"].to_numpy(dtype=float)
    change_pred = None
    if not binary:
        change_pred = p
    elif change_model is not None:
        change_pred = change_model.predict(None, change_model.prepare(features))[
            "prediction"
        ].to_numpy(dtype=float)

    rng = np.random.default_rng(seed)
    metrics = compute_metrics(y, p, task=task, rng=rng, n_boot=n_boot)
    preds = pd.DataFrame({"index_id": features.index.astype(str), "y_true": y, "y_pred": p})
    groups = make_subgroups(cohort, cdm["patients"])
    sub = subgroup_metrics(preds, groups, task=task, rng=rng, min_n=min_cell, n_boot=n_boot)
    keep = ["variable", "level", "n", *(["n_events"] if binary else [])]
    keep += [c for c in sub.columns if c.split("_ci_")[0] in _SUBGROUP_KEYS[task] and c not in keep]
    subgroups = suppress_small_cells(
        sub[keep], min_cell=min_cell, events_col="n_events" if binary else None
    )

    recal = None
    if recalibrate:
        methods = {}
        for method in RECALIBRATION_METHODS[task]:
            fitted = fit_recalibration(y, p, task=task, method=method)
            after = fitted.apply(p)
            m_after = compute_metrics(
                y, after, task=task, rng=np.random.default_rng(seed), n_boot=0
            )
            methods[method] = {
                "intercept": fitted.intercept,
                "slope": fitted.slope,
                "metrics_after": {k: m_after[k] for k in _KEYS[task]},
                "bins": _records(calibration_bins(y, after, min_cell=min_cell, binary=binary)),
            }
        recal = {
            "apparent": True,
            "metric_keys": list(_KEYS[task][2:] if binary else _KEYS[task]),
            "methods": methods,
        }

    intervals = _interval_check(
        basis=basis,
        features=features,
        targets=targets,
        groups=groups,
        change_pred=change_pred,
        min_cell=min_cell,
    )
    n_suppressed = int(subgroups["suppressed"].sum()) + sum(
        1 for r in intervals.get("table", []) if r.get("suppressed")
    )
    n_patients = int(cohort["linked_id"].nunique())
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "created": dt.date.today().isoformat(),
        "run_id": None,
        "site": {
            "label": site,
            "registries": registry_names,
            "data_digest": digest,
            "pseudonym_key": key_source,
            "records": _records(records),
        },
        "model": {
            "uri": ref.uri,
            "run_id": ref.run_id,
            "name": ref.name,
            "version": ref.version,
            "task": task,
            "target": target_spec.kind,
            "target_scale": target_spec.scale,
            "model_name": original["tags"].get("model", "unknown"),
            "trained_on": original["tags"].get("dataset", "unknown"),
            "git_sha": original["tags"].get("git_sha", "unknown"),
            "tracking_uri": model_spec.uri,
        },
        "software": {"package_version": package_versions(["sma-response"])["sma-response"]},
        "disclosure": {
            "min_cell": min_cell,
            "n_suppressed": n_suppressed,
            "rules": "cells with fewer than min_cell index events, events or non-events "
            "are suppressed, "
            "with complementary suppression within each variable; curves are coarsened to steps of "
            "zero or at least min_cell events and non-events; no cut-off values or "
            "patient rows are exported",
        },
        "cohort": {
            "n_index_events": len(cohort),
            "n_patients": n_patients,
            "n_events": int(y.sum()) if binary else None,
            "prevalence": float(y.mean()) if binary else None,
            "exclusions": _exclusions(attrition, min_cell),
        },
        "metrics": to_jsonable(metrics),
        "discrimination": {
            "roc_points": _records(roc_points(y, p, min_cell=min_cell)) if binary else []
        },
        "calibration": {"bins": _records(calibration_bins(y, p, min_cell=min_cell, binary=binary))},
        "decision_curve": _records(
            decision_curve(y, p, thresholds=DECISION_THRESHOLDS, min_cell=min_cell)
        )
        if binary
        else [],
        "recalibration": to_jsonable(recal),
        "subgroups": _records(subgroups),
        "subgroup_keys": list(_SUBGROUP_KEYS[task]),
        "intervals": to_jsonable(intervals),
        "comparison": {
            "metric_keys": list(_KEYS[task]),
            "development": _development(original, task, dev_subgroups),
        },
    }
    identifiers = sorted(
        set(cohort["patient_id"].astype(str))
        | set(cohort["index_id"].astype(str))
        | set(cohort["linked_id"].astype(str))
        | set(cdm["patients"]["patient_id"].astype(str))
    )

    def write(validation_run_id: str) -> tuple[Path, Path]:
        folder = Path(out_dir) / validation_run_id
        folder.mkdir(parents=True, exist_ok=True)
        text_json = json.dumps(to_jsonable(report), indent=2, sort_keys=False) + "\n"
        html = render_validation_html(json.loads(text_json))
        leaked = find_identifiers(text_json + html, identifiers)
        if leaked:  # a bug, never expected: refuse to write rather than leak
            msg = f"refusing to export: {len(leaked)} local identifier(s) found in the report"
            raise ValidationError(msg)
        return atomic_write_text(folder / REPORT_JSON, text_json), atomic_write_text(
            folder / REPORT_HTML, html
        )

    params = {
        "model_uri": ref.uri,
        "registries": ",".join(registry_names),
        "min_cell": min_cell,
        "recalibrate": recalibrate,
        "n_boot": n_boot,
        "seed": seed,
    }
    run_id_out, json_path, html_path = _log_run(
        tracking,
        ref=ref,
        model_spec=model_spec,
        report=report,
        site=site,
        digest=digest,
        params=params,
        write=write,
    )
    log.info(
        "validation run %s: %d index events, %d cells suppressed",
        run_id_out,
        len(cohort),
        n_suppressed,
    )
    return ValidationResult(
        run_id=run_id_out,
        tracking_uri=tracking.uri,
        json_path=json_path,
        html_path=html_path,
        report=json.loads(json_path.read_text(encoding="utf-8")),
        wall_seconds=time.perf_counter() - started,
    )


def run_validation(cfg: DictConfig) -> ValidationResult:
    """Validate the model named by a composed ``validate`` config (``configs/validate.yaml``).

    Raises
    ------
    ValidationError
        For problems the user can fix.
    """
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    for key in ("export_dir", "registries"):
        if OmegaConf.is_missing(cfg, key):
            msg = (
                f"{key}: required (sma-validate model=<uri> export_dir=<folder> registry=<mapping>)"
            )
            raise ValidationError(msg)
    tracking = TrackingSpec(**OmegaConf.to_container(cfg.tracking, resolve=True))  # type: ignore[arg-type]
    model_tracking = None
    if cfg.model_tracking_uri and cfg.model_tracking_uri != tracking.uri:
        model_tracking = TrackingSpec(uri=str(cfg.model_tracking_uri), artifact_location=None)
    registries = cfg.registries if isinstance(cfg.registries, str) else list(cfg.registries)
    return validate_model(
        model_uri=cfg.model_uri,
        run_id=cfg.run_id,
        export_dir=str(cfg.export_dir),
        registries=registries,
        tracking=tracking,
        model_tracking=model_tracking,
        registry_dir=str(cfg.registry_dir),
        pseudonym_key_file=str(cfg.pseudonym_key_file),
        paths=OmegaConf.to_container(cfg.paths, resolve=True),  # type: ignore[arg-type]
        out_dir=str(cfg.out_dir),
        site=str(cfg.site),
        min_cell=int(cfg.min_cell),
        recalibrate=bool(cfg.recalibrate),
        n_boot=int(cfg.n_boot),
        seed=int(cfg.seed),
        progress=bool(cfg.progress),
    )
