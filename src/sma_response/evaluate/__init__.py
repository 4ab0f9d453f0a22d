"""Predictions to metrics with uncertainty."""

from __future__ import annotations
