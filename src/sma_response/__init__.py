"""Predict and explain response to SMA therapy from pooled registry data.

Importing the package has no side effects: it only exposes ``__version__``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sma-response")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
