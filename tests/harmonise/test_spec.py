from __future__ import annotations

from pathlib import Path

import pytest

from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.harmonise.io import read_registry_spec
from sma_response.harmonise.spec import RegistrySpecError, parse_registry_spec

REGISTRY_YAMLS = sorted((CONFIG_DIR / "registry").glob("*.yaml"))


def _minimal(**files_extra):
    return {
        "name": "demo",
        "region": "DE",
        "files": {
            "patients": {
                "pattern": "p.csv",
                "reader": {"format": "csv"},
                "columns": {"id": "local_id", "dob": "birth_date"},
                **files_extra,
            }
        },
    }


@pytest.mark.parametrize("path", REGISTRY_YAMLS, ids=lambda p: p.stem)
def test_shipped_mappings_parse(path: Path) -> None:
    spec = read_registry_spec(path)
    assert spec.name == path.stem
    assert "patients" in spec.tables


def test_four_registries_ship() -> None:
    assert {p.stem for p in REGISTRY_YAMLS} >= {"smartcare_dach", "ismac_itu", "nl_sma", "cure_pr"}


def test_wide_columns_name_their_code() -> None:
    data = _minimal()
    data["files"]["visits"] = {
        "pattern": "v.csv",
        "reader": {"format": "csv"},
        "columns": {
            "id": "local_id",
            "date": "visit_date",
            "HFMSE": "score[hfmse]",
            "kg": "weight_kg",
        },
    }
    spec = parse_registry_spec(data)
    visits = spec.files[1]
    assert visits.tables == ("assessments", "clinical_status")
    hfmse = next(c for c in visits.columns if c.source == "HFMSE")
    assert (hfmse.field, hfmse.key) == ("score", "hfmse")


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (
            lambda d: d["files"]["patients"]["columns"].update({"x": "nonsense"}),
            "files.patients.columns.x",
        ),
        (
            lambda d: d["files"]["patients"]["reader"].update({"format": "sav"}),
            "files.patients.reader.format",
        ),
        (lambda d: d["files"]["patients"]["columns"].pop("id"), "files.patients.columns"),
        (
            lambda d: d["files"]["patients"]["columns"].update(
                {"w": {"field": "weight_kg", "unit": "stone"}}
            ),
            "files.patients.columns.w.unit",
        ),
        (lambda d: d.update({"dates": {"partial_rule": "sometime"}}), "dates.partial_rule"),
        (lambda d: d.update({"dates": {"export_date": "July 2026"}}), "dates.export_date"),
        (
            lambda d: d["files"]["patients"].update({"pattern": "../../../../etc/pass*"}),
            "files.patients.pattern",
        ),
        (
            lambda d: d["files"]["patients"].update({"pattern": "/etc/passwd"}),
            "files.patients.pattern",
        ),
        (lambda d: d.update({"colour": "blue"}), "colour"),
        (lambda d: d.update({"codes": {"weight_kg": {"a": 1}}}), "codes.weight_kg"),
        (lambda d: d.pop("region"), "region"),
        (
            lambda d: d["files"]["patients"]["reader"].update({"delimiter": ";;"}),
            "files.patients.reader.delimiter",
        ),
    ],
)
def test_errors_name_the_yaml_key(mutate, key: str) -> None:
    data = _minimal()
    mutate(data)
    with pytest.raises(RegistrySpecError) as err:
        parse_registry_spec(data, source="reg.yaml")
    assert str(err.value).startswith(f"reg.yaml: {key}")


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nfiles: [a, b\n", encoding="utf-8")
    with pytest.raises(RegistrySpecError, match=r"broken.yaml: not valid YAML at line"):
        read_registry_spec(path)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(RegistrySpecError, match="cannot read registry mapping"):
        read_registry_spec(tmp_path / "nope.yaml")
