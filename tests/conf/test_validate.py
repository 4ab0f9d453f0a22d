"""The validate config to validate_model's arguments: required keys, separate model store."""

from __future__ import annotations

import pytest

from sma_response.conf.compose import compose_config
from sma_response.conf.factory import ConfigError
from sma_response.conf.validate import validate_arguments


def test_a_missing_export_is_one_line_naming_the_key():
    cfg = compose_config("validate", ["model_uri=models:/m/1", "registries=all"])
    with pytest.raises(ConfigError, match=r"^export_dir: required \(sma-validate"):
        validate_arguments(cfg)


def test_arguments_carry_the_settings_and_a_separate_model_store():
    cfg = compose_config(
        "validate",
        [
            "model_uri=models:/m/1",
            "export_dir=/x",
            "registries=[a,b]",
            "model_tracking_uri=http://10.0.0.1:5000",
            "min_cell=7",
        ],
    )
    args = validate_arguments(cfg)
    assert args["export_dir"] == "/x"
    assert args["registries"] == ["a", "b"]
    assert args["min_cell"] == 7
    assert args["model_tracking"].uri == "http://10.0.0.1:5000"
    assert args["tracking"].uri != args["model_tracking"].uri
    same = validate_arguments(
        compose_config("validate", ["export_dir=/x", "registries=all", "model_uri=models:/m/1"])
    )
    assert same["model_tracking"] is None
    assert same["registries"] == "all"
