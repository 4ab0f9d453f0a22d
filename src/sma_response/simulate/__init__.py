"""Synthetic multi-region SMA registry: disease model, registries, exports, trial emulation."""

from __future__ import annotations
