from __future__ import annotations

import json

import numpy as np
import pandas as pd

from sma_response._utils.jsonable import to_jsonable


def test_nested_results_become_strict_json():
    value = {
        1: [np.float32(0.5), np.inf, -np.inf, pd.NaT],
        "t": (np.int64(2), {"x": np.bool_(True)}),
    }
    out = to_jsonable(value)
    assert out == {"1": [0.5, None, None, None], "t": [2, {"x": True}]}
    json.dumps(out, allow_nan=False)  # raises on any NaN or infinity left
