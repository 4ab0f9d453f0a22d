"""Orchestration: the only place stages meet, with file I/O and tracking calls."""

from __future__ import annotations
