"""A stage's error becomes the entry point's one-line error; anything else keeps its traceback."""

from __future__ import annotations

import pytest

from sma_response._utils.errors import reraise


class UserError(Exception):
    pass


def test_listed_error_is_reraised_with_its_message_and_cause() -> None:
    msg = "cohort: 3 index events"
    with (
        pytest.raises(UserError, match=rf"^{msg}$") as info,
        reraise(UserError, KeyError, ValueError),
    ):
        raise ValueError(msg)
    assert isinstance(info.value.__cause__, ValueError)


def test_unlisted_error_passes_through_unchanged() -> None:
    with pytest.raises(ZeroDivisionError), reraise(UserError, ValueError):
        _ = 1 / 0


def test_no_error_no_change() -> None:
    with reraise(UserError, ValueError):
        value = int("12")
    assert value == 12
