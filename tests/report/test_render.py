"""Rendering: normalised HTML snapshot, self-contained page in headless Chromium, PDF text."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from tests.report._chromium import chromium, load_page
from tests.report.conftest import PID

from sma_response.report.figures import change_svg
from sma_response.report.render import render_index_html, render_patient_html, write_report

SNAPSHOT = Path(__file__).parents[1] / "_fixtures" / "report_snapshot.html"
needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="chromium not installed (.ci/run installs it)"
)


def _normalise(html: str) -> str:
    return re.sub(r"\s+", " ", html).strip()


def test_html_matches_the_snapshot(report):
    """Regenerate with SMA_UPDATE_GOLDEN=1 after an intended change, and review the diff."""
    html = _normalise(render_patient_html(report))
    if os.environ.get("SMA_UPDATE_GOLDEN"):
        SNAPSHOT.write_text(html + "\n", encoding="utf-8")
    assert html == SNAPSHOT.read_text(encoding="utf-8").strip()


def test_html_is_self_contained(report):
    html = render_patient_html(report)
    assert "Content-Security-Policy" in html
    assert "default-src 'none'" in html
    # No URL other than the SVG namespace: nothing can be fetched.
    assert (
        re.findall(r"(?:https?:)?//[\w.-]+", html.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        == []
    )
    assert "<script" not in html


def test_values_are_escaped(report):
    report.facts.append(("Note", "<script>alert(1)</script>"))
    html = render_patient_html(report)
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_pdf_text_holds_prediction_interval_factors_and_run_id(report, tmp_path):
    paths = write_report(report, tmp_path, formats=["html", "pdf"])
    assert [p.name for p in paths] == [f"{PID}.html", f"{PID}.pdf"]
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(paths[1]).pages))
    assert "72%" in text
    assert "+0.5 to +12.0 points" in text
    assert "Age at treatment start (8 months) strongly raises" in text
    assert "runabc123" in text
    assert len(PdfReader(paths[1]).pages) <= 3


def test_printed_pages_carry_the_patient_page_and_run_and_no_page_is_provenance_only(
    report, tmp_path
):
    """Issue #14.9: continuation pages name the patient, the page and the run."""
    pdf = write_report(report, tmp_path, formats=["pdf"])[0]
    pages = [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(pdf).pages]
    assert len(pages) >= 2  # the fixture's report spills onto a second page
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert (f"Pseudonymous id {PID} Run id runabc123" in text) == (number > 1), number
    last = pages[-1].replace(f"Pseudonymous id {PID} Run id runabc123", "").strip()
    assert not last.startswith("Provenance"), last[:80]


def test_a_threshold_label_at_the_right_edge_is_anchored_inside_the_figure():
    """Issue #14.9: "meaningful gain (+4)" was clipped when the threshold sat at the edge."""
    svg = change_svg(1.0, -3.0, 2.0, meaningful=4.0, unit="points")
    label = re.search(r'text-anchor="(\w+)" fill="[^"]+">meaningful gain \(\+4\)', svg)
    assert label is not None
    assert label.group(1) == "end"


def test_index_lists_the_reports(report):
    html = render_index_html(
        [report], run_id="runabc123", model_name="xgboost", created="2026-01-01", has_pdf=True
    )
    assert f'href="{PID}.html"' in html
    assert f'href="{PID}.pdf"' in html


@needs_chromium
def test_report_loads_in_chromium_without_errors_or_requests(report, tmp_path):
    path = write_report(report, tmp_path / "out", formats=["html"])[0]
    page = load_page(path, user_data_dir=tmp_path / "profile")
    assert page["console"] == []
    assert page["exceptions"] == []
    assert page["requests"] == []
    assert page["scroll_width"] <= page["inner_width"]  # no sideways scrolling on a phone
    image = Image.open(io.BytesIO(page["screenshot"])).convert("L")
    assert image.height > 800
    lo, hi = image.getextrema()
    assert hi - lo > 100  # not blank
    assert len(image.histogram()) == 256
    assert sum(1 for c in image.histogram() if c) > 20


@needs_chromium
def test_the_harness_sees_requests_and_console_errors(tmp_path):
    """Negative control: a page that fetches and logs is caught."""
    page_file = tmp_path / "bad.html"
    page_file.write_text(
        '<html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script></body></html>',
        encoding="utf-8",
    )
    page = load_page(page_file, user_data_dir=tmp_path / "profile")
    assert any("127.0.0.1:9" in url for url in page["requests"])
    assert page["console"]


def test_model_jargon_is_only_in_the_provenance(report):
    """Issue #14.7: xgboost_native, tree_path_dependent and log-odds left the clinical pages."""
    html = render_patient_html(report)
    clinical, _, provenance = html.partition("<footer>")
    for word in ("xgboost_native", "tree_path_dependent", "log-odds"):
        assert word not in clinical, word
        assert word in provenance, word
