"""MLflow run handling; the only subpackage that imports mlflow."""

from __future__ import annotations
