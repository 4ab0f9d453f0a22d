"""Runs are trustworthy units: an unfinished run has no model version and is refused by readers."""

from __future__ import annotations

import os
import signal

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from sma_response.tracking.lookup import (
    RunNotFinishedError,
    register_model,
    resolve_model,
)
from sma_response.tracking.run import mlflow_run
from sma_response.tracking.spec import TrackingSpec


@pytest.fixture
def store(tmp_path):
    return TrackingSpec(
        uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=str(tmp_path / "artifacts"),
        experiment_name="runs",
        registered_model_name="sma-test",
    )


def _unfinished_run_with_a_version(store: TrackingSpec) -> str:
    """A RUNNING run (a killed sma-train) whose model a careless registry still lists."""
    with mlflow_run(store, run_name="ok"):
        pass  # creates the experiment
    client = MlflowClient(tracking_uri=store.uri)
    experiment = client.get_experiment_by_name(store.experiment_name)
    run = client.create_run(experiment.experiment_id)  # left RUNNING
    client.create_registered_model("sma-test")
    client.create_model_version("sma-test", f"runs:/{run.info.run_id}/model", run.info.run_id)
    return run.info.run_id


def test_readers_refuse_a_run_that_did_not_finish(store):
    run_id = _unfinished_run_with_a_version(store)
    with pytest.raises(RunNotFinishedError, match=r"did not finish \(status RUNNING"):
        resolve_model(store, run_id=run_id)
    with pytest.raises(RunNotFinishedError, match=r"^models:/sma-test/1: its training run"):
        resolve_model(store, model="models:/sma-test/1")
    with pytest.raises(RunNotFinishedError, match=r"^model: run"):
        resolve_model(store, model=f"runs:/{run_id}/model")


def _only_run_status(store: TrackingSpec) -> str:
    client = MlflowClient(tracking_uri=store.uri)
    experiment = client.get_experiment_by_name(store.experiment_name)
    (run,) = client.search_runs([experiment.experiment_id])
    return run.info.status


def _failing_job(store: TrackingSpec) -> None:
    with mlflow_run(store, run_name="boom"):
        raise RuntimeError


def _killed_job(store: TrackingSpec) -> None:
    with mlflow_run(store, run_name="killed"):
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_failure_inside_a_run_marks_it_failed(store):
    with pytest.raises(RuntimeError):
        _failing_job(store)
    assert _only_run_status(store) == "FAILED"


def test_sigterm_inside_a_run_marks_it_failed(store):
    with pytest.raises(SystemExit) as exit_info:
        _killed_job(store)
    assert exit_info.value.code == 128 + signal.SIGTERM
    assert _only_run_status(store) == "FAILED"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_registration_is_a_separate_step_after_the_run(store):
    with mlflow_run(store, run_name="finished") as run:
        run_id = run.run_id
        mlflow.log_text("x", "model/MLmodel")
    assert MlflowClient(tracking_uri=store.uri).get_run(run_id).info.status == "FINISHED"
    version = register_model(store, f"runs:/{run_id}/model")
    assert version == "1"
    assert resolve_model(store, model="models:/sma-test/1").run_id == run_id
