"""Fitted models and features to SHAP values."""

from __future__ import annotations
