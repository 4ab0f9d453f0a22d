"""Harmonised tables to the analysis cohort, outcome and patient-grouped splits."""

from __future__ import annotations
