"""Model stage: validation splits, cross-validated fits and the final fit."""

from __future__ import annotations

from sma_response.models.fit import CVResult, fit_cv, fit_final, predict
from sma_response.models.spec import ValidationSpec
from sma_response.models.split import assign_splits, loro_regions

__all__ = [
    "CVResult",
    "ValidationSpec",
    "assign_splits",
    "fit_cv",
    "fit_final",
    "loro_regions",
    "predict",
]
