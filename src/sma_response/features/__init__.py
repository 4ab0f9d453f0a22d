"""Cohort and harmonised tables to one feature row per index event."""

from __future__ import annotations
