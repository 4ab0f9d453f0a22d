"""Fixtures of the cohort tests: one simulated CDM per test process."""

from __future__ import annotations

import pandas as pd
import pytest
from tests._fixtures.cdm import cached_cdm


@pytest.fixture(scope="session")
def cdm() -> dict[str, pd.DataFrame]:
    """Simulated CDM of about 1,500 patients in four registries (shared: do not mutate)."""
    return cached_cdm()
