"""Per-patient reports: ``run_reports(cfg)`` behind ``sma-report``, and the shared writer.

From a logged run (``run_id``, or a ``models:/`` / ``runs:/`` model URI) it writes HTML and PDF
reports into ``<out_dir>/<run_id>/``, with an ``index.html``:

* for patients of the run's own cohort (``patients``: index ids or pseudonymous patient ids;
  empty: a few examples), from the run's logged held-out predictions, intervals, alternatives
  and SHAP values, so every number is one the model produced without seeing the patient;
* for new patients given as a registry export (``export_path`` + ``registry``, any configured
  registry format), harmonised with the same mapping and pseudonym key as training, put
  through the run's cohort and feature definitions, and scored by the run's final models.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sma_response._utils.errors import reraise
from sma_response._utils.io import atomic_write_text
from sma_response.cohort.build import cohort_exclusions
from sma_response.cohort.spec import CohortSpec
from sma_response.conf.factory import ConfigError
from sma_response.conf.logged import logged_config
from sma_response.conf.nodes import node_spec
from sma_response.features.design import DesignError, build_design
from sma_response.features.spec import FeatureSpec
from sma_response.harmonise.harmonise import combine_registries
from sma_response.harmonise.layout import ExportLayoutError, harmonise_export
from sma_response.pipelines.data import pseudonym_key
from sma_response.report.basis import ReportBasis, missing_basis_reason
from sma_response.report.batch import build_contexts, write_reports
from sma_response.report.inputs import (
    ReportInputs,
    example_ids,
    score_patients,
    select_patients,
    skipped_patients,
)
from sma_response.report.spec import ReportError, ReportSpec
from sma_response.schemas import validate_cdm
from sma_response.tracking.lookup import (
    get_run,
    load_model,
    read_run_text,
    require_finished,
    resolve_model,
)
from sma_response.tracking.run import download_artifact, read_text_artifact
from sma_response.tracking.spec import TrackingSpec

__all__ = ["ReportError", "ReportRun", "build_contexts", "run_reports", "write_reports"]

log = logging.getLogger(__name__)

#: Beside the reports of an export: who got none and why; the quarantined cells and rows.
SKIPPED_FILE = "skipped_patients.csv"
REJECTS_FILE = "rejects.csv"
_ARTIFACTS = ("report/patients.parquet", "report/alternatives.parquet", "explain/shap_oof.parquet")


@dataclass
class ReportRun:
    """What one ``sma-report`` job wrote.

    Attributes
    ----------
    run_id
        The training run the reports come from.
    source
        ``cohort`` (held-out predictions of the run's own patients) or ``export`` (new
        patients from a registry export, scored by the final model).
    folder, index
        Where the reports are, and their index page.
    paths
        Every file written (reports, then the index page).
    patients
        One row per reported index event: ``index_id, patient_id, region, scale,
        probability, expected_change, lower, upper`` (pseudonymous keys only).
    skipped
        Export patients who got no report: ``patient_id, rule, reason`` (also written as
        ``skipped_patients.csv`` beside the reports); ``None`` for the run's own cohort.
    rejects_path
        The export's quarantined cells and rows (``rejects.csv``), when there are any.
    n_export_patients
        Patients in the export: those with an index event (reportable) and the skipped.
    """

    run_id: str
    source: str
    folder: Path
    index: Path
    paths: list[Path]
    patients: pd.DataFrame
    skipped: pd.DataFrame | None = None
    rejects_path: Path | None = None
    n_export_patients: int | None = None


def _load_logged(tracking: TrackingSpec, run_id: str) -> tuple[ReportBasis, ReportInputs]:
    with reraise(ReportError, LookupError):  # no such run in this store
        run = get_run(tracking, run_id)
    text = read_run_text(tracking, run_id, "report/basis.json")
    if text is None:
        raise ReportError(missing_basis_reason(run))
    # a killed or failed run may have logged a basis: it is still no result to report
    with reraise(ReportError, LookupError):
        require_finished(run)
        ref = resolve_model(tracking, run_id=run_id)
    basis = ReportBasis.from_json(text)
    if ref.version and not basis.provenance.get("model_version"):
        # registered after the run finished: the reports name the version
        basis.provenance.update(
            model_uri=f"models:/{ref.name}/{ref.version}", model_version=ref.version
        )
    with tempfile.TemporaryDirectory() as tmp:
        frames = [
            pd.read_parquet(download_artifact(tracking, run_id, a, Path(tmp))) for a in _ARTIFACTS
        ]
    return basis, ReportInputs(patients=frames[0], alternatives=frames[1], shap=frames[2])


@dataclass
class _Export:
    inputs: ReportInputs
    skipped: pd.DataFrame  # patient_id, rule, reason
    rejects: pd.DataFrame  # the harmonisation's quarantined cells and rows


def _new_patients(
    cfg: DictConfig, tracking: TrackingSpec, run_id: str, basis: ReportBasis
) -> _Export:
    """Harmonise an export, build the run's cohort and features, score with the final models."""
    export = Path(str(cfg.export_path))
    key = pseudonym_key(Path(str(cfg.pseudonym_key_file)))
    with reraise(ReportError, ExportLayoutError):
        registry = harmonise_export(
            export, Path(str(cfg.registry_dir)), str(cfg.export_registry or ""), key=key
        )
    harmonised = combine_registries([registry])
    if len(harmonised.rejects):
        log.warning(
            "export: %d rejected cells or rows (see the harmonisation rules)",
            len(harmonised.rejects),
        )
    cdm = validate_cdm(harmonised.tables)
    with reraise(ReportError, ConfigError):
        run_cfg = logged_config(read_text_artifact(tracking, run_id, "config/config.yaml"), run_id)
        cohort_spec = node_spec(run_cfg.cohort, CohortSpec, key="cohort")
        feature_spec = node_spec(run_cfg.features, FeatureSpec, key="features")
    skipped = skipped_patients(
        cohort_exclusions(cdm, spec=cohort_spec), harmonised.rejects, cdm["patients"]
    )
    try:
        design = build_design(cdm, cohort_spec=cohort_spec, feature_spec=feature_spec)
    except DesignError as err:
        reasons = "; ".join(f"{r.patient_id}: {r.reason}" for r in skipped.head(5).itertuples())
        more = f"; ... {len(skipped) - 5} more" if len(skipped) > 5 else ""
        msg = (
            f"export: no patient of {export} has a therapy start with a motor score in the "
            f"baseline window, so there is nothing to predict ({reasons}{more})"
        )
        raise ReportError(msg) from err
    cohort = design.cohort
    # every model file checked against the digests the run recorded
    with reraise(ReportError, LookupError):
        wrapper = load_model(tracking, f"runs:/{run_id}/model")
        change = wrapper.pipeline
        if basis.task == "classification":
            change = load_model(tracking, f"runs:/{run_id}/change_model").pipeline
    X = wrapper._restore(wrapper.prepare(design.X))
    inputs = score_patients(X, cohort, model=wrapper.pipeline, change_model=change, basis=basis)
    return _Export(inputs=inputs, skipped=skipped, rejects=harmonised.rejects)


def run_reports(cfg: DictConfig) -> ReportRun:
    """Write per-patient reports of a logged run (``configs/report.yaml``).

    Parameters
    ----------
    cfg
        Composed ``report`` config; it is not modified.

    Returns
    -------
    ReportRun
        The folder, every file written (reports, then ``index.html``) and the reported
        patients' predictions. Reports of new patients go to ``<run_id>/export-<registry>/``.

    Raises
    ------
    ReportError
        For problems the user can fix (no run given, unknown ids, no such export or mapping).
    """
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    tracking = node_spec(cfg.tracking, TrackingSpec, key="tracking")
    spec = node_spec(cfg.report, ReportSpec, key="report")
    if cfg.run_id:
        run_id = str(cfg.run_id)
    elif cfg.model_uri:
        with reraise(ReportError, LookupError):
            run_id = resolve_model(tracking, model=str(cfg.model_uri), key="model_uri").run_id
    else:
        msg = (
            "run_id: give the run to report on (run_id=<id>) or a model "
            "(model_uri=models:/<name>/<version>)"
        )
        raise ReportError(msg)
    basis, inputs = _load_logged(tracking, run_id)
    export = _new_patients(cfg, tracking, run_id, basis) if cfg.export_path else None
    if export is not None:
        inputs = export.inputs
    wanted = list(cfg.patients or [])
    if wanted:
        index_ids = select_patients(inputs.patients, wanted)
    elif cfg.export_path:
        index_ids = inputs.patients["index_id"].tolist()
    else:
        index_ids = example_ids(inputs.patients, n=spec.n_examples, task=basis.task)
    created = dt.date.today().isoformat()
    folder = Path(str(cfg.out_dir)) / run_id
    if cfg.export_path:  # new patients: beside the run's cohort reports, with their own index
        folder = folder / f"export-{cfg.export_registry}"
    paths = write_reports(
        inputs,
        basis=basis,
        index_ids=index_ids,
        folder=folder,
        spec=spec,
        created=created,
        progress=bool(cfg.progress),
    )
    columns = ["index_id", "patient_id", "region", "scale", "probability", "expected_change"]
    chosen = inputs.patients.set_index("index_id", drop=False).loc[list(index_ids)]
    rejects_path = None
    if export is not None:  # who got no report, and why, beside the reports
        atomic_write_text(folder / SKIPPED_FILE, export.skipped.to_csv(index=False))
        if len(export.rejects):
            rejects_path = folder / REJECTS_FILE
            atomic_write_text(rejects_path, export.rejects.to_csv(index=False))
    return ReportRun(
        run_id=run_id,
        source="export" if cfg.export_path else "cohort",
        folder=folder,
        index=paths[-1],
        paths=paths,
        patients=chosen[[*columns, "lower", "upper"]].reset_index(drop=True),
        skipped=None if export is None else export.skipped,
        rejects_path=rejects_path,
        n_export_patients=None
        if export is None
        else len(export.skipped) + export.inputs.patients["patient_id"].nunique(),
    )
