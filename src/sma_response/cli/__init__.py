"""Thin Hydra entry points (console scripts)."""

from __future__ import annotations
