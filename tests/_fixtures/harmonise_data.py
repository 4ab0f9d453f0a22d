"""Locations and the test secret of the hand-written harmonisation fixtures."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "harmonise"
KEY = b"test-key"
