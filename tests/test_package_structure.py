"""Checks on the package as a whole: metadata, import rules, required imports (STYLE 1, 2, 20)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sma_response

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO_ROOT / "src" / "sma_response"
MODULES = sorted(PACKAGE_DIR.rglob("*.py"))

# Stage packages (plus the shared low-level modules) must never see Hydra/OmegaConf (rule 2).
HYDRA_FREE = (
    "simulate",
    "harmonise",
    "cohort",
    "features",
    "models",
    "evaluate",
    "explain",
    "report",
    "schemas.py",
    "_utils",
)
HYDRA_LIBS = {"hydra", "omegaconf"}
MLFLOW_OWNER = "tracking"


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE_DIR).as_posix()


def _imported_roots(tree: ast.AST) -> set[str]:
    """Top-level names of every absolute import anywhere in the module (incl. in functions)."""
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_modules_found() -> None:
    assert PACKAGE_DIR.is_dir()
    assert PACKAGE_DIR / "__init__.py" in MODULES


def test_every_subpackage_has_init() -> None:
    """Module folders need ``__init__.py``: import-linter does not see namespace packages."""
    folders = {path.parent for path in MODULES}
    missing = sorted(_rel(d) or "." for d in folders if not (d / "__init__.py").exists())
    assert not missing, f"add __init__.py to: {missing}"


def test_version() -> None:
    assert isinstance(sma_response.__version__, str)
    assert sma_response.__version__
    assert sma_response.__version__ != "0.0.0+unknown", "package is not installed (make install)"


def test_import_contracts() -> None:
    """The import-linter contracts in pyproject.toml hold (layers + forbidden frameworks)."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        pytest.skip(f"lint-imports not installed next to {sys.executable} (dev group)")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_future_annotations(path: Path) -> None:
    """Every non-empty module starts with ``from __future__ import annotations`` (rule 20)."""
    source = path.read_text(encoding="utf-8")
    if not source.strip():
        return
    has_future = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in _parse(path).body
    )
    assert has_future, f"{_rel(path)} lacks 'from __future__ import annotations'"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_framework_imports(path: Path) -> None:
    """Only tracking/ imports mlflow; stage code never imports hydra or omegaconf (rule 2)."""
    rel = _rel(path)
    top = rel.split("/")[0]
    roots = _imported_roots(_parse(path))
    if top != MLFLOW_OWNER:
        assert "mlflow" not in roots, f"{rel} imports mlflow; only {MLFLOW_OWNER}/ may"
    if top in HYDRA_FREE:
        found = sorted(roots & HYDRA_LIBS)
        assert not found, f"{rel} imports {found}; stage code must receive plain specs"
