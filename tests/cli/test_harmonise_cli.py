"""``sma-harmonise`` end to end in a subprocess: summary, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(
    module: str, tmp_path: Path, *overrides: str, env: dict | None = None
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        module,
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "progress=false",
        *overrides,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False, env=env
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    done = _run(
        "sma_response.cli.simulate", tmp, "simulation.n_patients=150", "simulation.chunk_size=1000"
    )
    assert done.returncode == 0, done.stderr
    return tmp


@pytest.mark.integration
def test_cli_harmonises_a_dataset(dataset: Path) -> None:
    import os

    env = {**os.environ, "SMA_PSEUDONYM_KEY": "cli-test-secret"}
    done = _run("sma_response.cli.harmonise", dataset, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "Harmonised dataset 'default'" in done.stdout
    for registry in ("smartcare_dach", "ismac_itu", "nl_sma", "cure_pr"):
        assert registry in done.stdout
    out = dataset / "data" / "interim" / "default"
    assert (out / "cdm" / "patients.parquet").is_file()
    assert (out / "harmonise_summary.txt").is_file()
    assert "DEVELOPMENT" not in done.stdout + done.stderr
    logs = "".join(p.read_text(encoding="utf-8") for p in (dataset / "run").glob("*.log"))
    assert "cli-test-secret" not in logs + done.stdout + done.stderr


@pytest.mark.integration
def test_cli_warns_about_the_development_key(dataset: Path, tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "SMA_PSEUDONYM_KEY"}
    done = _run(
        "sma_response.cli.harmonise",
        dataset,
        f"out_dir={tmp_path / 'out'}",
        f"pseudonym_key_file={tmp_path / 'none'}",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "DEVELOPMENT key" in done.stdout + done.stderr


@pytest.mark.integration
def test_cli_missing_dataset_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _run("sma_response.cli.harmonise", tmp_path, "dataset=absent")
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    lines = [ln for ln in output.splitlines() if "error" in ln]
    assert len(lines) == 1
    assert "dataset=absent" in lines[0]
    assert "no dataset folder" in lines[0]


@pytest.mark.integration
def test_cli_bad_mapping_names_file_and_key(dataset: Path, tmp_path: Path) -> None:
    registry_dir = tmp_path / "registry"
    registry_dir.mkdir()
    (registry_dir / "nl_sma.yaml").write_text(
        "name: nl_sma\nregion: NL\nfiles:\n  p:\n    pattern: x\n    reader: {format: csv}\n"
        "    columns: {id: local_id, dob: birth_date, s: sexx}\n",
        encoding="utf-8",
    )
    done = _run("sma_response.cli.harmonise", dataset, f"registry_dir={registry_dir}")
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert "nl_sma.yaml: files.p.columns.s: unknown field 'sexx'" in output
