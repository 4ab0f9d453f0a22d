"""Typed configuration of experiment tracking (the ``tracking`` config group)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrackingSpec:
    """Where and how runs are logged.

    Attributes
    ----------
    uri
        MLflow tracking URI: ``sqlite:///<path>`` for the embedded default, or
        ``http://host:port`` for a tracking server.
    artifact_location
        Artifact root for new experiments (a local folder for the embedded store; ``None`` lets a
        tracking server decide).
    experiment_name
        MLflow experiment.
    registered_model_name
        Name under which the final model is registered (``None``: not registered).
    log_model
        Whether to log the fitted model.
    register
        Whether a finished run registers its model as a new version (only when asked, and in
        the main job, ``experiments/baseline_responder.yaml``; a sweep then registers its best
        run). ``True`` for configs logged before the key existed.
    alias
        A model-registry alias (for example ``champion``) moved to the version this run
        registers, so that reports and validation can name ``models:/<name>@<alias>``.
    """

    uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_location: str | None = "mlruns/artifacts"
    experiment_name: str = "sma-response"
    registered_model_name: str | None = "sma-response"
    log_model: bool = True
    register: bool = True
    alias: str | None = None
