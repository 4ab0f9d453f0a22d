"""Fixtures for the harmonisation tests: the hand-written ``demo`` registry, copied to tmp."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests._fixtures.harmonise_data import FIXTURES

from sma_response.harmonise.io import read_registry, read_registry_spec
from sma_response.harmonise.spec import RegistrySpec


@pytest.fixture
def demo_spec() -> RegistrySpec:
    return read_registry_spec(FIXTURES / "demo.yaml")


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(FIXTURES / "demo", folder)
    return folder


@pytest.fixture
def demo_raw(demo_spec, demo_dir):
    return read_registry(demo_spec, demo_dir)
