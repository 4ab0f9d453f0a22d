from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.conf.store import register_configs
from sma_response.pipelines.simulate import SimulationResult, run_simulation
from sma_response.simulate.dataset import write_dataset
from sma_response.simulate.spec import SimulationSpecError

N_PATIENTS = 250


@pytest.fixture(scope="module")
def compose_cfg() -> Iterator[object]:
    """Compose ``simulate.yaml`` with overrides (the CLI's config, without running Hydra)."""
    register_resolvers()
    register_configs()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):

        def make(data_dir: Path, *overrides: str) -> DictConfig:
            return compose(
                config_name="simulate",
                overrides=[
                    f"simulation.n_patients={N_PATIENTS}",
                    "simulation.chunk_size=1000",
                    # More sharing than the default, so a small dataset has shared patients.
                    "simulation.registries.3.share_fraction=0.2",
                    f"paths.data_dir={data_dir}",
                    "progress=false",
                    *overrides,
                ],
            )

        yield make


@pytest.fixture(scope="module")
def first_run(compose_cfg, tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return run_simulation(compose_cfg(tmp_path_factory.mktemp("run1")))


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_result_and_layout(first_run: SimulationResult) -> None:
    folder = first_run.output_dir
    assert folder.name == "default"
    assert folder.parent.name == "raw"
    assert first_run.n_patients == N_PATIENTS
    assert set(first_run.registries["registry"]) == {
        "smartcare_dach",
        "ismac_itu",
        "nl_sma",
        "cure_pr",
    }
    assert (first_run.registries["patients"] > 0).all()
    assert (first_run.registries["visits"] > 0).all()
    assert first_run.n_shared > 0
    files = set(_tree(folder))
    assert {
        "README.md",
        "manifest.json",
        "ground_truth/patients.parquet",
        "ground_truth/registry_links.parquet",
        "ground_truth/counterfactuals.parquet",
        "ground_truth/shared_patients.parquet",
        "smartcare_dach/patienten.csv",
        "ismac_itu/ismac_itu_export.xlsx",
        "nl_sma/patienten.parquet",
        "cure_pr/cure_pr_export.json",
    } <= files
    # Nothing but the dataset folder is left in raw/ (no temporary folders).
    assert [p.name for p in folder.parent.iterdir()] == ["default"]


def test_same_seed_gives_byte_identical_files(
    first_run: SimulationResult, compose_cfg, tmp_path: Path
) -> None:
    again = run_simulation(compose_cfg(tmp_path))
    assert _tree(again.output_dir) == _tree(first_run.output_dir)


def test_other_seed_gives_other_files(
    first_run: SimulationResult, compose_cfg, tmp_path: Path
) -> None:
    other = _tree(run_simulation(compose_cfg(tmp_path, "seed=1")).output_dir)
    first = _tree(first_run.output_dir)
    for path in (
        "smartcare_dach/untersuchungen.csv",
        "cure_pr/cure_pr_export.json",
        "ground_truth/patients.parquet",
    ):
        assert other[path] != first[path], path


def test_manifest(first_run: SimulationResult) -> None:
    tree = _tree(first_run.output_dir)
    manifest = json.loads(tree.pop("manifest.json"))
    assert manifest["dataset"] == "default"
    assert manifest["seed"] == 0
    assert manifest["n_patients"] == N_PATIENTS
    assert len(manifest["config_digest"]) == 64
    assert manifest["package_version"]
    assert set(manifest["files"]) == set(tree)
    for path, content in tree.items():
        assert manifest["files"][path]["sha256"] == hashlib.sha256(content).hexdigest()
    readme = tree["README.md"].decode()
    assert "Never read this folder in training" in readme


def test_ground_truth_holds_no_identifiers(first_run: SimulationResult) -> None:
    folder = first_run.output_dir
    dach = pd.read_csv(
        folder / "smartcare_dach" / "patienten.csv", sep=";", encoding="cp1252", dtype=str
    )
    nl = pd.read_parquet(folder / "nl_sma" / "patienten.parquet")
    identifiers = (
        set(dach["Nachname"])
        | set(dach["Vorname"])
        | set(dach["Aktennummer"])
        | set(dach["Geburtsdatum"])
    )
    identifiers |= (
        set(nl["achternaam"])
        | set(nl["voornaam"])
        | set(nl["ziekenhuisnummer"])
        | set(nl["geboortedatum"])
    )
    for table in ("patients", "registry_links", "counterfactuals", "shared_patients"):
        frame = pd.read_parquet(folder / "ground_truth" / f"{table}.parquet")
        for column in frame.columns:
            assert not any(word in column for word in ("name", "record", "birth_date", "dob")), (
                table,
                column,
            )
            assert not pd.api.types.is_datetime64_any_dtype(frame[column]), (table, column)
            if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
                values = set(frame[column].dropna().astype(str))
                assert not values & identifiers, (table, column)
    patients = pd.read_parquet(folder / "ground_truth" / "patients.parquet")
    assert "birth_year" in patients.columns
    assert "birth_year_decimal" not in patients.columns


def test_ground_truth_links_and_counterfactuals(first_run: SimulationResult) -> None:
    folder = first_run.output_dir
    links = pd.read_parquet(folder / "ground_truth" / "registry_links.parquet")
    dach = pd.read_csv(
        folder / "smartcare_dach" / "patienten.csv", sep=";", encoding="cp1252", dtype=str
    )
    assert set(dach["Patienten-ID"]) == set(
        links.loc[links["registry"] == "smartcare_dach", "local_id"]
    )
    assert links["local_id"].is_unique
    shared = pd.read_parquet(folder / "ground_truth" / "shared_patients.parquet")
    assert len(shared) == first_run.n_shared == int(links["shared"].sum())
    cf = pd.read_parquet(folder / "ground_truth" / "counterfactuals.parquet")
    assert len(cf) == N_PATIENTS * 4 * 7
    assert set(cf["option"]) == {"nusinersen", "risdiplam", "onasemnogene", "untreated"}
    assert set(cf["index_kind"]) <= {"first_therapy", "first_visit", "diagnosis"}


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("simulation.n_patients=-5", "simulation.n_patients"),
        ("simulation.registries.0.scales=[hfmse,gmfm]", "simulation.registries[0].scales"),
        ("+simulation.regions.0.therapy_weight.zolgensma=1.0", "simulation.regions[0]"),
        ("simulation.registries.1.region=XX", "simulation.registries[1].region"),
        ("simulation.registries.2.export_format=sas", "simulation.registries[2].export_format"),
    ],
)
def test_bad_config_names_the_key_and_writes_nothing(
    compose_cfg, tmp_path: Path, override: str, key: str
) -> None:
    cfg = compose_cfg(tmp_path / "data", override)
    with pytest.raises(SimulationSpecError, match=re.escape(key)):
        run_simulation(cfg)
    assert not (tmp_path / "data").exists()


def test_config_is_not_modified(compose_cfg, tmp_path: Path) -> None:
    cfg = compose_cfg(tmp_path, "simulation.n_patients=100")
    before = OmegaConf.to_yaml(cfg)
    run_simulation(cfg)
    assert OmegaConf.to_yaml(cfg) == before
    assert not OmegaConf.is_readonly(cfg)


def test_write_dataset_crash_keeps_previous_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "raw" / "default"
    write_dataset(folder, {"a.txt": b"old"})
    with pytest.raises(TypeError):
        write_dataset(folder, {"b.txt": b"new", "c.txt": "not bytes"})  # type: ignore[dict-item]
    assert _tree(folder) == {"a.txt": b"old"}
    assert [p.name for p in folder.parent.iterdir()] == ["default"]


def test_parquet_ground_truth_reads_without_pandas_metadata(first_run: SimulationResult) -> None:
    raw = (first_run.output_dir / "ground_truth" / "patients.parquet").read_bytes()
    frame = pd.read_parquet(io.BytesIO(raw))
    assert frame["person_id"].tolist() == list(range(N_PATIENTS))
