"""One MLflow run per pipeline job: the only module (with ``tracking.model``) that imports MLflow.

``mlflow_run`` opens a run against the configured store and yields a :class:`RunLogger` whose
methods log parameters, metrics, tables, figures, the data digest and the model. Nothing
patient-level is logged through it except what the caller passes explicitly (out-of-fold
predictions keyed by pseudonymous id only).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import signal
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from matplotlib.figure import Figure
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.tracking import MlflowClient

from sma_response.tracking.spec import TrackingSpec

log = logging.getLogger(__name__)

#: Tag linking a run to the run it reproduces (``sma-reproduce``).
PARENT_TAG = "mlflow.parentRunId"


class CDMSource(DatasetSource):
    """Dataset source for a harmonised CDM folder (path and content digest)."""

    def __init__(self, uri: str) -> None:
        self._uri = uri

    @staticmethod
    def _get_source_type() -> str:
        return "cdm"

    def load(self, **kwargs: Any) -> str:
        """Return the folder path (the CDM is read by the harmonise stage, not by MLflow)."""
        return self._uri

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> CDMSource:
        return cls(str(raw_source))

    def to_dict(self) -> dict[str, Any]:
        """Serialise the source."""
        return {"uri": self._uri}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> CDMSource:
        """Deserialise the source."""
        return cls(source_dict["uri"])


class TrackingAccessError(RuntimeError):
    """The tracking server cannot be reached, or refused the request (credentials, permission)."""


#: Seconds to wait for a tracking server to answer before saying it cannot be reached.
REACH_TIMEOUT_S = 3.0
_reached: set[str] = set()


def check_reachable(uri: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """Fail in one line, within ``timeout`` seconds, when a tracking server does not answer.

    MLflow's own client retries a refused connection for minutes before saying the run does not
    exist; one plain request to the server's ``/health`` page answers at once. Any HTTP answer
    (even 401 or 404) means the server is there; a local store is not probed. A server that
    answered once in this process is not asked again.

    Raises
    ------
    TrackingAccessError
        If nothing answers at ``uri`` (connection refused, unknown host, time-out).

    Examples
    --------
    >>> check_reachable("sqlite:///mlruns/mlflow.db")  # a local store: nothing to probe
    """
    if not uri.startswith(("http://", "https://")) or uri in _reached:
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # the server answered (auth or a proxy may refuse /health): it is reachable
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        msg = (
            f"tracking server {uri} cannot be reached ({reason}): start one with "
            "`make mlflow-server` (or `make consortium-server`), or set tracking.uri / "
            "MLFLOW_TRACKING_URI to a running server"
        )
        raise TrackingAccessError(msg) from None
    _reached.add(uri)


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a SQLite store while it is created or its experiment is.

    Two jobs started at once against a store that does not exist yet would both run MLflow's
    schema migrations (one crashed in 3 of 3 tries) or both create the experiment; the
    second now waits for the first. Other stores need no lock.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with db.with_name(db.name + ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def configure(spec: TrackingSpec) -> str:
    """Point MLflow at the store in ``spec`` and return the experiment id (created if needed)."""
    uri = spec.uri
    check_reachable(uri)
    mlflow.set_tracking_uri(uri)
    with _store_lock(uri):
        return _experiment_id(spec)


def _experiment_id(spec: TrackingSpec) -> str:
    client = MlflowClient(tracking_uri=spec.uri)
    exp = client.get_experiment_by_name(spec.experiment_name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if spec.artifact_location:
        path = Path(spec.artifact_location)
        if not path.is_absolute() and "://" not in spec.artifact_location:
            path = path.resolve()
        location = path.as_uri() if "://" not in spec.artifact_location else spec.artifact_location
    return client.create_experiment(spec.experiment_name, artifact_location=location)


class RunLogger:
    """Logging methods bound to one active MLflow run."""

    def __init__(self, run: mlflow.ActiveRun, spec: TrackingSpec) -> None:
        self.run = run
        self.spec = spec

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self.run.info.run_id

    @property
    def artifact_uri(self) -> str:
        """Where the run's artifacts are stored."""
        return self.run.info.artifact_uri

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log scalar parameters (values are stringified; MLflow limits them to 6000 chars)."""
        clean = {str(k): ("null" if v is None else str(v))[:6000] for k, v in params.items()}
        items = sorted(clean.items())
        for i in range(0, len(items), 100):
            mlflow.log_params(dict(items[i : i + 100]))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags."""
        mlflow.set_tags({str(k): str(v) for k, v in tags.items()})

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log numeric metrics; names may hold ``/`` (e.g. ``cv/auroc``); NaN values are skipped."""
        clean = {
            _metric_name(k): float(v) for k, v in metrics.items() if v is not None and pd.notna(v)
        }
        mlflow.log_metrics(clean)

    def log_dict(self, data: Mapping[str, Any] | list[Any], path: str) -> None:
        """Log a JSON or YAML artifact."""
        mlflow.log_dict(data, path)  # type: ignore[arg-type]  # MLflow accepts lists too

    def log_text(self, text: str, path: str) -> None:
        """Log a text artifact."""
        mlflow.log_text(text, path)

    def log_table(self, df: pd.DataFrame, path: str) -> None:
        """Log a table artifact: ``.parquet`` or ``.csv`` by the path's suffix."""
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(path).name
            if local.suffix == ".parquet":
                df.to_parquet(local, index=False)
            else:
                df.to_csv(local, index=False)
            parent = str(Path(path).parent)
            mlflow.log_artifact(str(local), artifact_path=None if parent == "." else parent)

    def log_figure(self, figure: Any, path: str) -> None:
        """Log a matplotlib figure (PNG or SVG by suffix)."""
        mlflow.log_figure(figure, path)

    def log_artifacts(self, folder: Path, path: str | None = None) -> None:
        """Log every file in ``folder``."""
        mlflow.log_artifacts(str(folder), artifact_path=path)

    def log_dataset(self, *, uri: str, digest: str, name: str, context: str = "training") -> None:
        """Record the harmonised data as the run's input (``mlflow.log_input``)."""
        dataset = MetaDataset(source=CDMSource(uri), name=name, digest=digest[:32])  # type: ignore[abstract]
        mlflow.log_input(dataset, context=context)
        mlflow.set_tag("data.digest", digest)

    def log_model(
        self,
        model: Any,
        *,
        input_example: pd.DataFrame,
        pip_requirements: list[str],
        metadata: Mapping[str, Any] | None = None,
        name: str = "model",
        register: bool = True,
    ) -> tuple[str, str | None]:
        """Log a pyfunc model with its signature and example; register it if configured.

        ``name`` is the model's artifact name; ``register=False`` logs without registering
        (e.g. the companion change model that reports use beside the main model).

        Returns
        -------
        tuple
            The model URI and the registered version (``None`` when not registered).
        """
        from mlflow.models import infer_signature

        from sma_response.tracking.model import MODEL_CODE, ResponseModel, write_model_files

        wrapper = ResponseModel(model)
        example = wrapper.prepare(input_example)
        signature = infer_signature(example, wrapper.predict(None, example))
        with tempfile.TemporaryDirectory() as tmp, _quiet("mlflow.pyfunc", "mlflow.models"):
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(MODEL_CODE),  # models from code: nothing is pickled
                artifacts=write_model_files(wrapper, Path(tmp)),
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements,
                registered_model_name=self.spec.registered_model_name if register else None,
                metadata=dict(metadata or {}),
            )
        # The SHA-256 of every file of the logged model, kept in the run: readers verify them.
        mlflow.log_dict(model_digests(info.model_uri), f"{DIGESTS_FOLDER}/{info.model_id}.json")
        version = (
            None if info.registered_model_version is None else str(info.registered_model_version)
        )
        return info.model_uri, version


@contextmanager
def _quiet(*loggers: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise MLflow loggers' levels for a block (chatter a user cannot act on)."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    try:
        for name in loggers:
            logging.getLogger(name).setLevel(level)
        yield
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


def _metric_name(name: str) -> str:
    """MLflow metric names allow letters, digits, ``_-./`` and spaces; replace anything else."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in str(name))


def access_problem(err: Exception, uri: str) -> str | None:
    """Say in one line why a server refused a request (``None``: not an access problem).

    Names the user (never the password) and the standard variables to fix.

    Examples
    --------
    >>> access_problem(Exception("failed with error code 401 != 200"), "http://h:5000")[:52]
    'tracking server http://h:5000 refused the user name '
    >>> access_problem(Exception("error code 500"), "http://h") is None
    True
    """
    text = str(err)
    user = os.environ.get("MLFLOW_TRACKING_USERNAME") or "(none)"
    if "error code 401" in text or "not authenticated" in text.lower():
        return (
            f"tracking server {uri} refused the user name or password of user {user}: set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to your consortium account"
        )
    if "error code 403" in text or "PERMISSION_DENIED" in text:
        return (
            f"tracking server {uri}: user {user} has no permission for this (read-only or "
            "no grant); ask the consortium admin for one"
        )
    return None


@contextmanager
def server_access(uri: str) -> Iterator[None]:
    """Turn a server's refusal (401/403) inside the block into :class:`TrackingAccessError`."""
    try:
        yield
    except mlflow.exceptions.MlflowException as err:
        problem = access_problem(err, uri)
        if problem is None:
            raise
        raise TrackingAccessError(problem) from None


def check_access(spec: TrackingSpec) -> None:
    """Fail early, in one line, when a tracking server refuses this user (before any work)."""
    if spec.uri.startswith(("http://", "https://")):
        with server_access(spec.uri):
            configure(spec)


@contextmanager
def mlflow_run(
    spec: TrackingSpec,
    *,
    run_name: str,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
) -> Iterator[RunLogger]:
    """Open one MLflow run (nested under ``parent_run_id`` if given) and yield its logger.

    A failure inside the block marks the run FAILED and re-raises; a server's refusal becomes
    :class:`TrackingAccessError` (one line, no password).
    """
    with server_access(spec.uri):
        experiment_id = configure(spec)
    # Quiet MLflow's own chatter about the SQLite store on first use.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    kwargs: dict[str, Any] = {"experiment_id": experiment_id, "run_name": run_name}
    if parent_run_id:
        kwargs["parent_run_id"] = parent_run_id
        kwargs["nested"] = True
    with server_access(spec.uri), _terminate_as_exit(), mlflow.start_run(**kwargs) as run:
        if tags:
            mlflow.set_tags({str(k): str(v) for k, v in tags.items()})
        logger = RunLogger(run, spec)
        log.info(
            "MLflow run %s in experiment %r (%s)", run.info.run_id, spec.experiment_name, spec.uri
        )
        yield logger


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM (``kill``, a scheduler's time limit) into ``SystemExit`` inside the block.

    The run's context then ends it FAILED instead of leaving it RUNNING. Only the main thread
    can install a signal handler; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def start_parent_run(
    spec: TrackingSpec, *, run_name: str, tags: Mapping[str, Any] | None = None
) -> str:
    """Create a parent run for a multirun sweep and return its id (left running)."""
    experiment_id = configure(spec)
    client = MlflowClient(tracking_uri=spec.uri)
    run = client.create_run(
        experiment_id, run_name=run_name, tags={str(k): str(v) for k, v in (tags or {}).items()}
    )
    return run.info.run_id


def child_runs(spec: TrackingSpec, parent_run_id: str, *, metrics: list[str]) -> pd.DataFrame:
    """One row per child run of a sweep: run id, name, overrides, status and ``metrics``.

    Sorted by start time (the order the sweep ran them); missing metrics are NaN.
    """
    experiment_id = configure(spec)
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
        order_by=["attributes.start_time ASC"],
    )
    columns = ["run_id", "run_name", "overrides", "status", *metrics]
    if not isinstance(runs, pd.DataFrame) or runs.empty:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "run_name": runs.get("tags.mlflow.runName"),
            "overrides": runs.get("tags.overrides"),
            "status": runs["status"],
        }
    )
    for name in metrics:
        column = f"metrics.{_metric_name(name)}"
        out[name] = runs[column] if column in runs else float("nan")
    return out.reset_index(drop=True)


def end_parent_run(
    spec: TrackingSpec,
    run_id: str,
    *,
    summary: Mapping[str, float] | None = None,
    table: pd.DataFrame | None = None,
    status: str = "FINISHED",
    extra: Mapping[str, pd.DataFrame | Figure] | None = None,
) -> None:
    """Finish a parent run (``status`` FINISHED or FAILED), logging a summary and table if given.

    ``extra`` holds more tables (``.csv``) and figures (``.png``) by artifact path.
    """
    client = MlflowClient(tracking_uri=spec.uri)
    for key, value in (summary or {}).items():
        client.log_metric(run_id, _metric_name(key), float(value))
    tables = {"sweep/comparison.csv": table} if table is not None else {}
    for path, item in {**tables, **(extra or {})}.items():
        if isinstance(item, Figure):
            client.log_figure(run_id, item, path)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / Path(path).name
            item.to_csv(local, index=False)
            client.log_artifact(run_id, str(local), artifact_path=str(Path(path).parent))
    client.set_terminated(run_id, status)


def load_run(spec: TrackingSpec, run_id: str) -> dict[str, Any]:
    """Return a logged run's params, metrics, tags and artifact URI as plain dicts."""
    configure(spec)
    client = MlflowClient(tracking_uri=spec.uri)
    run = client.get_run(run_id)
    return {
        "run_id": run.info.run_id,
        "status": run.info.status,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
        "artifact_uri": run.info.artifact_uri,
    }


def download_artifact(spec: TrackingSpec, run_id: str, path: str, dst: Path) -> Path:
    """Download one artifact of a run into ``dst`` and return its local path."""
    configure(spec)
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=path, dst_path=str(dst)
    )
    return Path(local)


def read_json_artifact(spec: TrackingSpec, run_id: str, path: str) -> Any:
    """Load a JSON artifact of a run."""
    configure(spec)
    text = mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")
    return json.load(io.StringIO(text))


#: Run folder of the SHA-256 digests of each logged model's files (``<model_id>.json``).
DIGESTS_FOLDER = "model_digests"


#: Files MLflow itself adds to a logged model later (registration): not part of the digests.
MLFLOW_BOOKKEEPING = frozenset({"registered_model_meta"})


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by path relative to it (sorted).

    MLflow's registration bookkeeping (:data:`MLFLOW_BOOKKEEPING`) is left out.
    """
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() not in MLFLOW_BOOKKEEPING
    }


def model_digests(model_uri: str) -> dict[str, str]:
    """Download a logged model and return the SHA-256 of each of its files."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        return file_digests(local)


def read_text_artifact(spec: TrackingSpec, run_id: str, path: str) -> str:
    """Return a text artifact of a run."""
    configure(spec)
    return mlflow.artifacts.load_text(f"runs:/{run_id}/{path}")
