"""The reproduce and validate primaries and the external simulation compose; typos fail early."""

from __future__ import annotations

import pytest
from hydra.errors import HydraException
from omegaconf import OmegaConf

from sma_response.conf.compose import compose_config


@pytest.mark.parametrize("tracking", ["local", "server"])
def test_reproduce_and_validate_compose_with_each_tracking_option(tracking, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    rep = OmegaConf.to_container(
        compose_config("reproduce", ["run_id=abc", f"tracking={tracking}"]), resolve=True
    )
    assert rep["run_id"] == "abc"
    assert rep["rerun"] is True
    assert rep["tracking"]["registered_model_name"] is None
    val = compose_config(
        "validate",
        ["model_uri=models:/m/1", "export_dir=/x", "registries=all", f"tracking={tracking}"],
    )
    val = OmegaConf.to_container(val, resolve=True)
    assert val["min_cell"] == 10
    assert val["tracking"]["experiment_name"] == "sma-response-validation"
    if tracking == "server":
        assert rep["tracking"]["uri"] == val["tracking"]["uri"] == "http://127.0.0.1:5999"


def test_external_simulation_differs_from_the_default_in_region_mix():
    default = compose_config("simulate", [])
    external = compose_config("simulate", ["simulation=external", "seed=7"])
    assert external.simulation.dataset == "external"
    assert [r.name for r in external.simulation.regions] == [
        r.name for r in default.simulation.regions
    ]
    assert [r.weight for r in external.simulation.regions] != [
        r.weight for r in default.simulation.regions
    ]
    assert OmegaConf.to_container(external.simulation.registries) == OmegaConf.to_container(
        default.simulation.registries
    )


def test_typos_fail_at_compose_time():
    with pytest.raises(HydraException, match="min_cel"):
        compose_config("validate", ["min_cel=5"])
    with pytest.raises(HydraException, match="rerunn"):
        compose_config("reproduce", ["rerunn=false"])
