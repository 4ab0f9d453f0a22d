"""A training run's inputs: config, parameters without machine folders, data identity."""

from __future__ import annotations

from sma_response.tracking.lookup import get_run, read_run_json
from sma_response.tracking.spec import TrackingSpec


def test_inputs_leave_folders_and_the_store_out_of_the_parameters(trained):
    """The shared run logged its inputs through ``tracking.outputs.log_training_inputs``."""
    cfg, result = trained
    spec = TrackingSpec(uri=cfg.tracking.uri)
    params = get_run(spec, result.run_id)["params"]
    assert params["seed"] == "0"
    assert params["model.name"] == "xgboost"
    assert not [k for k in params if k.startswith(("paths.", "harmonise.paths", "tracking."))]
    overrides = read_run_json(spec, result.run_id, "config/overrides.json")
    assert set(overrides) == {"overrides", "choices"}
    fingerprint = read_run_json(spec, result.run_id, "data/cdm_fingerprint.json")
    assert fingerprint["digest"].startswith(result.data_digest[:16])
    assert read_run_json(spec, result.run_id, "environment/key_packages.json")["sma-response"]
