"""Fixtures of this test folder: one simulated CDM per test process."""

from __future__ import annotations

import pandas as pd
import pytest
from tests._fixtures.cdm import cached_cdm
from tests._fixtures.threads import _one_native_thread  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="session")
def cdm() -> dict[str, pd.DataFrame]:
    """Simulated CDM of about 1,500 patients in four registries (shared: do not mutate)."""
    return cached_cdm()


@pytest.fixture(scope="session")
def modelling(cdm):
    """Every-start cohort with a responder target and features: (cohort, targets, X, y)."""
    from sma_response.cohort import CohortSpec, TargetSpec, build_cohort, define_target
    from sma_response.features import FeatureSpec, make_features

    cohort_spec, target_spec = CohortSpec(index="every_start"), TargetSpec()
    cohort, _ = build_cohort(cdm, spec=cohort_spec, target=target_spec)
    targets = define_target(cohort, cdm, spec=target_spec, cohort_spec=cohort_spec)
    X = make_features(cdm, cohort, spec=FeatureSpec())
    y = targets.set_index("index_id")["target"]
    return cohort, targets, X, y
