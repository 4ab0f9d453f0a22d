"""Shared fixtures: the composed train config (``compose_train``) and the session's training run.

The ``train_tmp`` and ``trained`` fixtures live in ``tests/conftest.py`` so that the report and
CLI tests share the one training run with the pipeline tests.
"""

from __future__ import annotations

from tests._fixtures.training import compose_train

__all__ = ["compose_train"]
