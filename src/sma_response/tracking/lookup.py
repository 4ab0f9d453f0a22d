"""Look up logged runs and model versions, and annotate finished runs (reproduction, validation).

Beside :mod:`sma_response.tracking.run` (which opens and fills new runs), these helpers read
what an earlier run logged and add tags or files to a run after it finished. Every function
takes the :class:`~sma_response.tracking.spec.TrackingSpec` of the store to talk to, so the
same code works on the embedded SQLite store and on a tracking server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.tracking import MlflowClient

from sma_response.tracking.model import PIPELINE_FILE, UntrustedModelError, check_pipeline_file
from sma_response.tracking.provenance import package_versions
from sma_response.tracking.run import (
    DIGESTS_FOLDER,
    MLFLOW_BOOKKEEPING,
    TrackingAccessError,
    access_problem,
    check_reachable,
    file_digests,
)
from sma_response.tracking.spec import TrackingSpec

__all__ = [
    "ModelIntegrityError",
    "ModelRef",
    "RunNotFinishedError",
    "RunNotFoundError",
    "add_run_files",
    "artifact_paths",
    "describe_model",
    "download_run_file",
    "experiment_runs",
    "get_run",
    "load_model",
    "read_run_json",
    "read_run_text",
    "register_model",
    "require_finished",
    "resolve_model",
    "set_run_tags",
    "tag_model_version",
    "validation_tags",
    "verify_model_files",
]

log = logging.getLogger(__name__)


class RunNotFoundError(LookupError):
    """No run with that id in the store (one line for the user)."""


class RunNotFinishedError(LookupError):
    """The run did not finish (killed, failed or still running): nothing in it is trusted."""


def require_finished(run: Mapping[str, Any], *, what: str = "run") -> None:
    """Refuse a run (:func:`get_run`) whose status is not FINISHED, in one line.

    Examples
    --------
    >>> require_finished({"run_id": "r1", "status": "FINISHED"})
    >>> try:
    ...     require_finished({"run_id": "r2", "status": "RUNNING"}, what="the model's run")
    ... except RunNotFinishedError as err:
    ...     print(err)
    the model's run r2 did not finish (status RUNNING: killed, or still training); train
    again or use a finished run
    """
    status = str(run.get("status"))
    if status != "FINISHED":
        hint = {"RUNNING": "killed, or still training", "FAILED": "it failed"}.get(
            status, "not completed"
        )
        msg = (
            f"{what} {run.get('run_id')} did not finish (status {status}: {hint}); train again "
            "or use a finished run"
        )
        raise RunNotFinishedError(msg)


@dataclass(frozen=True)
class ModelRef:
    """A logged model and the run behind it.

    Attributes
    ----------
    uri
        What to load: ``models:/<name>/<version>`` or ``runs:/<run_id>/model``.
    run_id
        The training run that logged it.
    name, version
        Registered name and version (``None`` when the model was never registered).
    """

    uri: str
    run_id: str
    name: str | None
    version: str | None


def describe_model(spec: TrackingSpec, ref: ModelRef, run: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a validation report says of a model: where it is and what trained it.

    ``run`` is :func:`get_run` of the model's training run.
    """
    tags = run["tags"]
    return {
        "uri": ref.uri,
        "run_id": ref.run_id,
        "name": ref.name,
        "version": ref.version,
        "model_name": tags.get("model", "unknown"),
        "trained_on": tags.get("dataset", "unknown"),
        "git_sha": tags.get("git_sha", "unknown"),
        "tracking_uri": spec.uri,
    }


def validation_tags(spec: TrackingSpec, ref: ModelRef, *, site: str) -> dict[str, str]:
    """Return the tags of a validation run: the model validated, where it lives, which site."""
    return {
        "task_name": "validate",
        "validation.model_uri": ref.uri,
        "validation.model_run_id": ref.run_id,
        "validation.model_name": ref.name or "unregistered",
        "validation.model_version": ref.version or "none",
        "validation.model_tracking_uri": spec.uri,
        "validation.site": site,
        "package_version": package_versions(["sma-response"])["sma-response"],
    }


def _client(spec: TrackingSpec) -> MlflowClient:
    # Downloads of small files need no progress bar on the terminal.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    check_reachable(spec.uri)
    mlflow.set_tracking_uri(spec.uri)
    return MlflowClient(tracking_uri=spec.uri)


def get_run(spec: TrackingSpec, run_id: str) -> dict[str, Any]:
    """Return a run's info, params, metrics and tags as plain dicts.

    Raises
    ------
    RunNotFoundError
        If the store has no run ``run_id``.
    """
    client = _client(spec)
    try:
        run = client.get_run(run_id)
    except MlflowException as err:
        problem = access_problem(err, spec.uri)
        if problem is not None:
            raise TrackingAccessError(problem) from None
        msg = f"run_id: no run {run_id!r} in the tracking store {spec.uri}"
        raise RunNotFoundError(msg) from err
    experiment = client.get_experiment(run.info.experiment_id)
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "experiment_name": experiment.name if experiment else None,
        "start_time": run.info.start_time,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
        "artifact_uri": run.info.artifact_uri,
    }


def artifact_paths(spec: TrackingSpec, run_id: str, folder: str | None = None) -> list[str]:
    """Every artifact file of a run (recursively under ``folder``), as run-relative paths."""
    client = _client(spec)
    out: list[str] = []
    stack = [folder]
    while stack:
        for item in client.list_artifacts(run_id, stack.pop()):
            (stack.append(item.path) if item.is_dir else out.append(item.path))
    return sorted(out)


def set_run_tags(spec: TrackingSpec, run_id: str, tags: Mapping[str, Any]) -> None:
    """Set tags on a run (finished or not)."""
    client = _client(spec)
    for key, value in tags.items():
        client.set_tag(run_id, str(key), str(value))


def add_run_files(
    spec: TrackingSpec, run_id: str, files: Mapping[str, str | Mapping[str, Any]]
) -> None:
    """Log small text or JSON files to a run after it finished.

    Parameters
    ----------
    spec
        Store of the run.
    run_id
        The run.
    files
        ``{artifact path: text or JSON-able mapping}``.
    """
    client = _client(spec)
    for path, content in files.items():
        if isinstance(content, str):
            client.log_text(run_id, content, path)
        else:
            client.log_dict(run_id, dict(content), path)


def resolve_model(
    spec: TrackingSpec,
    *,
    model: str | None = None,
    run_id: str | None = None,
    key: str = "model",
) -> ModelRef:
    """Find a model by URI or by its training run.

    Parameters
    ----------
    spec
        Store holding the model.
    model
        ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/latest`` or
        ``runs:/<run_id>/<path>``.
    run_id
        Alternatively the training run (its ``model`` artifact is used).
    key
        The config key that gave ``model``, named in error messages.

    Returns
    -------
    ModelRef
        With the registered name and version when the run's model was registered.

    Raises
    ------
    LookupError
        If neither is given, the URI has another form, or the store has no such model.
    """
    client = _client(spec)
    if not model and not run_id:
        msg = f"{key}: give {key}=models:/<name>/<version> (or runs:/<run_id>/model) or run_id=<id>"
        raise LookupError(msg)
    if model and model.startswith("models:/"):
        rest = model.removeprefix("models:/")
        try:
            if "@" in rest:
                name, alias = rest.split("@", 1)
                version = client.get_model_version_by_alias(name, alias)
            else:
                name, _, number = rest.partition("/")
                if number in ("", "latest"):
                    versions = client.search_model_versions(f"name='{name}'")
                    if not versions:
                        raise MlflowException(f"no versions of {name}")  # noqa: EM102
                    version = max(versions, key=lambda v: int(v.version))
                else:
                    version = client.get_model_version(name, number)
        except MlflowException as err:
            msg = f"{key}: no model version {model!r} in {spec.uri}"
            raise LookupError(msg) from err
        uri = f"models:/{version.name}/{version.version}"
        require_finished(get_run(spec, str(version.run_id)), what=f"{uri}: its training run")
        return ModelRef(
            uri=uri, run_id=str(version.run_id), name=version.name, version=str(version.version)
        )
    if model and not model.startswith("runs:/"):
        msg = f"{key}: expected models:/<name>/<version> or runs:/<run_id>/model, got {model!r}"
        raise LookupError(msg)
    path = "model"
    if model:
        run_id, _, given = model.removeprefix("runs:/").partition("/")
        path = given or path
    # RunNotFoundError / RunNotFinishedError (LookupErrors) for an unknown or unfinished run
    require_finished(get_run(spec, str(run_id)), what=f"{key}: run")
    found: list[Any] = []
    with contextlib.suppress(MlflowException):  # a store without a model registry
        found = list(client.search_model_versions(f"run_id='{run_id}'"))
    mine = [v for v in found if str(v.source).rstrip("/").endswith(f"/{path}") or path == "model"]
    latest = max(mine, key=lambda v: int(v.version)) if mine else None
    return ModelRef(
        uri=f"runs:/{run_id}/{path}",
        run_id=str(run_id),
        name=None if latest is None else str(latest.name),
        version=None if latest is None else str(latest.version),
    )


def load_model(spec: TrackingSpec, uri: str) -> Any:
    """Load a logged pyfunc model; return its :class:`~sma_response.tracking.model.ResponseModel`.

    Raises
    ------
    LookupError
        If the model cannot be loaded from the store.
    """
    _client(spec)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        except (MlflowException, OSError) as err:
            msg = f"model: cannot load {uri!r} from {spec.uri}: {err}"
            raise LookupError(msg) from err
        verify_model_files(spec, local, uri)  # before MLflow runs any of the model's code
        try:
            return mlflow.pyfunc.load_model(str(local)).unwrap_python_model()
        except (MlflowException, OSError, UntrustedModelError) as err:
            msg = f"model: cannot load {uri!r} from {spec.uri}: {err}"
            raise LookupError(msg) from err


class ModelIntegrityError(LookupError):
    """A logged model's files differ from what its training run recorded (one line)."""


def verify_model_files(spec: TrackingSpec, local: Path, uri: str) -> None:
    """Check a downloaded model against the SHA-256 digests its training run recorded.

    Refuses a model without digests (logged by an older version, or not by sma-train), one
    with a file added (a ``python_model.pkl``, say), removed or changed, and a pipeline file
    holding types the package does not load.

    Raises
    ------
    ModelIntegrityError
        Naming the model and the first file that does not match.
    """
    try:
        info = Model.load(str(local / "MLmodel"))
    except (MlflowException, OSError) as err:
        msg = f"{uri}: no readable MLmodel file: refused"
        raise ModelIntegrityError(msg) from err
    recorded = None
    if info.run_id and info.model_id:
        recorded = read_run_json(spec, str(info.run_id), f"{DIGESTS_FOLDER}/{info.model_id}.json")
    if not isinstance(recorded, dict):
        msg = (
            f"{uri}: its run recorded no SHA-256 digests of the model files (logged by an "
            "older sma-response, or not by sma-train): refused; retrain it with this version"
        )
        raise ModelIntegrityError(msg)
    recorded = {k: v for k, v in recorded.items() if k not in MLFLOW_BOOKKEEPING}
    actual = file_digests(local)
    for name in sorted(set(recorded) | set(actual)):
        if recorded.get(name) != actual.get(name):
            what = (
                "is not part of the model as trained" if name not in recorded
                else "is missing" if name not in actual
                else "changed since training (SHA-256 differs)"
            )  # fmt: skip
            msg = f"{uri}: model file {name} {what}: refused"
            raise ModelIntegrityError(msg)
    pipeline = local / "artifacts" / PIPELINE_FILE
    try:
        check_pipeline_file(pipeline)
    except UntrustedModelError as err:
        msg = f"{uri}: {err}: refused"
        raise ModelIntegrityError(msg) from err


def tag_model_version(spec: TrackingSpec, ref: ModelRef, tags: Mapping[str, Any]) -> bool:
    """Set tags on a registered model version; return whether it worked.

    A site may validate a model from a store it cannot write to; that is not an error.
    """
    if ref.name is None or ref.version is None:
        return False
    client = _client(spec)
    try:
        for key, value in tags.items():
            client.set_model_version_tag(ref.name, ref.version, str(key), str(value))
    except MlflowException as err:
        log.warning("could not tag model version %s/%s: %s", ref.name, ref.version, err)
        return False
    return True


def read_run_json(spec: TrackingSpec, run_id: str, path: str) -> Any | None:
    """Load a JSON artifact of a run; ``None`` when it is absent."""
    text = read_run_text(spec, run_id, path)
    return None if text is None else json.loads(text)


def read_run_text(spec: TrackingSpec, run_id: str, path: str) -> str | None:
    """Return a text artifact of a run; ``None`` when it is absent."""
    _client(spec)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=path, dst_path=tmp
            )
        except (MlflowException, OSError):
            return None
        return Path(local).read_text(encoding="utf-8")


def download_run_file(spec: TrackingSpec, run_id: str, path: str, *, dst: Path) -> Path | None:
    """Download one artifact of a run into ``dst``; ``None`` when it is absent."""
    _client(spec)
    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=path, dst_path=str(dst)
        )
    except (MlflowException, OSError):
        return None
    return Path(local)


def experiment_runs(
    spec: TrackingSpec, experiment_name: str, *, max_results: int = 1000
) -> list[dict[str, Any]]:
    """Return the runs of an experiment, newest first, as ``get_run`` dicts (empty if none)."""
    client = _client(spec)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id], max_results=max_results, order_by=["attributes.start_time DESC"]
    )
    return [
        {
            "run_id": r.info.run_id,
            "run_name": r.info.run_name,
            "status": r.info.status,
            "experiment_name": experiment_name,
            "start_time": r.info.start_time,
            "params": dict(r.data.params),
            "metrics": dict(r.data.metrics),
            "tags": dict(r.data.tags),
            "artifact_uri": r.info.artifact_uri,
        }
        for r in runs
    ]


def register_model(spec: TrackingSpec, model_uri: str) -> str | None:
    """Register a finished run's model as a new version of ``spec.registered_model_name``.

    Called after the run has ended FINISHED, so a killed or failed run never has a version.
    Moves ``spec.alias`` (when set) to the new version. Returns the version (``None`` when
    no name is configured or ``spec.register`` is false).
    """
    if not spec.registered_model_name or not spec.register:
        return None
    _client(spec)
    loggers = ("mlflow.tracking._model_registry.fluent", "mlflow.store.model_registry")
    saved = {name: logging.getLogger(name).level for name in loggers}
    try:
        for name in loggers:
            logging.getLogger(name).setLevel(logging.WARNING)
        version = mlflow.register_model(model_uri, spec.registered_model_name)
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    if spec.alias:
        MlflowClient(tracking_uri=spec.uri).set_registered_model_alias(
            spec.registered_model_name, spec.alias, str(version.version)
        )
    return str(version.version)
