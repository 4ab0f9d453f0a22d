"""MLflow "models from code" entry of every logged sma-response model.

MLflow runs this file when it loads the model: it names the package's wrapper class, which then
reads the fitted pipeline from the model's ``pipeline.skops`` artifact (skops' secure format:
no pickle) and its input schema from ``schema.json``. Nothing in a logged model is a pickled
object. :func:`sma_response.tracking.lookup.load_model` checks every file's SHA-256 against the
digests recorded at training before MLflow runs this file.
"""

from __future__ import annotations

from mlflow.models import set_model

from sma_response.tracking.model import ResponseModel

set_model(ResponseModel(None))
