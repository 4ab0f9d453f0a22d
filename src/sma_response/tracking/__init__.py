"""MLflow run handling; the only subpackage that imports mlflow.

Its public names are imported on first use, so that ``sma_response.tracking.spec`` (which the
config layer needs at compose time) does not load MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sma_response._utils.lazy import lazy_exports

if TYPE_CHECKING:
    from sma_response.tracking.lookup import (
        ModelRef,
        RunNotFoundError,
        get_run,
        load_model,
        resolve_model,
    )
    from sma_response.tracking.provenance import cdm_digest, cdm_fingerprint
    from sma_response.tracking.run import RunLogger, TrackingAccessError, configure, mlflow_run
    from sma_response.tracking.spec import TrackingSpec

_WHERE = {
    "ModelRef": "sma_response.tracking.lookup",
    "RunLogger": "sma_response.tracking.run",
    "RunNotFoundError": "sma_response.tracking.lookup",
    "TrackingAccessError": "sma_response.tracking.run",
    "TrackingSpec": "sma_response.tracking.spec",
    "configure": "sma_response.tracking.run",
    "cdm_digest": "sma_response.tracking.provenance",
    "cdm_fingerprint": "sma_response.tracking.provenance",
    "get_run": "sma_response.tracking.lookup",
    "load_model": "sma_response.tracking.lookup",
    "mlflow_run": "sma_response.tracking.run",
    "resolve_model": "sma_response.tracking.lookup",
}

__all__ = [
    "ModelRef",
    "RunLogger",
    "RunNotFoundError",
    "TrackingAccessError",
    "TrackingSpec",
    "cdm_digest",
    "cdm_fingerprint",
    "configure",
    "get_run",
    "load_model",
    "mlflow_run",
    "resolve_model",
]

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
