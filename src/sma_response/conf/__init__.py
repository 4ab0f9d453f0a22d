"""Hydra glue: structured config schemas, resolvers, composition and the estimator factory.

The public API::

    from sma_response.conf import compose_config, build_estimator
"""

from __future__ import annotations

from sma_response.conf.compose import compose_config
from sma_response.conf.factory import ConfigError, build_estimator

__all__ = ["ConfigError", "build_estimator", "compose_config"]
