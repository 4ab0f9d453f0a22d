"""Lazy public names for stage packages whose modules load heavy libraries.

A stage that wraps MLflow or matplotlib keeps ``import sma_response.<stage>.spec`` cheap: its
``__init__`` lists the public names and where they live, and each is imported on first use
(PEP 562 module ``__getattr__``).

>>> getattr_, dir_ = lazy_exports("json", {"dumps": "json"})
>>> getattr_("dumps")([1])
'[1]'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a module ``__getattr__`` and ``__dir__`` that import ``names`` on first use.

    Parameters
    ----------
    package
        The package's ``__name__`` (used in the error for an unknown name).
    names
        Public name to the module that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__)`` for the package's namespace.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
