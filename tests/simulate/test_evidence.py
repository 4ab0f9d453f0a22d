"""The evidence base: a malformed figures table is named by file, row, column and rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sma_response.simulate.evidence import EvidenceError, figure_z, read_published_figures

FIGURES_FILE = (
    Path(__file__).resolve().parents[2] / "configs" / "calibration" / "published_figures.tsv"
)


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = FIGURES_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "figures.tsv"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_committed_table_reads():
    table = read_published_figures(FIGURES_FILE)
    assert len(table) == 40
    assert set(table["kind"]) == {"mean", "share"}
    assert (table["ci_low"] <= table["value"]).all()
    assert table.loc["cherish_nus_hfmse", "n"] == 84


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\t0.571\t84\t", "\t0.571\teighty\t", r"row 4, column n: must be a number"),
        ("\t0.571\t84\t", "\t1.571\t84\t", r"row 4, column value: a share must lie in 0\.\.1"),
        ("\t3.90\t84\t2.90\t", "\t3.90\t84\t3.95\t", r"row 2, column value: must lie inside"),
        ("\tmean\t", "\tmedian\t", r"row 2, column kind: must be one of"),
        ("cherish_sham_hfmse\t", "cherish_nus_hfmse\t", r"column id: duplicated figure id"),
    ],
)
def test_a_malformed_row_is_named(tmp_path, old, new, message):
    path = _edited(tmp_path, old, new)
    with pytest.raises(EvidenceError, match=message) as err:
        read_published_figures(path)
    assert str(path) in str(err.value)


def test_a_missing_file_or_column_is_named(tmp_path):
    with pytest.raises(EvidenceError, match="no published-figures table"):
        read_published_figures(tmp_path / "none.tsv")
    path = tmp_path / "short.tsv"
    path.write_text("id\tvalue\nx\t1\n", encoding="utf-8")
    with pytest.raises(EvidenceError, match=r"missing column\(s\) \['study'"):
        read_published_figures(path)


def test_z_uses_the_half_interval_on_the_emulated_side():
    assert figure_z(0.70, 0.60, 0.50, 0.80) == pytest.approx(0.1 / (0.2 / 1.96))
    assert figure_z(0.55, 0.60, 0.50, 0.80) == pytest.approx(-0.05 / (0.1 / 1.96))
    assert figure_z(0.5, 0.0, 0.0, 0.0) == math.inf
    assert math.isnan(figure_z(math.nan, 0.6, 0.5, 0.8))
