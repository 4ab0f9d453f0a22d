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
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from sma_response._utils.io import atomic_write_text
from sma_response.pipelines.explain import ReportInputs, example_ids, score_patients
from sma_response.report.basis import ReportBasis
from sma_response.report.context import PatientReport, build_patient_context
from sma_response.report.render import render_index_html, write_report
from sma_response.report.spec import REPORT_FORMATS, ReportSpec
from sma_response.tracking.spec import TrackingSpec

__all__ = ["ReportError", "ReportRun", "build_contexts", "run_reports", "write_reports"]

log = logging.getLogger(__name__)

INDEX_FILE = "index.html"
_ARTIFACTS = ("report/patients.parquet", "report/alternatives.parquet", "explain/shap_oof.parquet")


#: Reports rendered per task handed to a worker process (small: the progress bar moves).
_CHUNK = 4


class ReportError(Exception):
    """The reports cannot be made for a reason the user can fix (one line, no traceback)."""


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
    """

    run_id: str
    source: str
    folder: Path
    index: Path
    paths: list[Path]
    patients: pd.DataFrame


def build_contexts(
    inputs: ReportInputs,
    *,
    basis: ReportBasis,
    index_ids: Sequence[str],
    spec: ReportSpec,
    created: str,
) -> list[PatientReport]:
    """Report contexts of the chosen index events (in the order given)."""
    shap = inputs.shap.groupby("index_id", sort=False)
    patients = inputs.patients.set_index("index_id", drop=False)
    alternatives = inputs.alternatives.groupby("index_id", sort=False)
    out = []
    for index_id in index_ids:
        alts = (
            alternatives.get_group(index_id)
            if index_id in alternatives.groups
            else inputs.alternatives.iloc[:0]
        )
        out.append(
            build_patient_context(
                shap.get_group(index_id),
                patient=patients.loc[index_id].to_dict(),
                alternatives=alts,
                basis=basis,
                spec=spec,
                created=created,
            )
        )
    return out


def _write_chunk(reports: list[PatientReport], folder: Path, formats: list[str]) -> list[Path]:
    return [p for r in reports for p in write_report(r, folder, formats=formats)]


def write_reports(
    inputs: ReportInputs,
    *,
    basis: ReportBasis,
    index_ids: Sequence[str],
    folder: Path,
    spec: ReportSpec,
    created: str,
    progress: bool = False,
) -> list[Path]:
    """Write the reports of ``index_ids`` and an index page into ``folder``.

    Reports are rendered in ``spec.n_jobs`` processes when there are many (the PDF is the slow
    part), with a progress bar if ``progress``. Returns every file written, in the order of
    ``index_ids``, the index page last.
    """
    bad = sorted(set(spec.formats) - set(REPORT_FORMATS))
    if bad:
        msg = f"report.formats: unknown {bad}; expected some of {list(REPORT_FORMATS)}"
        raise ReportError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    contexts = build_contexts(inputs, basis=basis, index_ids=index_ids, spec=spec, created=created)
    formats = list(spec.formats)
    n_jobs = max(1, min(spec.n_jobs, len(contexts) // _CHUNK))
    chunks = [contexts[i : i + _CHUNK] for i in range(0, len(contexts), _CHUNK)]
    written: list[Path] = []
    with tqdm(total=len(contexts), unit="report", desc="reports", disable=not progress) as bar:
        if n_jobs > 1:
            with ProcessPoolExecutor(max_workers=n_jobs) as pool:
                n = len(chunks)
                for chunk, part in zip(
                    chunks, pool.map(_write_chunk, chunks, [folder] * n, [formats] * n), strict=True
                ):
                    written.extend(part)
                    bar.update(len(chunk))
        else:
            for chunk in chunks:
                written.extend(_write_chunk(chunk, folder, formats))
                bar.update(len(chunk))
    index = render_index_html(
        contexts,
        run_id=str(basis.provenance.get("run_id", "")),
        model_name=basis.model_name,
        created=created,
        has_pdf="pdf" in formats,
    )
    written.append(atomic_write_text(folder / INDEX_FILE, index))
    log.info("wrote %d reports to %s", len(contexts), folder)
    return written


def _select(patients: pd.DataFrame, wanted: Sequence[str]) -> list[str]:
    """Index ids for the requested ids (index ids ``<hex>#<n>`` or patient ids ``<hex>``)."""
    chosen: list[str] = []
    unknown = []
    for item in (str(w) for w in wanted):
        hits = patients.loc[
            (patients["index_id"] == item) | (patients["patient_id"] == item), "index_id"
        ].tolist()
        if not hits:
            unknown.append(item)
        chosen.extend(h for h in hits if h not in chosen)
    if unknown:
        msg = (
            f"patients: {len(unknown)} id(s) not in the run's cohort or export: "
            f"{unknown[:5]} (use pseudonymous patient ids or index ids)"
        )
        raise ReportError(msg)
    return chosen


def _run_config(tracking: TrackingSpec, run_id: str) -> DictConfig:
    from sma_response.tracking.run import read_text_artifact

    node = OmegaConf.create(read_text_artifact(tracking, run_id, "config/config.yaml"))
    if not isinstance(node, DictConfig):
        msg = f"run {run_id}: config/config.yaml is not a mapping"
        raise ReportError(msg)
    return node


def _load_logged(tracking: TrackingSpec, run_id: str) -> tuple[ReportBasis, ReportInputs]:
    from sma_response.tracking.run import download_artifact, read_text_artifact

    try:
        basis = ReportBasis.from_json(read_text_artifact(tracking, run_id, "report/basis.json"))
    except Exception as err:  # MLflow raises several types for a missing artifact
        msg = (
            f"run {run_id} has no report/basis.json: it was trained without explanations "
            "(explain.enabled=false) or before reports existed"
        )
        raise ReportError(msg) from err
    with tempfile.TemporaryDirectory() as tmp:
        frames = [
            pd.read_parquet(download_artifact(tracking, run_id, a, Path(tmp))) for a in _ARTIFACTS
        ]
    return basis, ReportInputs(patients=frames[0], alternatives=frames[1], shap=frames[2])


def _new_patients(
    cfg: DictConfig, tracking: TrackingSpec, run_id: str, basis: ReportBasis
) -> ReportInputs:
    """Harmonise an export, build the run's cohort and features, score with the final models."""
    from sma_response.cohort.build import build_cohort
    from sma_response.cohort.spec import CohortSpec
    from sma_response.features.engineer import make_features
    from sma_response.features.spec import FeatureSpec
    from sma_response.harmonise.harmonise import combine_registries, harmonise_registry
    from sma_response.harmonise.io import read_registry, read_registry_spec, read_text
    from sma_response.harmonise.pseudonym import resolve_key
    from sma_response.harmonise.spec import RegistrySpecError
    from sma_response.schemas import validate_cdm
    from sma_response.tracking.run import load_pipeline

    export = Path(str(cfg.export_path))
    if not export.exists():
        msg = f"export_path: {export} does not exist"
        raise ReportError(msg)
    if not cfg.export_registry:
        msg = (
            "export_registry: name the mapping of the export (e.g. export_registry=smartcare_dach)"
        )
        raise ReportError(msg)
    mapping = Path(str(cfg.registry_dir)) / f"{cfg.export_registry}.yaml"
    if not mapping.is_file():
        available = sorted(p.stem for p in Path(str(cfg.registry_dir)).glob("*.yaml"))
        msg = (
            f"export_registry: no mapping {mapping.name} in {cfg.registry_dir}; "
            f"available: {available}"
        )
        raise ReportError(msg)
    try:
        registry = read_registry_spec(mapping)
    except RegistrySpecError as err:
        raise ReportError(str(err)) from err
    key_file = Path(str(cfg.pseudonym_key_file))
    key = resolve_key(
        environ=os.environ, local_secret=read_text(key_file) if key_file.is_file() else None
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = export
        if export.is_file():  # one file of the export: read it alone
            folder = Path(tmp)
            (folder / export.name).symlink_to(export.resolve())
        harmonised = combine_registries(
            [harmonise_registry(read_registry(registry, folder), key=key)]
        )
    if len(harmonised.rejects):
        log.warning(
            "export: %d rejected cells or rows (see the harmonisation rules)",
            len(harmonised.rejects),
        )
    cdm = validate_cdm(harmonised.tables)
    run_cfg = _run_config(tracking, run_id)
    cohort_spec = CohortSpec(**OmegaConf.to_container(run_cfg.cohort, resolve=True))  # type: ignore[arg-type]
    feature_spec = FeatureSpec(**OmegaConf.to_container(run_cfg.features, resolve=True))  # type: ignore[arg-type]
    cohort, _ = build_cohort(cdm, spec=cohort_spec, target=None)
    if cohort.empty:
        msg = (
            f"export: no patient of {export} has a therapy start with a motor score in the "
            "baseline window, so there is nothing to predict"
        )
        raise ReportError(msg)
    features = make_features(cdm, cohort, spec=feature_spec)
    wrapper = load_pipeline(tracking, f"runs:/{run_id}/model")
    X = wrapper._restore(wrapper.prepare(features))
    change = wrapper.pipeline
    if basis.task == "classification":
        change = load_pipeline(tracking, f"runs:/{run_id}/change_model").pipeline
    return score_patients(X, cohort, model=wrapper.pipeline, change_model=change, basis=basis)


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
    from sma_response.tracking.lookup import resolve_model

    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, value=True)
    tracking = TrackingSpec(**OmegaConf.to_container(cfg.tracking, resolve=True))  # type: ignore[arg-type]
    spec = ReportSpec(**OmegaConf.to_container(cfg.report, resolve=True))  # type: ignore[arg-type]
    if cfg.run_id:
        run_id = str(cfg.run_id)
    elif cfg.model_uri:
        try:
            run_id = resolve_model(tracking, model=str(cfg.model_uri), key="model_uri").run_id
        except LookupError as err:
            raise ReportError(str(err)) from err
    else:
        msg = (
            "run_id: give the run to report on (run_id=<id>) or a model "
            "(model_uri=models:/<name>/<version>)"
        )
        raise ReportError(msg)
    basis, inputs = _load_logged(tracking, run_id)
    if cfg.export_path:
        inputs = _new_patients(cfg, tracking, run_id, basis)
    wanted = list(cfg.patients or [])
    if wanted:
        index_ids = _select(inputs.patients, wanted)
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
    return ReportRun(
        run_id=run_id,
        source="export" if cfg.export_path else "cohort",
        folder=folder,
        index=paths[-1],
        paths=paths,
        patients=chosen[[*columns, "lower", "upper"]].reset_index(drop=True),
    )
