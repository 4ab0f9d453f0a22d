"""The TRIPOD+AI report of a training run: every item, rendered in Chromium, PDF read back."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from pypdf import PdfReader
from tests.report._chromium import chromium, load_page

from sma_response.report.tripod import TRIPOD_ITEMS, flow_svg

needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="chromium not installed (.ci/run installs it)"
)


def test_the_checklist_has_the_27_items_in_order():
    numbers = [int(re.match(r"\d+", n).group()) for n, _, _ in TRIPOD_ITEMS]
    assert sorted(set(numbers)) == list(range(1, 28))
    assert numbers == sorted(numbers)


def test_the_flow_diagram_has_a_box_per_step_with_its_exclusions():
    attrition = pd.DataFrame(
        {
            "description": ["records", "a therapy start", "a baseline score"],
            "n_patients": [100, 80, 50],
            "n_index_events": [None, 80, 50],
            "excluded_patients": [None, 20, 30],
        }
    )
    svg = flow_svg(attrition)
    assert svg.count("<rect") == 3
    assert "excluded: 20" in svg
    assert "excluded: 30" in svg
    assert "n = 50" in svg


@pytest.fixture(scope="module")
def tripod(trained, tmp_path_factory):
    cfg, result = trained
    folder = tmp_path_factory.mktemp("tripod")
    mlflow.set_tracking_uri(cfg.tracking.uri)

    def fetch(path: str) -> Path:
        return Path(
            mlflow.artifacts.download_artifacts(
                run_id=result.run_id, artifact_path=path, dst_path=str(folder)
            )
        )

    return result, fetch("report"), pd.read_parquet(fetch("predictions/oof.parquet"))


def test_every_run_logs_a_tripod_report_with_every_item(tripod):
    result, local, _ = tripod
    md = (Path(local) / "tripod_ai.md").read_text(encoding="utf-8")
    for number, _, _ in TRIPOD_ITEMS:
        assert f"| {number} |" in md, number
    assert f"{result.n_index_events} index events" in md
    assert "for the authors" in md  # what the run cannot know is marked, not invented


def test_the_report_names_no_patient(tripod):
    _, local, oof = tripod
    text = "".join(
        (Path(local) / name).read_text(encoding="utf-8")
        for name in ("tripod_ai.md", "tripod_ai.html")
    )
    for pid in oof["patient_id"].astype(str).unique():
        assert pid not in text


@needs_chromium
def test_the_html_renders_in_chromium_and_the_pdf_reads_back(tripod, tmp_path):
    _, local, _ = tripod
    page = load_page(Path(local) / "tripod_ai.html", user_data_dir=tmp_path / "p")
    assert page["console"] == []
    assert page["exceptions"] == []
    assert page["requests"] == []
    pdf = PdfReader(str(Path(local) / "tripod_ai.pdf"))
    text = " ".join(p.extract_text() for p in pdf.pages)
    assert "TRIPOD+AI report" in text
    assert "Participant flow" in text
    assert "Table 1 by region" in text
