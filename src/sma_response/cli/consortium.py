"""``sma-consortium``: run and administer the consortium tracking server (MLflow basic-auth).

Examples::

    sma-consortium serve                                  # make consortium-server
    export MLFLOW_TRACKING_URI=http://127.0.0.1:5000
    export MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=...   # the admin
    sma-consortium add-user site-de                       # asks for the new user's password
    sma-consortium grant site-de EDIT --experiment sma-response
    sma-consortium grant dr-rossi READ --experiment sma-response
    sma-consortium grant dr-rossi READ --model sma-response-responder
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import signal
import sys
import threading
from pathlib import Path

from sma_response.tracking.consortium import (
    PERMISSIONS,
    ConsortiumError,
    ConsortiumPaths,
    add_user,
    grant,
    running_server,
)

__all__ = ["main"]


def _uri(args: argparse.Namespace) -> str:
    uri = args.uri or os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        msg = "give the server with --uri or MLFLOW_TRACKING_URI (http://host:port)"
        raise ConsortiumError(msg)
    if not os.environ.get("MLFLOW_TRACKING_USERNAME"):
        msg = "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to the admin's"
        raise ConsortiumError(msg)
    return uri


def _new_password(args: argparse.Namespace) -> str:
    """Read the new user's password from ``--password-env`` or a prompt (never argv)."""
    if args.password_env:
        value = os.environ.get(args.password_env, "")
        if not value:
            msg = f"add-user: the environment variable {args.password_env} is empty or unset"
            raise ConsortiumError(msg)
        return value
    if not sys.stdin.isatty():
        msg = "add-user: no terminal to ask for the password: use --password-env VARIABLE"
        raise ConsortiumError(msg)
    first = getpass.getpass(f"password for {args.username}: ")
    if first != getpass.getpass("again: "):
        msg = "add-user: the two passwords differ"
        raise ConsortiumError(msg)
    return first


def _serve(args: argparse.Namespace) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_server(Path(args.folder), host=args.host, port=args.port) as url:
        paths = ConsortiumPaths(Path(args.folder).resolve())
        where = (
            "MLFLOW_AUTH_ADMIN_PASSWORD"
            if os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD")
            else str(paths.secrets / "admin-password")
        )
        sys.stdout.write(
            f"consortium server at {url} (PostgreSQL in {paths.data}, logs in {paths.logs})\n"
            f"admin user 'admin'; its first password is in {where}\n"
            "nobody else can read anything until granted: sma-consortium add-user / grant\n"
            "Ctrl-C stops the server and the database\n"
        )
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sma-consortium", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start PostgreSQL and the MLflow basic-auth server")
    serve.add_argument("--folder", default=".consortium", help="state folder (.consortium)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    serve.add_argument("--port", type=int, default=5000)
    user = sub.add_parser("add-user", help="create a user (as the admin)")
    user.add_argument("username")
    user.add_argument("--password-env", help="read the password from this variable")
    user.add_argument("--uri", help="server (default MLFLOW_TRACKING_URI)")
    give = sub.add_parser("grant", help="give a user a permission (as the admin)")
    give.add_argument("username")
    give.add_argument("permission", type=str.upper, choices=PERMISSIONS)
    what = give.add_mutually_exclusive_group(required=True)
    what.add_argument("--experiment", help="experiment name")
    what.add_argument("--model", help="registered model name")
    give.add_argument("--uri", help="server (default MLFLOW_TRACKING_URI)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``sma-consortium``."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            _serve(args)
        elif args.command == "add-user":
            add_user(_uri(args), args.username, _new_password(args))
            sys.stdout.write(f"user {args.username} created (no permission yet: grant one)\n")
        else:
            done = grant(
                _uri(args), args.username, args.permission,
                experiment=args.experiment, model=args.model,
            )  # fmt: skip
            sys.stdout.write(f"granted {done}\n")
    except ConsortiumError as err:
        sys.stderr.write(f"sma-consortium: error: {err}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
