"""Provenance of a run: code version, package versions and data digests (no MLflow here)."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

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


def model_requirements(names: Iterable[str] = MODEL_REQUIREMENTS) -> list[str]:
    """``name==version`` of each installed package of ``names`` (for a logged model)."""
    return [f"{p}=={v}" for p, v in package_versions(names).items() if v != "not installed"]


def installed_requirements() -> list[str]:
    """Return ``name==version`` for every installed distribution, sorted (for versions.txt)."""
    dists = {d.metadata["Name"]: d.version for d in metadata.distributions() if d.metadata["Name"]}
    return sorted(f"{name}=={version}" for name, version in dists.items())


def frame_digest(df: pd.DataFrame) -> str:
    """Return a SHA-256 of a frame's content, column names and dtypes (row order matters).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> frame_digest(a) == frame_digest(a.copy()), frame_digest(a) == frame_digest(a.iloc[::-1])
    (True, False)
    """
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def tables_digest(tables: Mapping[str, pd.DataFrame]) -> str:
    """Return one SHA-256 over several named frames (order of names does not matter)."""
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(name.encode())
        h.update(frame_digest(tables[name]).encode())
    return h.hexdigest()
