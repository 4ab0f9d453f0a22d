"""tracking=server: train, report, reproduce and validate against a real MLflow server on localhost.

The server runs as a subprocess (SQLite backend, proxied artifacts) on a free port of
127.0.0.1 and is always stopped, whatever the tests do.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from tests._fixtures.validation import simulate_external

from sma_response.cli.reproduce import main as reproduce_main
from sma_response.cli.validate import main as validate_main
from sma_response.conf.compose import compose_config
from sma_response.pipelines.train import run_training

START_TIMEOUT_S = 120
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # the server and its uvicorn workers
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'srv.db'}",
            "--artifacts-destination",
            str(root / "art"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                tail = (root / "server.log").read_text()[-2000:]
                pytest.fail(f"mlflow server exited with {proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer /health within {START_TIMEOUT_S} s")
            time.sleep(0.5)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_URI", url)  # what tracking=server reads
            yield {"url": url, "root": root}
    finally:
        _stop(proc)
        log.close()


def _train_cfg(train_tmp, *overrides):
    return compose_config(
        "train",
        [
            "tracking=server",
            "simulation.n_patients=1200",  # the session's dataset (tests/conftest.py: trained)
            "simulation.dataset=pytest",
            f"paths.data_dir={train_tmp / 'data'}",
            f"paths.output_root={train_tmp / 'outputs'}",
            "evaluate.n_boot=20",
            "progress=false",
            *overrides,
        ],
    )


@pytest.mark.slow  # a real server process, then train/report/reproduce/validate (about 30 s)
def test_train_report_reproduce_validate_on_the_server(server, train_tmp, tmp_path, capsys):
    cfg = _train_cfg(train_tmp)
    assert cfg.tracking.uri == server["url"]
    result = run_training(cfg)
    assert result.model_version is not None
    assert result.artifact_uri.startswith("mlflow-artifacts:")
    assert list((server["root"] / "art").rglob("oof.parquet")), (
        "artifacts were not proxied to the server"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": server["url"]}
    out = tmp_path / "reports"
    proc = subprocess.run(
        [
            str(BIN / "sma-report"),
            f"run_id={result.run_id}",
            "tracking=server",
            f"paths.output_root={tmp_path}",
            f"out_dir={out}",
            "report.formats=[html]",
            "report.n_examples=2",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list((out / result.run_id).glob("*.html"))

    assert reproduce_main([result.run_id, "tracking=server"]) == 0
    assert "reproduced bit-for-bit" in capsys.readouterr().out
    client = MlflowClient(server["url"])
    (copy,) = client.search_runs(
        [client.get_run(result.run_id).info.experiment_id],
        filter_string=f"tags.reproduces = '{result.run_id}'",
    )
    assert copy.data.tags["reproduction.status"] == "identical"

    external = simulate_external(tmp_path / "external", n_patients=600)
    status = validate_main(
        [
            f"model=models:/sma-response-responder/{result.model_version}",
            f"export_dir={external}",
            "registry=all",
            "tracking=server",
            f"out_dir={tmp_path / 'validation'}",
            f"paths.output_root={tmp_path}",
            "n_boot=20",
            "progress=false",
        ]
    )
    assert status == 0, capsys.readouterr()
    (report_file,) = (tmp_path / "validation").glob("*/validation_report.json")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert (
        client.get_run(report["run_id"]).data.tags["validation.model_version"]
        == result.model_version
    )
    version = client.get_model_version("sma-response-responder", result.model_version)
    assert f"validation.{report['run_id']}" in version.tags
