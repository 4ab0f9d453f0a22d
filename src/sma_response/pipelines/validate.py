"""External validation of a logged model on a local registry export, exporting aggregates only.

``run_validation(cfg)`` is what ``sma-validate`` calls; :func:`validate_model` is the same with
keyword arguments (notebooks). It reads the model run's logged definitions
(:mod:`sma_response.conf.logged`), harmonises the export in a temporary folder with the site's
own pseudonym secret, builds the design, scores it with the logged model, reduces everything to
a disclosure-controlled aggregate report (:mod:`sma_response.report.external`), checks it for
local identifiers, writes ``validation_report.json`` and ``.html`` to ``<out_dir>/<run id>/``
and logs them as a run (tagging the model version when it lives in the same store).

Nothing row-level is written or logged: no prediction, no identifier, no table with one row
per patient.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sma_response._utils.errors import reraise
from sma_response.conf.factory import ConfigError
from sma_response.conf.harmonise import export_harmonise_config
from sma_response.conf.logged import Definitions, definitions, logged_config
from sma_response.conf.nodes import node_dict
from sma_response.conf.validate import validate_arguments
from sma_response.evaluate.subgroups import make_subgroups
from sma_response.features.design import Design, DesignError, build_design
from sma_response.harmonise.layout import ExportLayoutError, export_layout
from sma_response.harmonise.quality import accounting_totals
from sma_response.pipelines.harmonise import HarmonisationError, run_harmonisation
from sma_response.report.external import (
    REPORT_HTML,
    REPORT_JSON,
    ExportLeakError,
    headline_metrics,
    local_identifiers,
    records,
    site_report,
    write_export,
)
from sma_response.schemas import CDM_SCHEMAS, validate_cdm
from sma_response.tracking.lookup import (
    ModelRef,
    describe_model,
    download_run_file,
    get_run,
    load_model,
    read_run_json,
    read_run_text,
    resolve_model,
    tag_model_version,
    validation_tags,
)
from sma_response.tracking.provenance import package_versions
from sma_response.tracking.run import mlflow_run
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "REPORT_HTML",
    "REPORT_JSON",
    "ValidationError",
    "ValidationResult",
    "run_validation",
    "validate_model",
]

log = logging.getLogger(__name__)


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
    with reraise(ValidationError, ExportLayoutError, ConfigError, HarmonisationError):
        layout = export_layout(export_dir, registries, registry_dir, tmp)
        cfg = export_harmonise_config(
            layout, key_file=key_file, paths=paths, out_dir=tmp / "interim", linkage=linkage,
            progress=progress,
        )  # fmt: skip
        result = run_harmonisation(cfg)
    tables = {name: pd.read_parquet(result.cdm_dir / f"{name}.parquet") for name in CDM_SCHEMAS}
    records = accounting_totals(result.accounting, by=("registry",))
    registries_used = sorted(records["registry"].astype(str).unique()) or layout.mapping_names
    return validate_cdm(tables), result.digest, records, registries_used, result.key_source


@dataclass
class _ModelRun:
    """The model to validate: where it is, its run, and the definitions it was trained with."""

    spec: TrackingSpec
    ref: ModelRef
    original: dict[str, Any]
    config: DictConfig
    defs: Definitions
    basis: dict[str, Any] | None

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return self.defs.task


@dataclass
class _SiteData:
    """The site's harmonised export (never leaves this process) and what may be shared of it."""

    cdm: dict[str, pd.DataFrame]
    digest: str
    records: pd.DataFrame
    registry_names: list[str]
    key_source: str
    dev_subgroups: pd.DataFrame | None


def _model_run(spec: TrackingSpec, *, model_uri: str | None, run_id: str | None) -> _ModelRun:
    with reraise(ValidationError, LookupError, ConfigError):
        ref = resolve_model(spec, model=model_uri, run_id=run_id)
        original = get_run(spec, ref.run_id)
        config = logged_config(read_run_text(spec, ref.run_id, "config/config.yaml"), ref.run_id)
        defs = definitions(config)
    basis = read_run_json(spec, ref.run_id, "report/basis.json")
    return _ModelRun(spec=spec, ref=ref, original=original, config=config, defs=defs, basis=basis)


def _site_data(
    model: _ModelRun,
    *,
    export_dir: Path,
    registries: Any,
    registry_dir: Path,
    key_file: Path,
    paths: Mapping[str, Any],
    progress: bool,
) -> _SiteData:
    cfg = model.config
    linkage = None
    if "harmonise" in cfg and "linkage" in cfg.harmonise:
        linkage = node_dict(cfg.harmonise.linkage, key="harmonise.linkage")
    with tempfile.TemporaryDirectory(prefix="sma-validate-") as tmp_name:
        tmp = Path(tmp_name)
        cdm, digest, records, names, key_source = _harmonise(
            export_dir=export_dir,
            registries=registries,
            registry_dir=registry_dir,
            key_file=key_file,
            linkage=linkage,
            paths=paths,
            tmp=tmp,
            progress=progress,
        )
        local = download_run_file(
            model.spec, model.ref.run_id, "evaluation/subgroups.csv", dst=tmp / "dev"
        )
        dev_subgroups = None if local is None else pd.read_csv(local)
    return _SiteData(cdm, digest, records, names, key_source, dev_subgroups)


def _site_design(model: _ModelRun, cdm: dict[str, pd.DataFrame], *, min_cell: int) -> Design:
    try:
        return build_design(
            cdm,
            cohort_spec=model.defs.cohort,
            feature_spec=model.defs.features,
            target_spec=model.defs.target,
            min_events=2 * min_cell,
        )
    except DesignError as err:
        msg = (
            f"only {err} of the export (the model's definitions): "
            f"too few to validate with min_cell={min_cell}"
        )
        raise ValidationError(msg) from err


def _predictions(model: _ModelRun, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the model's predictions and the predicted change the intervals are centred on."""
    with reraise(ValidationError, LookupError):
        main = load_model(model.spec, model.ref.uri)
    p = main.predict(None, main.prepare(X))["prediction"].to_numpy(dtype=float)
    if model.task != "classification":
        return p, p
    if not model.basis:
        return p, None
    try:  # the companion model of the change, logged beside a classifier
        change = load_model(model.spec, f"runs:/{model.ref.run_id}/change_model")
    except LookupError:
        log.warning(
            "model run %s has no change_model: interval coverage not checked", model.ref.run_id
        )
        return p, None
    return p, change.predict(None, change.prepare(X))["prediction"].to_numpy(dtype=float)


def _aggregate(
    model: _ModelRun, site_data: _SiteData, design: Design, *, site: str, settings: dict[str, Any]
) -> dict[str, Any]:
    """Score the site's patients and reduce everything to the aggregate report."""
    p, change_pred = _predictions(model, design.X)
    return site_report(
        design,
        make_subgroups(design.cohort, site_data.cdm["patients"]),
        p,
        change_pred,
        basis=model.basis,
        task=model.task,
        site={
            "label": site,
            "registries": site_data.registry_names,
            "data_digest": site_data.digest,
            "pseudonym_key": site_data.key_source,
            "records": records(site_data.records),
        },
        model={
            **describe_model(model.spec, model.ref, model.original),
            "task": model.task,
            "target": model.defs.target.kind,
            "target_scale": model.defs.target.scale,
        },
        development={
            "metrics": model.original["metrics"],
            "tags": model.original["tags"],
            "subgroups": site_data.dev_subgroups,
        },
        settings=settings,
        created=dt.date.today().isoformat(),
        package_version=package_versions(["sma-response"])["sma-response"],
    )


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
    tracking, model_tracking
        Store the validation run is logged to; store holding the model (default: the same).
    registry_dir, pseudonym_key_file, paths
        Mapping folder, the site's pseudonym secret file, the ``paths`` config.
    out_dir, site
        Reports go to ``<out_dir>/<validation run id>/``; the site's label in them.
    min_cell, recalibrate, n_boot, seed
        Smallest count shown (:mod:`sma_response.evaluate.disclosure`); also report
        recalibrated performance; bootstrap resamples and seed.
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
    model = _model_run(model_tracking or tracking, model_uri=model_uri, run_id=run_id)
    site_data = _site_data(
        model,
        export_dir=Path(export_dir),
        registries=registries,
        registry_dir=Path(registry_dir),
        key_file=Path(pseudonym_key_file),
        paths=paths,
        progress=progress,
    )
    design = _site_design(model, site_data.cdm, min_cell=min_cell)
    settings = {"min_cell": min_cell, "recalibrate": recalibrate, "n_boot": n_boot, "seed": seed}
    report = _aggregate(model, site_data, design, site=site, settings=settings)
    params = {
        "model_uri": model.ref.uri,
        "registries": ",".join(site_data.registry_names),
        **settings,
    }
    return _publish(tracking, model, site_data, design, report, site=site, params=params,
                    out_dir=Path(out_dir), started=started)  # fmt: skip


def _publish(
    tracking: TrackingSpec,
    model: _ModelRun,
    site_data: _SiteData,
    design: Design,
    report: dict[str, Any],
    *,
    site: str,
    params: Mapping[str, Any],
    out_dir: Path,
    started: float,
) -> ValidationResult:
    """Log the validation run with the report files (checked for identifiers first)."""
    ref, identifiers = model.ref, local_identifiers(design.cohort, site_data.cdm["patients"])
    tags = validation_tags(model.spec, ref, site=site)
    with mlflow_run(
        tracking, run_name=f"validate:{ref.name or ref.run_id}:{site}", tags=tags
    ) as run:
        report["run_id"] = run_id = run.run_id
        with reraise(ValidationError, ExportLeakError):
            json_path, html_path = write_export(report, identifiers, out_dir / run_id)
        run.log_params(params)
        run.log_metrics(headline_metrics(report))
        run.log_dataset(
            uri=f"local export at {site} (not shared)", digest=site_data.digest,
            name=f"validation:{site}", context="validation",
        )  # fmt: skip
        run.log_artifacts(json_path.parent, "validation")
    if model.spec.uri == tracking.uri:
        tag_model_version(model.spec, ref, {f"validation.{run_id}": f"{site}: see run {run_id}"})
    n_suppressed = report["disclosure"]["n_suppressed"]
    log.info(
        "validation run %s: %d index events, %d cells suppressed",
        run_id,
        len(design.cohort),
        n_suppressed,
    )
    return ValidationResult(
        run_id=run_id,
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
    with reraise(ValidationError, ConfigError):
        arguments = validate_arguments(cfg)
    return validate_model(**arguments)
