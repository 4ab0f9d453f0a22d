"""The Examples in the explain docstrings run and hold (STYLE rule 19)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sma_response.explain as stage

MODULES = sorted(m.name for m in pkgutil.iter_modules(stage.__path__, f"{stage.__name__}."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
