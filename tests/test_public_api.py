"""Every stage's public API imports as documented (issue #10, item 2)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = (
    "simulate",
    "harmonise",
    "cohort",
    "features",
    "models",
    "evaluate",
    "effects",
    "explain",
    "report",
    "tracking",
    "conf",
)


@pytest.mark.parametrize("stage", STAGES)
def test_every_exported_name_resolves(stage: str) -> None:
    package = importlib.import_module(f"sma_response.{stage}")
    names = package.__all__
    assert names, f"sma_response.{stage} exports nothing"
    assert sorted(names) == sorted(set(names)), f"duplicates in sma_response.{stage}.__all__"
    missing = [n for n in names if getattr(package, n, None) is None]
    assert not missing, f"sma_response.{stage}: {missing} listed in __all__ but not importable"


def test_emulate_trial_is_public() -> None:
    from sma_response.simulate import emulate_trial
    from sma_response.simulate.trials import emulate_trial as defined

    assert emulate_trial is defined


def test_unknown_lazy_name_is_an_attribute_error() -> None:
    import sma_response.tracking as tracking

    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = tracking.not_a_name


def test_spec_modules_do_not_load_mlflow() -> None:
    """The config layer imports ``tracking.spec`` at compose time; that must stay cheap."""
    import subprocess
    import sys

    code = "import sma_response.tracking.spec, sys; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _documented_names() -> set[tuple[str, str]]:
    """``sma_response.<stage>.<name>`` and ``from sma_response.<stage> import a, b`` in docs."""
    found: set[tuple[str, str]] = set()
    for doc in (
        REPO_ROOT / "README.md",
        REPO_ROOT / "src" / "sma_response" / "simulate" / "__init__.py",
    ):
        text = doc.read_text(encoding="utf-8")
        for stage, name in re.findall(r"sma_response\.(\w+)\.([A-Za-z_]\w*)\b", text):
            if (
                stage in STAGES
                and not (REPO_ROOT / "src" / "sma_response" / stage / f"{name}.py").exists()
            ):
                found.add((stage, name))
        for stage, names in re.findall(r"from sma_response\.(\w+) import ([\w, ]+)", text):
            if stage in STAGES:
                found.update((stage, n.strip()) for n in names.split(",") if n.strip())
    return found


def test_documented_names_import() -> None:
    documented = _documented_names()
    assert ("simulate", "emulate_trial") in documented
    for stage, name in sorted(documented):
        package = importlib.import_module(f"sma_response.{stage}")
        assert name in package.__all__, f"README names sma_response.{stage}.{name}: not exported"


def test_version() -> None:
    import sma_response

    assert sma_response.__version__
    assert sma_response.__version__ != "0.0.0+unknown", "package is not installed (make install)"
