"""One-line errors for a user's mistake: a stage's error re-raised as the entry point's own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["reraise"]


@contextmanager
def reraise(to: type[Exception], *caught: type[Exception]) -> Iterator[None]:
    """Re-raise any of ``caught`` as ``to`` with the same message, chained to the original.

    Each entry point has one error class its command-line tool prints in one line; the stages
    below raise their own (a bad config key, a missing export, an unknown run). This turns the
    one into the other without a ``try`` block at every call:

    >>> with reraise(RuntimeError, KeyError, ValueError):  # doctest: +ELLIPSIS
    ...     int("twelve")
    Traceback (most recent call last):
    RuntimeError: invalid literal for int() with base 10: 'twelve'

    Errors not listed pass through unchanged (a bug keeps its traceback).
    """
    try:
        yield
    except caught as err:
        raise to(str(err)) from err
