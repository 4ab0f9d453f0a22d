"""Run a test with one BLAS/OpenMP thread.

On the shared 2-core box, small fits spend most of their time starting and spinning threads
(measured: a 180-row logistic fit 0.17 s with default threads vs 0.01 s with one), so the model
tests pin native thread pools to one thread. xgboost takes ``n_jobs`` from the estimator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_native_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield
