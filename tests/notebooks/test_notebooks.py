"""The notebooks execute top to bottom on small data, and are committed without outputs."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NAME = re.compile(r"\d\d-[a-z]+-[a-z0-9-]+\.ipynb")


def test_notebooks_are_named_and_stripped():
    assert [p.name for p in NOTEBOOKS] == [
        "01-sma-quickstart.ipynb",
        "02-sma-exploring-runs.ipynb",
        "03-sma-reproduce-and-validate.ipynb",
    ]
    for path in NOTEBOOKS:
        assert NAME.fullmatch(path.name), path.name
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name}: outputs not stripped"
                assert cell.execution_count is None, f"{path.name}: execution count not stripped"
                # Downstream of the package: no model fitting or feature code of their own.
                assert not re.search(r"\.fit\(|def make_|import (sklearn|xgboost)", cell.source), (
                    path.name
                )
        assert any("sma_response" in c.source for c in book.cells if c.cell_type == "code")


@pytest.mark.slow  # trains and validates end to end (about 27 s)
def test_notebooks_execute_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("SMA_NOTEBOOK_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SMA_NOTEBOOK_N_PATIENTS", "500")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for path in NOTEBOOKS:  # 02 and 03 reuse the quickstart's run in the same workdir
        book = nbformat.read(path, as_version=4)
        client = NotebookClient(
            book,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        )
        try:
            client.execute()
        except Exception as err:
            pytest.fail(f"{path.name} failed: {err}")
    assert list((tmp_path / "validation").glob("*/validation_report.html"))
