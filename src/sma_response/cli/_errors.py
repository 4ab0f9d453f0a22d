"""One line for a user's mistake and for a folder the command cannot write, never a traceback.

Every command's ``main`` runs its pipeline inside :func:`one_line_errors`: the pipeline's own
errors (a bad config value, an unknown run, a missing export) and a write that the file system
refuses (a read-only folder, a full disk, no permission) each end the command with one line on
standard error naming the path, and exit status 2 (``status`` to keep an older one). Any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sma_response.conf.resolvers import PROJECT_ROOT

__all__ = [
    "WRITE_ERRNOS",
    "Outcome",
    "check_writable",
    "one_line_errors",
    "output_root",
    "write_error_message",
]

#: What a file system says when it will not take a write.
WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT})


def write_error_message(err: OSError, where: str | None = None) -> str:
    """Say in one line which path could not be written and why (the remedy included).

    ``where`` names the output folder when the error does not carry a file name (a parquet
    writer's "No space left on device").

    Examples
    --------
    >>> write_error_message(OSError(errno.EROFS, "Read-only file system", "/mnt/ro/cdm"))
    'cannot write /mnt/ro/cdm: the file system is read-only (choose a writable folder)'
    >>> write_error_message(OSError(errno.ENOSPC, "Error writing bytes"), where="data/interim")
    ... # doctest: +NORMALIZE_WHITESPACE
    'cannot write data/interim: no space left on the device (free some space, or choose a
    folder on another disk)'
    """
    path = err.filename or where or "the output folder"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "no space left on the device (free some space, or choose a folder on another disk)"
    elif err.errno == errno.EROFS:
        why = "the file system is read-only (choose a writable folder)"
    else:
        why = "permission denied (choose a folder you may write to)"
    return f"cannot write {path}: {why}"


@dataclass
class Outcome:
    """How the guarded block ended: ``status`` 0, or the exit status of the error it printed."""

    status: int = 0


@contextmanager
def one_line_errors(
    prog: str,
    errors: Sequence[type[Exception]],
    *,
    where: str | None = None,
    status: int = 2,
    exit: bool = True,
) -> Iterator[Outcome]:
    """Turn ``errors`` and refused writes into ``<prog>: error: <one line>`` and an exit.

    With ``exit=False`` the block is left instead and the yielded :class:`Outcome` holds the
    status, for a ``main`` that returns its exit status rather than exiting.
    """
    outcome = Outcome()
    try:
        yield outcome
    except tuple(errors) as err:
        message = str(err)
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        message = write_error_message(err, where)
    else:
        return
    sys.stderr.write(f"{prog}: error: {message}\n")
    outcome.status = status
    if exit:
        raise SystemExit(status)


def check_writable(prog: str, folder: str | Path, *, key: str) -> None:
    """Exit with one line when ``folder`` (or the nearest existing folder above it) is read-only.

    For the run folder Hydra creates before a command's own code runs; ``key`` is the setting
    that moves it (``paths.output_root``).
    """
    path = Path(folder).absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None or os.access(existing, os.W_OK):
        return
    err = OSError(errno.EROFS if _read_only(existing) else errno.EACCES, "", str(path))
    sys.stderr.write(f"{prog}: error: {write_error_message(err)}; set {key}=<folder>\n")
    raise SystemExit(2)


def output_root(argv: Sequence[str]) -> Path:
    """Return the run folders' root a command line asks for (``paths.output_root=``).

    Examples
    --------
    >>> output_root(["seed=1", "paths.output_root=/scratch/out"])
    PosixPath('/scratch/out')
    >>> output_root([]).name
    'outputs'
    """
    given = [a.split("=", 1)[1] for a in argv if a.startswith("paths.output_root=")]
    return Path(given[-1]) if given else Path(PROJECT_ROOT) / "outputs"


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
