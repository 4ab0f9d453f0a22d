"""Many reports at once: contexts of chosen index events, rendered in worker processes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from tqdm.auto import tqdm

from sma_response._utils.io import atomic_write_text
from sma_response.report.basis import ReportBasis
from sma_response.report.context import PatientReport, build_patient_context
from sma_response.report.i18n import check_report_languages, use_language
from sma_response.report.inputs import ReportInputs
from sma_response.report.render import render_index_html, write_report
from sma_response.report.spec import REPORT_FORMATS, ReportError, ReportSpec

__all__ = ["INDEX_FILE", "build_contexts", "write_reports"]

log = logging.getLogger(__name__)

INDEX_FILE = "index.html"
#: Reports rendered per task handed to a worker process (small: the progress bar moves).
_CHUNK = 4


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
        patient = patients.loc[index_id].to_dict()
        with use_language(spec.language_of(str(patient.get("region", "")))):
            out.append(
                build_patient_context(
                    shap.get_group(index_id),
                    patient=patient,
                    alternatives=alts,
                    basis=basis,
                    spec=spec,
                    created=created,
                )
            )
    return out


def _write_chunk(
    reports: list[PatientReport], *, folder: Path, formats: list[str], family: bool
) -> list[Path]:
    return [p for r in reports for p in write_report(r, folder, formats=formats, family=family)]


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

    Raises
    ------
    ReportError
        For an unknown report format.
    """
    bad = sorted(set(spec.formats) - set(REPORT_FORMATS))
    if bad:
        msg = f"report.formats: unknown {bad}; expected some of {list(REPORT_FORMATS)}"
        raise ReportError(msg)
    try:
        check_report_languages(spec.language, spec.region_languages)
    except ValueError as err:
        raise ReportError(str(err)) from None
    folder.mkdir(parents=True, exist_ok=True)
    contexts = build_contexts(inputs, basis=basis, index_ids=index_ids, spec=spec, created=created)
    formats = list(spec.formats)
    n_jobs = max(1, min(spec.n_jobs, len(contexts) // _CHUNK))
    chunks = [contexts[i : i + _CHUNK] for i in range(0, len(contexts), _CHUNK)]
    written: list[Path] = []
    with tqdm(total=len(contexts), unit="report", desc="reports", disable=not progress) as bar:
        if n_jobs > 1:
            with ProcessPoolExecutor(max_workers=n_jobs) as pool:
                write = partial(
                    _write_chunk, folder=folder, formats=formats, family=spec.family_summary
                )
                parts = pool.map(write, chunks)
                for chunk, part in zip(chunks, parts, strict=True):
                    written.extend(part)
                    bar.update(len(chunk))
        else:
            for chunk in chunks:
                written.extend(
                    _write_chunk(chunk, folder=folder, formats=formats, family=spec.family_summary)
                )
                bar.update(len(chunk))
    index = render_index_html(
        contexts,
        run_id=str(basis.provenance.get("run_id", "")),
        model_name=basis.model_name,
        created=created,
        has_pdf="pdf" in formats,
        has_family=spec.family_summary and "html" in formats,
        language=spec.language or "en",
    )
    written.append(atomic_write_text(folder / INDEX_FILE, index))
    log.info("wrote %d reports to %s", len(contexts), folder)
    return written
