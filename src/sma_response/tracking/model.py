"""The logged model: a pyfunc wrapper that scores a feature frame and returns one prediction column.

``mlflow.pyfunc.load_model(uri).predict(features)`` returns a frame with ``prediction``: the
probability of a meaningful response for a classifier, the expected change for a regressor. The
wrapper keeps the training dtypes (categories with their levels), so a frame read back from CSV
or JSON with plain strings and numbers is scored exactly as the training frame was.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel


class ResponseModel(PythonModel):
    """Wrap a fitted scikit-learn pipeline (preprocessing + estimator)."""

    def __init__(
        self, pipeline: Any, columns: list[str] | None = None, dtypes: dict | None = None
    ) -> None:
        self.pipeline = pipeline
        self.columns = columns
        self.dtypes = dtypes

    def _learn_dtypes(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = {}
        for col in frame.columns:
            s = frame[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.dtypes[col] = ("category", [str(c) for c in s.cat.categories])
            else:
                self.dtypes[col] = ("float", None)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Turn a feature frame into the plain form the model signature describes.

        Categories become strings, everything else float64 (booleans 0/1, missing NaN).
        """
        if self.columns is None:
            self._learn_dtypes(frame)
        out = {}
        for col in self.columns or []:
            kind, _ = (self.dtypes or {})[col]
            s = frame[col]
            if kind == "category":
                out[col] = s.astype("string").astype(object).where(s.notna(), None)
            else:
                out[col] = pd.to_numeric(s.astype("Float64"), errors="coerce").astype(float)
        return pd.DataFrame(out, index=frame.index)

    def _restore(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in self.columns or []:
            kind, levels = (self.dtypes or {})[col]
            if col not in frame.columns:
                msg = f"model input is missing feature column {col!r}"
                raise ValueError(msg)
            s = frame[col]
            if kind == "category":
                out[col] = pd.Categorical(
                    s.astype("string").astype(object).where(s.notna(), None), categories=levels
                )
            else:
                out[col] = pd.to_numeric(s, errors="coerce").astype(float)
        return pd.DataFrame(out, index=frame.index)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        """Score ``model_input`` (a feature frame) and return a ``prediction`` column."""
        x = self._restore(pd.DataFrame(model_input))
        if hasattr(self.pipeline, "predict_proba"):
            pred = self.pipeline.predict_proba(x)[:, 1]
        else:
            pred = self.pipeline.predict(x)
        return pd.DataFrame({"prediction": np.asarray(pred, dtype=float)}, index=x.index)
