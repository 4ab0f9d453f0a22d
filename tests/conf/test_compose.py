"""The reproduce and validate primaries and the external simulation compose; typos fail early."""

from __future__ import annotations

import pytest
from hydra.errors import HydraException
from omegaconf import OmegaConf

from sma_response.conf.compose import compose_config, with_baseline_model
from sma_response.conf.factory import ConfigError


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


@pytest.mark.parametrize(
    ("overrides", "comparator"),
    [
        ([], "logreg"),
        (["model@baseline_model=hist_gb"], "hist_gb"),
        (["evaluate.baseline=null"], None),
    ],
)
def test_the_comparator_is_a_composed_model_option(overrides, comparator):
    cfg = compose_config("train", overrides)
    assert cfg.evaluate.baseline == comparator
    assert cfg.baseline_model.name == (comparator or "logreg")
    # the whole option travels with the run's config: no model YAML is read by hand later
    assert cfg.baseline_model.preprocess in {"linear", "tree"}
    assert "_target_" in cfg.baseline_model.classifier


def test_a_config_logged_before_the_comparator_group_gets_the_same_option():
    legacy = {"seed": 3, "evaluate": {"baseline": "hist_gb"}}
    filled, note = with_baseline_model(legacy)
    composed = compose_config("train", ["model@baseline_model=hist_gb"])
    assert filled["baseline_model"] == OmegaConf.to_container(composed.baseline_model)
    assert "predates" in note
    assert with_baseline_model({"evaluate": {"baseline": None}}) == (
        {"evaluate": {"baseline": None}},
        None,
    )
    with pytest.raises(ConfigError, match="'lasso' names no model option"):
        with_baseline_model({"evaluate": {"baseline": "lasso"}})


def test_the_simulation_and_the_emulation_compose_the_committed_calibrated_parameters():
    import yaml

    from sma_response.conf.resolvers import CONFIG_DIR

    fitted = yaml.safe_load((CONFIG_DIR / "calibration" / "fitted_params.yaml").read_text("utf-8"))
    assert fitted, "make calibrate has written a fitted set"
    for name, node in (("simulate", "simulation.disease"), ("train", "simulation.disease")):
        cfg = compose_config(name, [])
        assert OmegaConf.to_container(OmegaConf.select(cfg, node)) == fitted
    assert OmegaConf.to_container(compose_config("emulate", []).disease) == fitted
