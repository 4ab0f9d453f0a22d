"""The logged model: a pyfunc wrapper that scores a feature frame and returns one prediction column.

``mlflow.pyfunc.load_model(uri).predict(features)`` returns a frame with ``prediction``: the
probability of a meaningful response for a classifier, the expected change for a regressor. The
wrapper keeps the training dtypes (categories with their levels), so a frame read back from CSV
or JSON with plain strings and numbers is scored exactly as the training frame was.

Nothing is pickled: the model is logged as MLflow "models from code" (:data:`MODEL_CODE`), the
fitted pipeline in skops' secure format (types outside :data:`TRUSTED_TYPES` are refused before
loading) and the schema as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from mlflow.pyfunc.model import PythonModel


class ResponseModel(PythonModel):
    """Wrap a fitted scikit-learn pipeline (preprocessing + estimator)."""

    def __init__(
        self, pipeline: Any, columns: list[str] | None = None, dtypes: dict | None = None
    ) -> None:
        self.pipeline = pipeline
        self.columns = columns
        self.dtypes = dtypes

    def load_context(self, context: Any) -> None:
        """Read the pipeline and schema from the model's artifacts (models from code)."""
        if self.pipeline is None:
            self.pipeline, self.columns, self.dtypes = read_model_files(dict(context.artifacts))

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


#: The "models from code" file MLflow runs to build the wrapper when it loads a logged model.
MODEL_CODE = Path(__file__).with_name("model_code.py")
#: The fitted pipeline, in skops' secure format (no pickle), and the input schema.
PIPELINE_FILE = "pipeline.skops"
SCHEMA_FILE = "schema.json"
#: Types a logged pipeline may hold beyond those skops trusts by default. Anything else in a
#: ``pipeline.skops`` (a crafted file) is refused before it is loaded.
TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sma_response.features.preprocess._level_name",
        "sma_response.features.preprocess._output_name",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
    }
)


class UntrustedModelError(ValueError):
    """A model file holds something the package does not load (one line, naming the file)."""


def write_model_files(wrapper: ResponseModel, folder: Path) -> dict[str, str]:
    """Write the wrapper's pipeline (skops) and schema (JSON); return MLflow's ``artifacts``."""
    folder.mkdir(parents=True, exist_ok=True)
    sio.dump(wrapper.pipeline, folder / PIPELINE_FILE)
    schema = {"columns": wrapper.columns, "dtypes": wrapper.dtypes}
    (folder / SCHEMA_FILE).write_text(json.dumps(schema, sort_keys=True), encoding="utf-8")
    return {"pipeline": str(folder / PIPELINE_FILE), "schema": str(folder / SCHEMA_FILE)}


def check_pipeline_file(path: Path) -> list[str]:
    """Return the non-default types of a ``pipeline.skops``; refuse any outside the trusted list.

    Raises
    ------
    UntrustedModelError
        Naming the file and the first types it should not hold (or why it cannot be read).
    """
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:  # a truncated or foreign file: skops raises several kinds
        msg = f"{path.name}: not a readable skops model file ({type(err).__name__})"
        raise UntrustedModelError(msg) from err
    unknown = sorted(set(untrusted) - TRUSTED_TYPES)
    if unknown:
        msg = f"{path.name}: holds types the package does not load: {', '.join(unknown[:3])}"
        raise UntrustedModelError(msg)
    return list(untrusted)


def read_model_files(artifacts: dict[str, str]) -> tuple[Any, list[str], dict]:
    """Read a pipeline and its schema written by :func:`write_model_files` (checked first)."""
    path = Path(artifacts["pipeline"])
    pipeline = sio.load(path, trusted=check_pipeline_file(path))
    schema = json.loads(Path(artifacts["schema"]).read_text(encoding="utf-8"))
    dtypes = {str(k): (v[0], v[1]) for k, v in schema["dtypes"].items()}
    return pipeline, [str(c) for c in schema["columns"]], dtypes
