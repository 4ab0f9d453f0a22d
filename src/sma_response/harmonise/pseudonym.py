r"""Pseudonymous patient keys: a keyed hash (HMAC-SHA256) of registry and local id.

``patient_id = HMAC-SHA256(secret, "<registry>\\x1f<local id>")``, first 16 hex characters
(64 bits: collisions are negligible below millions of patients, and the key cannot be
reversed or recomputed without the secret). The secret comes from the environment variable
``SMA_PSEUDONYM_KEY`` or a git-ignored local file (``configs/local/pseudonym_key``); it is never
logged or written. Without either, a clearly labelled development secret is used and a warning
is logged: its pseudonyms protect nothing and must not leave the machine.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DEVELOPMENT_KEY", "ENV_VAR", "PseudonymKey", "pseudonymise", "resolve_key"]

log = logging.getLogger(__name__)

ENV_VAR = "SMA_PSEUDONYM_KEY"
#: Public, therefore not secret: for synthetic data and development only.
DEVELOPMENT_KEY = b"sma-response DEVELOPMENT pseudonym key - not secret, synthetic data only"
_SEP = (
    "\x1f"  # unit separator: cannot occur in a registry name, so (registry, id) pairs never collide
)
_HEX_CHARS = 16


@dataclass(frozen=True)
class PseudonymKey:
    """The secret and where it came from (the source is safe to log, the secret is not).

    Attributes
    ----------
    secret
        Key bytes.
    source
        ``env`` (``SMA_PSEUDONYM_KEY``), ``file`` (local config) or ``development``.
    """

    secret: bytes
    source: str

    def __repr__(self) -> str:
        return f"PseudonymKey(source={self.source!r}, secret=<hidden>)"

    __str__ = __repr__


def resolve_key(*, environ: Mapping[str, str], local_secret: str | None = None) -> PseudonymKey:
    """Choose the pseudonymisation secret.

    Parameters
    ----------
    environ
        Environment variables (``os.environ``); ``SMA_PSEUDONYM_KEY`` wins when set and not empty.
    local_secret
        Content of the git-ignored local key file, if there is one.

    Returns
    -------
    PseudonymKey
        The secret, or the development key (with a logged warning) when none is configured.

    Examples
    --------
    >>> resolve_key(environ={"SMA_PSEUDONYM_KEY": "s3cret"}).source
    'env'
    """
    value = environ.get(ENV_VAR, "").strip()
    if value:
        return PseudonymKey(value.encode("utf-8"), "env")
    if local_secret:
        return PseudonymKey(local_secret.strip().encode("utf-8"), "file")
    _warn_development_key()
    return PseudonymKey(DEVELOPMENT_KEY, "development")


@functools.cache
def _warn_development_key() -> None:
    """Warn once per process (a training run resolves the key for harmonisation and oracle)."""
    log.warning(
        "%s is not set and there is no local key file: using the public DEVELOPMENT key. "
        "Pseudonyms made with it protect nothing; never use it for real patient data.",
        ENV_VAR,
    )


def _digest(secret: bytes, message: str) -> str:
    return hmac.new(secret, message.encode("utf-8"), hashlib.sha256).hexdigest()[:_HEX_CHARS]


def pseudonymise(local_id: pd.Series, *, registry: str, key: bytes | PseudonymKey) -> pd.Series:
    """Pseudonymous ``patient_id`` for each local id of a registry.

    Each distinct id is hashed once (hashing has no vectorised form; ids repeat across visits).

    Parameters
    ----------
    local_id
        The registry's patient ids (text; missing stays missing).
    registry
        Registry name (part of the hashed message, so equal local ids of two registries differ).
    key
        The secret.

    Returns
    -------
    pandas.Series
        16 lowercase hex characters per id, same index.

    Examples
    --------
    >>> ids = pseudonymise(pd.Series(["A1", "A1", None]), registry="demo", key=b"k")
    >>> ids[0] == ids[1], len(ids[0]), ids.isna().tolist()
    (True, 16, [False, False, True])
    """
    secret = key.secret if isinstance(key, PseudonymKey) else key
    text = local_id.astype("string")
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    hashed = np.array([_digest(secret, f"{registry}{_SEP}{u}") for u in uniques], dtype=object)
    values = np.full(len(codes), None, dtype=object)
    values[codes >= 0] = hashed[codes[codes >= 0]]
    return pd.Series(pd.array(values, dtype="string"), index=local_id.index)
