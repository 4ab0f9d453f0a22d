"""A training run's inputs: config, parameters without machine folders, data identity."""

from __future__ import annotations

from sma_response.tracking.lookup import get_run, read_run_json
from sma_response.tracking.outputs import log_training_inputs
from sma_response.tracking.run import mlflow_run
from sma_response.tracking.spec import TrackingSpec


def test_inputs_leave_folders_and_the_store_out_of_the_parameters(tmp_path):
    spec = TrackingSpec(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment_name="outputs")
    params = {"seed": 3, "model.name": "xgboost", "paths.root_dir": "/home/x", "tracking.uri": "s"}
    with mlflow_run(spec, run_name="inputs") as run:
        log_training_inputs(
            run, config={"seed": 3}, params=params, hydra={"overrides": ["seed=3"]},
            cdm_dir=tmp_path, digest="abc", dataset="synthetic", fingerprint={"digest": "abc"},
        )  # fmt: skip
        run_id = run.run_id
    logged = get_run(spec, run_id)
    assert logged["params"] == {"seed": "3", "model.name": "xgboost"}
    assert read_run_json(spec, run_id, "config/overrides.json") == {
        "overrides": ["seed=3"],
        "choices": {},
    }
    assert read_run_json(spec, run_id, "data/cdm_fingerprint.json") == {"digest": "abc"}
    assert read_run_json(spec, run_id, "environment/key_packages.json")["sma-response"]
