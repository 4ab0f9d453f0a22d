"""Shared fixtures for the whole test suite."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="session")
def _matplotlib_agg() -> Iterator[None]:
    """Draw figures off screen so tests never need a display (shap's approach)."""
    if importlib.util.find_spec("matplotlib") is None:
        yield
        return
    import matplotlib

    matplotlib.use("Agg", force=True)
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def rng() -> np.random.Generator:
    """Fresh generator with a fixed seed, one per test."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def train_tmp(tmp_path_factory):
    """Folder of the session's training run (data, outputs and MLflow store)."""
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="session")
def trained(train_tmp):
    """One real training run (simulate -> harmonise -> train -> explain -> MLflow), shared."""
    from tests._fixtures.training import compose_train

    from sma_response.pipelines.train import run_training

    cfg = compose_train(
        train_tmp,
        "report.tripod=true",
        "evaluate.drop_out=ipcw",
        "evaluate.drop_out_weights=ipcw",
        "effects.enabled=true",
        "report.family_summary=true",
        "evaluate.internal_external=true",
    )
    return cfg, run_training(cfg)
