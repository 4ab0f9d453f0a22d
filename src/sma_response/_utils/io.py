"""Atomic file writes: a reader sees the old file or the complete new one, never a partial one.

The data go to a temporary file in the destination folder (same file system), which then
replaces the destination with :func:`os.replace`, an atomic rename on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_directory", "atomic_path", "atomic_write_bytes", "atomic_write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    r"""Yield a temporary path that replaces ``path`` when the block succeeds.

    The temporary path is a hidden, unique name in the same folder as ``path`` and keeps
    its suffix, so writers that pick a format from the extension (pandas, matplotlib) work.
    It is not created in advance: the block must write it. On success it is renamed over
    ``path`` with :func:`os.replace`; if the block raises, the temporary file is removed,
    ``path`` is left as it was, and the exception propagates.

    Parameters
    ----------
    path
        Destination file. Its parent folder must exist.

    Yields
    ------
    pathlib.Path
        Where the block should write the new content.

    Raises
    ------
    FileNotFoundError
        If the parent folder of ``path`` does not exist, or the block exits without
        creating the temporary file.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a,b\n1,2\n")
    >>> target.read_text()
    'a,b\n1,2\n'
    """
    target = Path(path)
    if not target.parent.is_dir():
        msg = f"parent folder does not exist <path={target}>"
        raise FileNotFoundError(msg)
    tmp = target.with_name(f".{target.stem}.{uuid.uuid4().hex[:12]}.tmp{target.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            msg = f"the block did not write the temporary file <path={target}, tmp={tmp}>"
            raise FileNotFoundError(msg)
        tmp.replace(target)  # os.replace: atomic, overwrites
    except BaseException:
        # BaseException: also clean up after KeyboardInterrupt / SystemExit, then re-raise.
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, flushed to disk before the rename.

    Parameters
    ----------
    path
        Destination file. Its parent folder must exist.
    data
        Complete new content.

    Returns
    -------
    pathlib.Path
        The destination path.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "blob.bin"
    >>> atomic_write_bytes(target, b"abc").read_bytes()
    b'abc'
    """
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    r"""Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Parameters
    ----------
    path
        Destination file. Its parent folder must exist.
    text
        Complete new content. Newlines are written as given, never translated.
    encoding
        Text encoding.

    Returns
    -------
    pathlib.Path
        The destination path.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "note.txt"
    >>> atomic_write_text(target, "héllo\n").read_text(encoding="utf-8")
    'héllo\n'
    """
    return atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces the folder ``path`` when the block succeeds.

    The block fills the temporary folder (a hidden sibling of ``path``, so on the same file
    system); on success an existing ``path`` is moved aside, the new folder is renamed into
    place and the old one is deleted. A crash inside the block leaves ``path`` untouched and
    removes the temporary folder, so readers never see half a folder. (Between the two renames
    ``path`` is briefly absent; the previous content then survives as a hidden ``.old`` sibling.)

    Parameters
    ----------
    path
        Destination folder. Its parent must exist.

    Yields
    ------
    pathlib.Path
        The temporary folder to write into.

    Raises
    ------
    FileNotFoundError
        If the parent folder of ``path`` does not exist.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "dataset"
    >>> with atomic_directory(target) as tmp:
    ...     _ = (tmp / "a.txt").write_text("1")
    >>> sorted(p.name for p in target.iterdir())
    ['a.txt']
    """
    target = Path(path)
    if not target.parent.is_dir():
        msg = f"parent folder does not exist <path={target}>"
        raise FileNotFoundError(msg)
    token = uuid.uuid4().hex[:12]
    tmp = target.with_name(f".{target.name}.{token}.tmp")
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.{token}.old")
            target.replace(old)
            tmp.replace(target)
            shutil.rmtree(old)
        else:
            tmp.replace(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
