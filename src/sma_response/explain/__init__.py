"""Fitted models and features to SHAP values.

Figures live in :mod:`sma_response.explain.plots` (imported on demand: it loads matplotlib).
"""

from __future__ import annotations

from sma_response.explain.shap_values import AdditivityError, contributions, explain, shap_matrix
from sma_response.explain.spec import ExplainSpec
from sma_response.explain.summarise import global_importance, group_importance, top_contributions

__all__ = [
    "AdditivityError",
    "ExplainSpec",
    "contributions",
    "explain",
    "global_importance",
    "group_importance",
    "shap_matrix",
    "top_contributions",
]
