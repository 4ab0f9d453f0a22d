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
