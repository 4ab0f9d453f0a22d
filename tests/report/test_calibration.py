"""The calibration report: every figure, the forest plot, and leave-one-study-out when present."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.report._chromium import chromium, load_page

from sma_response.report.calibration import render_calibration_html, write_calibration_report
from sma_response.simulate.calibration import calibration_table
from sma_response.simulate.evidence import read_published_figures
from sma_response.simulate.trials import load_trial_specs

ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = ROOT / "configs" / "calibration" / "published_figures.tsv"


@pytest.fixture(scope="module")
def table():
    specs = load_trial_specs(ROOT / "configs" / "trials", ["endear", "sunfish", "zerres_type2"])
    figures = read_published_figures(FIGURES_FILE)
    return calibration_table([s | {"n_per_arm": 300} for s in specs], figures=figures)


def test_every_figure_is_in_the_report_with_its_verdict(table):
    figures = read_published_figures(FIGURES_FILE)
    html = render_calibration_html(table, figures, None, settings={"seed": 0})
    for figure in table["figure"]:
        assert f"<td>{figure}</td>" in html
    n_in = int(table["within"].sum())
    assert f"In sample: {n_in} of {len(table)} published figures" in html
    assert html.count("OUTSIDE") == len(table) - n_in
    assert "data:image/png;base64," in html
    assert "run <code>make calibrate</code>" in html  # no leave-one-study-out table yet


def test_the_leave_one_study_out_table_is_shown_and_the_page_loads(table, tmp_path):
    loso = table.assign(study="ENDEAR").loc[:, ["study", "figure", "trial", "arm", "endpoint"]]
    loso = loso.join(table[["emulated", "published", "accept_min", "accept_max", "within", "z"]])
    loso_file = tmp_path / "loso.tsv"
    loso.to_csv(loso_file, sep="\t", index=False)
    path = write_calibration_report(
        table,
        figures_file=FIGURES_FILE,
        loso_file=loso_file,
        report_file=tmp_path / "out" / "calibration_report.html",
        settings={"seed": 0},
    )
    html = path.read_text(encoding="utf-8")
    assert "Leave one study out:" in html
    assert f"{int(loso['within'].sum())} of {len(loso)} held-out figures" in html
    if chromium() is None:
        pytest.skip("chromium not installed (.ci/run installs it)")
    page = load_page(path, user_data_dir=tmp_path / "profile", width=1100)
    assert page["console"] == []
    assert page["exceptions"] == []
    assert [u for u in page["requests"] if not u.startswith("data:")] == []  # inline only


def test_the_fitted_parameter_file_is_a_mapping_of_real_parameters():
    from sma_response.simulate.params import DiseaseParams

    fitted = yaml.safe_load((ROOT / "configs/calibration/fitted_params.yaml").read_text("utf-8"))
    assert isinstance(fitted, dict)
    DiseaseParams().with_overrides(fitted)  # raises for a name that is not a parameter
