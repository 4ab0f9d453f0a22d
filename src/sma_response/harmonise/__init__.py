"""Registry exports to harmonised common-data-model tables."""

from __future__ import annotations
