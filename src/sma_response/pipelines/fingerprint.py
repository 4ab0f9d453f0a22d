"""Fingerprint of a harmonised dataset: the CDM digest and, per table, rows and digest.

Logged with every training run (``data/cdm_fingerprint.json``) so that ``sma-reproduce`` can
say not only *that* the data differ but *where*: which table, how many rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sma_response.pipelines.harmonise import cdm_digest
from sma_response.schemas import CDM_SCHEMAS

__all__ = ["cdm_fingerprint", "compare_fingerprints"]


def cdm_fingerprint(cdm_dir: Path) -> dict[str, Any]:
    """Digest of the CDM folder's tables as read from disk, overall and per table.

    The overall digest is the one harmonisation writes into ``manifest.json`` (computed from
    the tables as stored, before schema validation), so a recomputed digest equals the
    manifest's exactly when the data are unchanged.

    Parameters
    ----------
    cdm_dir
        The ``cdm/`` folder (one parquet file per table).

    Returns
    -------
    dict
        ``{"digest": str, "tables": {name: {"n_rows": int, "digest": str}}}``.
    """
    tables = {name: pd.read_parquet(Path(cdm_dir) / f"{name}.parquet") for name in CDM_SCHEMAS}
    return {
        "digest": cdm_digest(tables),
        "tables": {
            name: {"n_rows": len(frame), "digest": cdm_digest({name: frame})}
            for name, frame in sorted(tables.items())
        },
    }


def compare_fingerprints(logged: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Name every table whose rows or content differ between two fingerprints.

    Examples
    --------
    >>> a = {"digest": "x", "tables": {"patients": {"n_rows": 10, "digest": "p"}}}
    >>> b = {"digest": "y", "tables": {"patients": {"n_rows": 9, "digest": "q"}}}
    >>> compare_fingerprints(a, b)
    ['patients: 10 rows logged, 9 now (1 fewer)']
    """
    out = []
    old, new = logged.get("tables", {}), current.get("tables", {})
    for name in sorted(set(old) | set(new)):
        if name not in new:
            out.append(f"{name}: table missing now")
            continue
        if name not in old:
            out.append(f"{name}: table not in the logged data")
            continue
        n_old, n_new = int(old[name]["n_rows"]), int(new[name]["n_rows"])
        if n_old != n_new:
            diff = n_new - n_old
            word = "more" if diff > 0 else "fewer"
            out.append(f"{name}: {n_old} rows logged, {n_new} now ({abs(diff)} {word})")
        elif old[name]["digest"] != new[name]["digest"]:
            out.append(f"{name}: same {n_new} rows, different content")
    return out
