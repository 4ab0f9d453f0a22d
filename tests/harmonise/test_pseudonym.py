from __future__ import annotations

import logging

import pandas as pd

from sma_response.harmonise import pseudonym
from sma_response.harmonise.pseudonym import DEVELOPMENT_KEY, pseudonymise, resolve_key


def test_keyed_hash_is_stable_and_depends_on_key_and_registry() -> None:
    ids = pd.Series(["A1", "A2", "A1"])
    a = pseudonymise(ids, registry="r", key=b"k1")
    assert a[0] == a[2] != a[1]
    assert a.str.fullmatch(r"[0-9a-f]{16}").all()
    assert not a.equals(pseudonymise(ids, registry="r", key=b"k2"))
    assert not a.equals(pseudonymise(ids, registry="s", key=b"k1"))


def test_secret_sources_and_the_development_warning(caplog) -> None:
    pseudonym._warn_development_key.cache_clear()  # earlier tests may have warned already
    with caplog.at_level(logging.WARNING):
        assert resolve_key(environ={"SMA_PSEUDONYM_KEY": "s3cret-value"}).source == "env"
        assert resolve_key(environ={}, local_secret="file-secret").source == "file"
        assert not caplog.records
        dev = resolve_key(environ={})
    assert dev.source == "development"
    assert dev.secret == DEVELOPMENT_KEY
    assert "DEVELOPMENT" in caplog.text
    key = resolve_key(environ={"SMA_PSEUDONYM_KEY": "s3cret-value"})
    assert "s3cret-value" not in repr(key)
    assert "s3cret-value" not in caplog.text


def test_the_development_warning_is_given_once_per_process(caplog) -> None:
    pseudonym._warn_development_key.cache_clear()
    with caplog.at_level(logging.WARNING):
        resolve_key(environ={})
        resolve_key(environ={})
    assert caplog.text.count("DEVELOPMENT key") == 1
