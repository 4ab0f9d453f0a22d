"""Predictions, SHAP values and provenance to per-patient reports.

Two pure steps: :func:`build_patient_context` (numbers to a :class:`PatientReport`) and
:func:`write_report` (a :class:`PatientReport` to HTML and PDF files).
:func:`render_validation_html` loads matplotlib, so it is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sma_response._utils.lazy import lazy_exports
from sma_response.report.basis import ReportBasis
from sma_response.report.context import PatientReport, build_patient_context
from sma_response.report.render import (
    render_index_html,
    render_patient_html,
    render_pdf,
    write_report,
)
from sma_response.report.spec import ReportSpec

if TYPE_CHECKING:
    from sma_response.report.validation import render_validation_html

__all__ = [
    "PatientReport",
    "ReportBasis",
    "ReportSpec",
    "build_patient_context",
    "render_index_html",
    "render_patient_html",
    "render_pdf",
    "render_validation_html",
    "write_report",
]

__getattr__, _lazy_dir = lazy_exports(
    __name__, {"render_validation_html": "sma_response.report.validation"}
)


def __dir__() -> list[str]:
    """Every public name, the lazy one included."""
    return sorted(__all__)
