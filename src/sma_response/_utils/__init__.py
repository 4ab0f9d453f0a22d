"""Small helpers shared by every stage: seeding, atomic file writes, one-line errors."""

from __future__ import annotations
