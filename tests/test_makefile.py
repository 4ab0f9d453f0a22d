"""The Makefile's user-facing knobs (dry runs: nothing is started)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["mlflow-ui", "mlflow-server"])
def test_the_mlflow_port_can_be_chosen(target):
    out = subprocess.run(
        ["make", "-n", "-o", "install", target, "PORT=5123"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert "--port 5123" in out
    default = subprocess.run(
        ["make", "-n", "-o", "install", target],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert "--port 5000" in default
