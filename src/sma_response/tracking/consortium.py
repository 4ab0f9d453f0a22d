"""The consortium tracking server: MLflow's basic-auth app on a local PostgreSQL cluster.

``make consortium-server`` (``sma-consortium serve``) keeps everything in one folder
(``.consortium/`` by default, git-ignored):

- ``postgres/``: a PostgreSQL cluster (``initdb`` on first start) that listens on no TCP port,
  only on a Unix socket in ``socket/`` (mode 0700): no password exists to leak, and only the
  folder's owner (and root) can reach the database. Databases ``mlflow`` (runs, models) and
  ``mlflow_auth`` (users, permissions).
- ``basic_auth.ini``: MLflow's auth config, ``default_permission = NO_PERMISSIONS``: a user
  sees only what the admin granted; anonymous requests get 401.
- ``secrets/``: the Flask secret key (CSRF) and, when ``MLFLOW_AUTH_ADMIN_PASSWORD`` is not
  set, a generated admin password (files of mode 0600; never printed or logged).
- ``artifacts/`` (served by the server: clients never need the folder) and ``logs/``.

Users and grants go through MLflow's own auth client (``mlflow.server.get_app_client``),
authenticated as the admin from ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

__all__ = [
    "PERMISSIONS",
    "ConsortiumError",
    "ConsortiumPaths",
    "add_user",
    "grant",
    "postgres_bin",
    "running_server",
]

log = logging.getLogger(__name__)

#: What a grant can give (MLflow's permission names): read, edit (log runs), manage (grants).
PERMISSIONS = ("READ", "EDIT", "MANAGE")
ADMIN_USER = "admin"
_DB_USER = "mlflow"
#: The unprivileged OS user that runs PostgreSQL when the server is started as root.
_PG_OS_USER = "postgres"


class ConsortiumError(RuntimeError):
    """A problem the admin can fix (no PostgreSQL, a port in use, a refused grant)."""


@dataclass(frozen=True)
class ConsortiumPaths:
    """Where one consortium server keeps its state."""

    root: Path

    @property
    def data(self) -> Path:
        """The PostgreSQL cluster."""
        return self.root / "postgres"

    @property
    def socket(self) -> Path:
        """The cluster's Unix-socket directory (its only way in)."""
        return self.root / "socket"

    @property
    def secrets(self) -> Path:
        """Secret key and generated admin password (mode 0600)."""
        return self.root / "secrets"

    @property
    def logs(self) -> Path:
        """PostgreSQL and MLflow server logs."""
        return self.root / "logs"

    @property
    def artifacts(self) -> Path:
        """Artifacts the server stores for its clients."""
        return self.root / "artifacts"

    @property
    def auth_config(self) -> Path:
        """MLflow's ``basic_auth.ini``."""
        return self.root / "basic_auth.ini"

    def database_uri(self, database: str) -> str:
        """SQLAlchemy URI of one database, over the Unix socket (no password)."""
        return f"postgresql+psycopg2://{_DB_USER}@/{database}?host={self.socket}"


def postgres_bin() -> Path:
    """Return the directory of PostgreSQL's server programs (``initdb``, ``pg_ctl``).

    Raises
    ------
    ConsortiumError
        When PostgreSQL is not installed.
    """
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    msg = (
        "PostgreSQL is not installed: install it with 'apt-get install -y postgresql' "
        "(make consortium-server does this when it runs as root)"
    )
    raise ConsortiumError(msg)


def _as_owner(command: list[str]) -> list[str]:
    """Run PostgreSQL as ``postgres`` when started as root (it refuses to run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", _PG_OS_USER, "--", *command]
    return command


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        msg = f"{what} failed (exit {done.returncode}): {detail[0]}"
        raise ConsortiumError(msg)


def _private_dir(path: Path, *, owner_is_postgres: bool = False) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if owner_is_postgres and os.geteuid() == 0:
        shutil.chown(path, user=_PG_OS_USER)


def _secret(paths: ConsortiumPaths, name: str) -> str:
    """Read (or create, mode 0600) one secret of the server."""
    _private_dir(paths.secrets)
    file = paths.secrets / name
    if not file.exists():
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(32))
    return file.read_text(encoding="utf-8").strip()


def _start_postgres(paths: ConsortiumPaths, bindir: Path) -> None:
    """Initialise the cluster on first use, start it on its socket, create the databases."""
    paths.root.mkdir(parents=True, exist_ok=True)
    _private_dir(paths.socket, owner_is_postgres=True)
    _private_dir(paths.logs, owner_is_postgres=True)
    if not (paths.data / "PG_VERSION").exists():
        _private_dir(paths.data, owner_is_postgres=True)
        # trust on the socket only: the socket's directory (0700) is the access control
        _run(
            _as_owner([str(bindir / "initdb"), "-D", str(paths.data), "-U", _DB_USER,
                       "--auth-local=trust", "--auth-host=reject", "-E", "UTF8"]),
            "initdb",
        )  # fmt: skip
    options = f"-c listen_addresses='' -c unix_socket_directories='{paths.socket}'"
    _run(
        _as_owner([str(bindir / "pg_ctl"), "-D", str(paths.data), "-l",
                   str(paths.logs / "postgres.log"), "-w", "-t", "60", "-o", options, "start"]),
        "starting PostgreSQL",
    )  # fmt: skip
    for database in ("mlflow", "mlflow_auth"):
        done = subprocess.run(
            [str(bindir / "createdb"), "-h", str(paths.socket), "-U", _DB_USER, database],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0 and "already exists" not in done.stderr:
            msg = f"creating database {database} failed: {done.stderr.strip()}"
            raise ConsortiumError(msg)


def _stop_postgres(paths: ConsortiumPaths, bindir: Path) -> None:
    subprocess.run(
        _as_owner([str(bindir / "pg_ctl"), "-D", str(paths.data), "-m", "fast", "stop"]),
        capture_output=True, check=False,
    )  # fmt: skip


def _write_auth_config(paths: ConsortiumPaths) -> None:
    paths.auth_config.write_text(
        "[mlflow]\n"
        "# Written by sma-consortium serve: nothing is readable without a grant.\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {paths.database_uri('mlflow_auth')}\n"
        f"admin_username = {ADMIN_USER}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
        "# a credential check (PBKDF2) is cached for a minute per worker\n"
        "auth_cache_ttl_seconds = 60\n",
        encoding="utf-8",
    )
    paths.auth_config.chmod(0o600)


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"the MLflow server exited with code {server.returncode} (see its log)"
            raise ConsortiumError(msg)
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(f"{url}/health", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    msg = f"the MLflow server at {url} did not answer within {timeout:.0f} s"
    raise ConsortiumError(msg)


@contextlib.contextmanager
def running_server(
    root: Path, *, host: str = "127.0.0.1", port: int = 5000, timeout: float = 90.0
) -> Iterator[str]:
    """Start PostgreSQL and the MLflow basic-auth server; yield its URL; stop both at exit.

    The admin's password is ``MLFLOW_AUTH_ADMIN_PASSWORD`` when set, else a generated one in
    ``<root>/secrets/admin-password``; it is set only when the user store is first created.
    """
    paths = ConsortiumPaths(Path(root).resolve())
    bindir = postgres_bin()
    _start_postgres(paths, bindir)
    server = None
    try:
        _write_auth_config(paths)
        paths.artifacts.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(paths.auth_config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": _secret(paths, "flask-secret-key"),
        }
        if not env.get("MLFLOW_AUTH_ADMIN_PASSWORD"):  # generated once, kept (mode 0600)
            env["MLFLOW_AUTH_ADMIN_PASSWORD"] = _secret(paths, "admin-password")
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(name, None)  # the server is not a client
        command = [
            sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
            "--backend-store-uri", paths.database_uri("mlflow"),
            "--artifacts-destination", str(paths.artifacts),
            "--host", host, "--port", str(port), "--workers", "1",
        ]  # fmt: skip
        with (paths.logs / "mlflow-server.log").open("ab") as server_log:
            server = subprocess.Popen(
                command, env=env, stdout=server_log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        url = f"http://{host}:{port}"
        _wait_healthy(url, server, timeout)
        log.info("consortium server at %s (state in %s)", url, paths.root)
        yield url
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn worker
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        _stop_postgres(paths, bindir)


def _auth_client(uri: str) -> object:
    with warnings.catch_warnings():  # the server package's own deprecation notes
        warnings.simplefilter("ignore", DeprecationWarning)
        from mlflow.server import get_app_client

    return get_app_client("basic-auth", tracking_uri=uri)


def _refused(err: MlflowException, action: str) -> ConsortiumError:
    text = str(err)
    if "401" in text or "not authenticated" in text.lower():
        why = (
            "the admin's credentials were refused (set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD to the admin's)"
        )
    elif "403" in text or "permission" in text.lower():
        why = "only the consortium admin may do this"
    else:
        why = text.splitlines()[0][:200]
    return ConsortiumError(f"{action}: {why}")


def add_user(uri: str, username: str, password: str) -> None:
    """Create a user on the server (admin credentials from the environment)."""
    client = _auth_client(uri)
    try:
        client.create_user(username=username, password=password)  # type: ignore[attr-defined]
    except MlflowException as err:
        if "already exists" in str(err).lower() or "RESOURCE_ALREADY_EXISTS" in str(err):
            msg = f"add user {username}: the user already exists"
            raise ConsortiumError(msg) from None
        raise _refused(err, f"add user {username}") from None


def grant(
    uri: str,
    username: str,
    permission: str,
    *,
    experiment: str | None = None,
    model: str | None = None,
) -> str:
    """Give ``username`` ``permission`` on an experiment (by name) or a registered model.

    Returns
    -------
    str
        What was granted, in words.
    """
    permission = permission.upper()
    if permission not in PERMISSIONS:
        msg = f"grant: permission must be one of {', '.join(PERMISSIONS)}, not {permission!r}"
        raise ConsortiumError(msg)
    if (experiment is None) == (model is None):
        msg = "grant: give exactly one of an experiment or a registered model"
        raise ConsortiumError(msg)
    client = _auth_client(uri)
    if experiment is not None:
        found = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
        if found is None:
            msg = f"grant: no experiment named {experiment!r} on {uri}"
            raise ConsortiumError(msg)
        kind, resource, what = "experiment", str(found.experiment_id), f"experiment {experiment}"
    else:
        kind, resource, what = "registered_model", str(model), f"registered model {model}"
    try:
        client.grant_user_permission(  # type: ignore[attr-defined]
            username=username, resource_type=kind, resource_id=resource, permission=permission
        )
    except MlflowException as err:
        raise _refused(err, f"grant {permission} to {username}") from None
    return f"{username}: {permission} on {what}"
