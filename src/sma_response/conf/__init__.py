"""Hydra glue: structured config schemas, resolvers and the estimator factory."""

from __future__ import annotations
