"""Provenance of a run: code version, package versions and data digests (no MLflow here)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

#: Packages whose versions decide a result; logged with every run and checked on reproduction.
KEY_PACKAGES = (
    "sma-response",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "xgboost",
    "shap",
    "mlflow",
    "hydra-core",
    "omegaconf",
    "pandera",
    "pyarrow",
)


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_sha(root: Path) -> str | None:
    """Return the commit of the checkout at ``root`` (``None`` outside a git checkout)."""
    return _git(root, "rev-parse", "HEAD")


def git_dirty(root: Path) -> bool | None:
    """Return whether tracked files differ from the commit (``None`` outside a checkout)."""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def package_versions(names: Iterable[str] = KEY_PACKAGES) -> dict[str, str]:
    """Return installed versions of ``names`` (``"not installed"`` when missing)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


#: Pinned requirements written into a logged model (no slow pip inference).
MODEL_REQUIREMENTS = ("numpy", "pandas", "scikit-learn", "xgboost", "mlflow", "cloudpickle")


def run_provenance(
    run_id: str, *, model_uri: str | None, model_version: str | None, digest: str, root: Path
) -> dict[str, Any]:
    """Return what a report says of the run behind it: run, model, data digest, code, package."""
    return {
        "run_id": run_id,
        "model_uri": model_uri,
        "model_version": model_version,
        "data_digest": digest,
        "git_sha": git_sha(root),
        "package_version": package_versions(["sma-response"])["sma-response"],
    }


def model_requirements(names: Iterable[str] = MODEL_REQUIREMENTS) -> list[str]:
    """``name==version`` of each installed package of ``names`` (for a logged model)."""
    return [f"{p}=={v}" for p, v in package_versions(names).items() if v != "not installed"]


def installed_requirements() -> list[str]:
    """Return ``name==version`` for every installed distribution, sorted (for versions.txt)."""
    dists = {d.metadata["Name"]: d.version for d in metadata.distributions() if d.metadata["Name"]}
    return sorted(f"{name}=={version}" for name, version in dists.items())


def cdm_digest(tables: Mapping[str, pd.DataFrame]) -> str:
    """Content digest of the CDM: SHA-256 over table names, columns, dtypes and row hashes.

    It depends on the data only (not on the parquet writer), so equal CDMs have equal digests.

    Examples
    --------
    >>> a = {"t": pd.DataFrame({"x": [1, 2]})}
    >>> cdm_digest(a) == cdm_digest({"t": pd.DataFrame({"x": [1, 2]})}), len(cdm_digest(a))
    (True, 64)
    """
    sha = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        header = json.dumps([name, [[c, str(t)] for c, t in frame.dtypes.items()], len(frame)])
        sha.update(header.encode("utf-8"))
        if len(frame):
            sha.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return sha.hexdigest()


def cdm_fingerprint(tables: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Digest of the CDM tables, overall and per table (logged as ``data/cdm_fingerprint.json``).

    The overall digest is the one harmonisation writes into ``manifest.json`` (computed from
    the tables as stored, before schema validation), so a recomputed digest equals the
    manifest's exactly when the data are unchanged; per table, rows and digest let
    ``sma-reproduce`` say *where* data differ.

    Returns
    -------
    dict
        ``{"digest": str, "tables": {name: {"n_rows": int, "digest": str}}}``.

    Examples
    --------
    >>> fp = cdm_fingerprint({"patients": pd.DataFrame({"x": [1, 2]})})
    >>> fp["tables"]["patients"]["n_rows"], len(fp["digest"])
    (2, 64)
    """
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
