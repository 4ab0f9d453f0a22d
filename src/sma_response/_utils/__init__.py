"""Small helpers shared by every stage: seeding and atomic file writes."""

from __future__ import annotations
