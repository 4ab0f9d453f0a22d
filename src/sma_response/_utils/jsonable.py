"""Plain JSON values from nested results (metrics, reports): no NaN, no numpy scalars."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Return ``value`` with NaN, infinities and missing markers as ``None``, recursively.

    Mappings get string keys, tuples become lists, numpy scalars become Python numbers.

    Examples
    --------
    >>> to_jsonable({"auroc": np.float64(0.9), "slope": float("nan"), "n": (np.int64(3), pd.NA)})
    {'auroc': 0.9, 'slope': None, 'n': [3, None]}
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
