"""Formal calibration: the loss, leave-one-study-out specs and a small deterministic fit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from sma_response.simulate.evidence import read_published_figures
from sma_response.simulate.fit import (
    FreeParameter,
    calibration_loss,
    fit_parameters,
    largest_studies,
    without_study,
)
from sma_response.simulate.params import DiseaseParams

ROOT = Path(__file__).resolve().parents[2]
FIGURES = read_published_figures(ROOT / "configs" / "calibration" / "published_figures.tsv")


def _spec(name: str) -> dict:
    spec = yaml.safe_load((ROOT / "configs" / "trials" / f"{name}.yaml").read_text("utf-8"))
    return spec | {"name": name}


def test_the_loss_is_in_standard_errors_and_capped():
    table = pd.DataFrame({"z": [0.5, -3.0, 8.0, float("nan")]})
    assert calibration_loss(table, cap=16.0) == pytest.approx(0.25 + 9.0 + 16.0 + 16.0)


def test_leaving_a_study_out_removes_every_one_of_its_figures():
    specs = [_spec("cherish"), _spec("sunfish"), _spec("type2_natural_history")]
    kept = without_study(specs, FIGURES, "CHERISH")
    assert [s["name"] for s in kept] == ["sunfish", "type2_natural_history"]
    kept = without_study(specs, FIGURES, "Type 2 natural history")
    assert [s["name"] for s in kept] == ["cherish", "sunfish"]
    assert largest_studies(FIGURES, 2) == ["Type 2 natural history", "Type 3 natural history"]


def test_a_small_fit_is_deterministic_bounded_and_never_worse_than_its_start():
    specs = [_spec("type2_natural_history")]
    free = [
        FreeParameter("types.2.slow_loss", 0.0003, 0.003),
        FreeParameter("scale_noise.hfmse", 1.5, 3.5),
    ]
    kwargs = {"n_trials": 6, "n_per_arm": 150, "seed": 1}
    a = fit_parameters(specs, FIGURES, free, **kwargs)
    b = fit_parameters(specs, FIGURES, free, **kwargs)
    assert a.values == b.values
    assert a.loss <= a.start_loss
    assert 0.0003 <= a.values["types.2.slow_loss"] <= 0.003
    assert 1.5 <= a.values["scale_noise.hfmse"] <= 3.5
    fitted = DiseaseParams().with_overrides(a.overrides)
    assert fitted.scale_noise["hfmse"] == a.values["scale_noise.hfmse"]
    assert fitted.scale_noise["rulm"] == DiseaseParams().scale_noise["rulm"]


def test_an_override_that_names_no_parameter_is_refused():
    with pytest.raises(ValueError, match=r"therapies\.zolgensma: no parameter"):
        DiseaseParams().with_overrides({"therapies": {"zolgensma": {"efficacy": 0.9}}})
    with pytest.raises(ValueError, match=r"types\.1\.fast_loss: expected 2 numbers"):
        DiseaseParams().with_overrides({"types": {"1": {"fast_loss": [0.8]}}})
