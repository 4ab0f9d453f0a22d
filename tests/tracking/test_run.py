"""``tracking.run``: a tracking server that is not there is said at once, in one line."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from omegaconf import OmegaConf

from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.tracking.run import TrackingAccessError, check_reachable, configure
from sma_response.tracking.spec import TrackingSpec


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """A real HTTP server that answers every request with 401 (as an auth proxy would)."""

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_server_that_is_not_running_is_one_line_naming_the_uri():
    uri = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(TrackingAccessError, match=r"cannot be reached") as err:
        configure(TrackingSpec(uri=uri, artifact_location=None))
    assert uri in str(err.value)
    assert "make mlflow-server" in str(err.value)


def test_a_server_that_answers_even_with_401_is_reachable(refusing_server):
    check_reachable(refusing_server)  # no error: the refusal is access_problem's to word


def test_a_local_store_is_not_probed(tmp_path):
    check_reachable(f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}")


def test_sma_train_against_no_server_stops_in_one_line(tmp_path):
    uri = f"http://127.0.0.1:{_free_port()}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sma_response.cli.train",
            "tracking=server",
            f"tracking.uri={uri}",
            f"paths.output_root={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2  # a user's mistake, as for every other one-line error
    assert done.stderr.strip().splitlines() == [
        f"sma-train: error: tracking server {uri} cannot be reached ([Errno 111] Connection "
        "refused): start one with `make mlflow-server` (or `make consortium-server`), or set "
        "tracking.uri / MLFLOW_TRACKING_URI to a running server"
    ]


_AT_ONCE = """
import sys, time
from sma_response.tracking.run import configure
from sma_response.tracking.spec import TrackingSpec
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # both start at the same instant
print(configure(TrackingSpec(uri=sys.argv[1], artifact_location=None)))
"""


def test_two_jobs_creating_a_fresh_store_at_once_both_succeed(tmp_path):
    """Issue #16.4: the second job used to crash in MLflow's schema migration (3 of 3 tries)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = f"{time.time() + 4.0}"  # after both have imported MLflow
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_ONCE, uri, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [job.communicate(timeout=180) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], [err[-2000:] for _, err in results]
    ids = {out.strip().splitlines()[-1] for out, _ in results}
    assert len(ids) == 1  # one experiment, not two


@pytest.mark.parametrize("name", ["train", "report", "simulate", "harmonise"])
def test_two_jobs_started_in_the_same_second_get_their_own_folder(name):
    """Issue #16.4: the run folder was named to the second, so two jobs shared one log."""
    hydra = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / f"{name}.yaml").hydra)
    for mode in ("run", "sweep"):
        if mode in hydra:
            assert hydra[mode]["dir"].endswith("${now:%Y-%m-%d_%H-%M-%S-%f}"), mode
