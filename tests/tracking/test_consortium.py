"""The consortium server: MLflow basic-auth on PostgreSQL, users and grants, no password leaks.

A real PostgreSQL cluster and a real ``mlflow server --app-name basic-auth`` on a free loopback
port, started by :func:`sma_response.tracking.consortium.running_server` exactly as
``make consortium-server`` does; always stopped at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from tests._fixtures.training import compose_train

from sma_response.cli.consortium import main as consortium_main
from sma_response.pipelines.reproduce import reproduce_run
from sma_response.pipelines.train import run_training
from sma_response.tracking.consortium import (
    ConsortiumError,
    ConsortiumPaths,
    grant,
    postgres_bin,
    running_server,
)
from sma_response.tracking.run import TrackingAccessError
from sma_response.tracking.spec import TrackingSpec

pytestmark = pytest.mark.slow  # PostgreSQL + a server + one training run (about 60 s)

try:
    postgres_bin()
    HAVE_POSTGRES = True
except ConsortiumError:
    HAVE_POSTGRES = False

SITE, SITE_PW = "site-de", "Site-DE-pass-7c1e"
SPECIALIST, SPECIALIST_PW = "dr-rossi", "Rossi-pass-91ab"
EXPERIMENT = "consortium-test"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as(monkeypatch: pytest.MonkeyPatch, user: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


@pytest.fixture(scope="module")
def consortium():
    if not HAVE_POSTGRES:
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    # PostgreSQL runs as 'postgres' when the tests run as root: its folder must be reachable
    root = Path(tempfile.mkdtemp(prefix="consortium-", dir="/tmp"))
    root.chmod(0o755)
    with running_server(root / "state", port=_free_port()) as url:
        admin_pw = (ConsortiumPaths(root / "state").secrets / "admin-password").read_text()
        yield url, root / "state", admin_pw.strip()


def _admin(monkeypatch, consortium) -> str:
    url, _, admin_pw = consortium
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    _as(monkeypatch, "admin", admin_pw)
    return url


def test_anonymous_requests_are_refused(consortium):
    url, _, _ = consortium
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/search?max_results=5")
    assert err.value.code == 401


def test_sites_train_and_reproduce_specialists_only_read(consortium, monkeypatch, tmp_path, capsys):
    url = _admin(monkeypatch, consortium)
    _, state, admin_pw = consortium
    for user, pw in ((SITE, SITE_PW), (SPECIALIST, SPECIALIST_PW)):
        monkeypatch.setenv("NEW_PW", pw)
        consortium_main(["add-user", user, "--password-env", "NEW_PW"])
    assert "created" in capsys.readouterr().out

    # a site trains against the server: it creates (and so manages) its experiment
    _as(monkeypatch, SITE, SITE_PW)
    cfg = compose_train(
        tmp_path, f"tracking.uri={url}", "tracking.artifact_location=null",
        f"tracking.experiment_name={EXPERIMENT}", "report.n_examples=1", n_patients=500,
    )  # fmt: skip
    result = run_training(cfg)
    reproduced = reproduce_run(result.run_id, tracking=TrackingSpec(uri=url))
    assert reproduced.status == "identical", [(c.name, c.details) for c in reproduced.differences]

    # nobody else sees it until the admin grants READ
    _as(monkeypatch, SPECIALIST, SPECIALIST_PW)
    with pytest.raises(MlflowException, match="403"):
        MlflowClient(url).get_run(result.run_id)
    _as(monkeypatch, "admin", admin_pw)
    consortium_main(["grant", SPECIALIST, "read", "--experiment", EXPERIMENT])
    assert f"READ on experiment {EXPERIMENT}" in capsys.readouterr().out

    # the specialist reads runs and loads the model, and can change nothing
    _as(monkeypatch, SPECIALIST, SPECIALIST_PW)
    client = MlflowClient(url)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert [r.info.run_id for r in client.search_runs([experiment.experiment_id])]
    mlflow.set_tracking_uri(url)
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    assert model.metadata.run_id == result.run_id
    for write in (
        lambda: client.create_run(experiment.experiment_id),
        lambda: client.set_tag(result.run_id, "edited", "yes"),
        lambda: client.delete_run(result.run_id),
    ):
        with pytest.raises(MlflowException, match="403"):
            write()
    with pytest.raises(TrackingAccessError, match=f"user {SPECIALIST} has no permission"):
        run_training(cfg)
    # only the admin grants
    with pytest.raises(ConsortiumError, match="only the consortium admin"):
        grant(url, SPECIALIST, "MANAGE", experiment=EXPERIMENT)

    # a wrong password: one line on stderr, exit 2, no traceback, no password
    env = {**os.environ, "MLFLOW_TRACKING_PASSWORD": "not-the-password"}
    done = subprocess.run(
        [sys.executable, "-m", "sma_response.cli.train", *_train_args(cfg)],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        f"sma-train: error: tracking server {url} refused the user name or password of user "
        f"{SPECIALIST}: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to your "
        "consortium account"
    ]
    assert "Traceback" not in done.stderr
    assert "not-the-password" not in done.stderr + done.stdout

    # no password anywhere: server and database logs, the run's params, tags and artifacts,
    # the reports written
    _as(monkeypatch, "admin", admin_pw)
    run = MlflowClient(url).get_run(result.run_id)
    texts = [str(run.data.params), str(run.data.tags)]
    local = Path(
        mlflow.artifacts.download_artifacts(run_id=result.run_id, dst_path=str(tmp_path / "a"))
    )
    scanned = [
        *state.joinpath("logs").rglob("*"),
        *local.rglob("*"),
        *Path(cfg.paths.output_root).rglob("*"),
    ]
    texts += [p.read_bytes().decode("utf-8", "replace") for p in scanned if p.is_file()]
    assert any(p.suffix == ".html" for p in scanned)  # the example report was scanned
    for secret in (SITE_PW, SPECIALIST_PW, admin_pw, "not-the-password"):
        assert not [t for t in texts if secret in t]


def _train_args(cfg) -> list[str]:
    return [
        f"paths.data_dir={cfg.paths.data_dir}", f"paths.output_root={cfg.paths.output_root}",
        f"tracking.uri={cfg.tracking.uri}", "tracking.artifact_location=null",
        f"tracking.experiment_name={EXPERIMENT}", "simulation.dataset=pytest",
        "simulation.n_patients=500", "progress=false",
    ]  # fmt: skip
