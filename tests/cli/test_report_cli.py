"""``sma-report``: composes, calls ``run_reports``, one clear line on a user error."""

from __future__ import annotations

import subprocess
import sys


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sma_response.cli.report", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_missing_run_is_one_clear_line(tmp_path):
    proc = _cli(f"paths.output_root={tmp_path}", f"tracking.uri=sqlite:///{tmp_path / 'db.sqlite'}")
    assert proc.returncode == 1
    assert "sma-report: error: run_id: give the run" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_reports_of_a_logged_run(trained, tmp_path):
    cfg, result = trained
    proc = _cli(
        f"run_id={result.run_id}",
        f"paths.data_dir={cfg.paths.data_dir}",
        f"paths.output_root={tmp_path}",
        f"tracking.uri={cfg.tracking.uri}",
        f"tracking.artifact_location={cfg.tracking.artifact_location}",
        "report.n_examples=2",
        "report.formats=[html]",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = tmp_path / "reports" / result.run_id
    assert len(list(folder.glob("*.html"))) == 5  # two reports, their family summaries, the index
    assert len(list(folder.glob("*.family.html"))) == 2
    assert "sma-report: 2 patient report(s) of run" in proc.stdout
    assert "index.html" in proc.stdout.replace("\n", "")  # a long path wraps at the terminal width
