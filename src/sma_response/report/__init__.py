"""Predictions, SHAP values and provenance to per-patient reports."""

from __future__ import annotations
