from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.conf.store import register_configs


def _run(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "sma_response.cli.simulate",
        f"paths.data_dir={tmp_path / 'data'}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "progress=false",
        *overrides,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.integration
def test_cli_writes_a_dataset(tmp_path: Path) -> None:
    done = _run(tmp_path, "simulation.n_patients=150", "simulation.chunk_size=1000", "seed=7")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "Simulated dataset 'default' (seed 7)" in done.stdout
    for registry in ("smartcare_dach", "ismac_itu", "nl_sma", "cure_pr"):
        assert registry in done.stdout
    folder = tmp_path / "data" / "raw" / "default"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 7
    assert manifest["n_patients"] == 150
    for path in manifest["files"]:
        assert (folder / path).is_file()
    # Hydra's run folder holds the resolved config and the log, not the data.
    assert (tmp_path / "run" / ".hydra" / "config.yaml").is_file()


@pytest.mark.integration
def test_cli_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    done = _run(tmp_path, "simulation.n_patients=-3")
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "simulation.n_patients" in line]
    assert len(lines) == 1
    assert "must be a positive integer" in lines[0]
    assert not (tmp_path / "data").exists()


@pytest.mark.integration
def test_cli_typo_fails_at_compose_time(tmp_path: Path) -> None:
    done = _run(tmp_path, "simulation.n_patiens=10")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "n_patiens" in output
    assert "Traceback" not in output


def test_compose_defaults_and_overrides(tmp_path: Path) -> None:
    register_resolvers()
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="simulate")
        assert cfg.seed == 0
        assert cfg.simulation.n_patients == 3000
        assert [r.name for r in cfg.simulation.registries] == [
            "smartcare_dach",
            "ismac_itu",
            "nl_sma",
            "cure_pr",
        ]
        assert Path(cfg.paths.data_dir) == CONFIG_DIR.parent / "data"
        cfg = compose(
            config_name="simulate",
            overrides=["seed=5", "simulation.n_patients=42", f"paths.data_dir={tmp_path}"],
        )
        assert (cfg.seed, cfg.simulation.n_patients, cfg.paths.data_dir) == (5, 42, str(tmp_path))
        for bad in ("simulation.n_patiens=1", "simulation.regions.0.weigth=2", "seed=abc", "sed=1"):
            with pytest.raises(ConfigCompositionException):
                compose(config_name="simulate", overrides=[bad])
