"""Evaluation stage: metrics with bootstrap intervals, subgroups, oracle comparison, figures.

Figures live in :mod:`sma_response.evaluate.plots` (imported on demand: it loads matplotlib).
"""

from __future__ import annotations

from sma_response.evaluate.metrics import compute_metrics, model_vs_oracle, oracle_metrics
from sma_response.evaluate.subgroups import age_band, make_subgroups, subgroup_metrics
from sma_response.evaluate.uncertainty import bootstrap_ci

__all__ = [
    "age_band",
    "bootstrap_ci",
    "compute_metrics",
    "make_subgroups",
    "model_vs_oracle",
    "oracle_metrics",
    "subgroup_metrics",
]
