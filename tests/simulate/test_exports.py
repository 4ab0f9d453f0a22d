from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.conf.simulation import to_simulation_spec
from sma_response.simulate import exports
from sma_response.simulate.cohort import simulate_patients
from sma_response.simulate.dataset import dataset_files
from sma_response.simulate.exports import csv_bytes, dutch_type, export_registries, xlsx_bytes
from sma_response.simulate.params import MILESTONES
from sma_response.simulate.registries import RegistryData, observe_registries
from sma_response.simulate.spec import SimulationSpec, SimulationSpecError

DMY = r"^\d{2}\.\d{2}\.\d{4}$"
ISO = r"^\d{4}-\d{2}-\d{2}$"
MDY = r"^\d{2}/\d{2}/\d{4}$"
YM = r"^\d{4}-\d{2}$"


@pytest.fixture(scope="module")
def spec() -> SimulationSpec:
    raw = OmegaConf.load(CONFIG_DIR / "simulation" / "default.yaml")
    del raw["defaults"]
    raw.n_patients = 1200
    raw.chunk_size = 1000
    return to_simulation_spec(raw)


@pytest.fixture(scope="module")
def data(spec: SimulationSpec) -> RegistryData:
    return observe_registries(simulate_patients(spec, seed=11), spec, seed=12)


@pytest.fixture(scope="module")
def files(data: RegistryData, spec: SimulationSpec) -> dict[str, bytes]:
    return export_registries(data, spec=spec)


def _dach(files: dict[str, bytes], name: str) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(files[f"smartcare_dach/{name}"]),
        sep=";",
        encoding="cp1252",
        dtype=str,
        keep_default_na=False,
    )


def test_layout(files: dict[str, bytes]) -> None:
    assert sorted(files) == [
        "cure_pr/cure_pr_export.json",
        "ismac_itu/ismac_itu_export.xlsx",
        "nl_sma/behandelingen.parquet",
        "nl_sma/bezoeken.parquet",
        "nl_sma/gebeurtenissen.parquet",
        "nl_sma/metingen.parquet",
        "nl_sma/patienten.parquet",
        "smartcare_dach/ereignisse.csv",
        "smartcare_dach/patienten.csv",
        "smartcare_dach/therapien.csv",
        "smartcare_dach/untersuchungen.csv",
        "smartcare_dach/visiten.csv",
    ]


def test_export_is_deterministic(
    files: dict[str, bytes], data: RegistryData, spec: SimulationSpec
) -> None:
    assert export_registries(data, spec=spec) == files


def test_dach_csv_quirks(files: dict[str, bytes], data: RegistryData) -> None:
    raw = files["smartcare_dach/patienten.csv"]
    # Windows-1252 (not UTF-8), CRLF line ends, semicolons.
    assert "Präsymptomatische".encode("cp1252") in raw
    assert "Präsymptomatische".encode() not in raw
    assert raw.count(b"\r\n") == raw.count(b"\n")
    assert raw.splitlines()[0].count(b";") == 14
    patients = _dach(files, "patienten.csv")
    assert list(patients.columns) == [
        "Patienten-ID",
        "Aktennummer",
        "Nachname",
        "Vorname",
        "Geburtsdatum",
        "Geschlecht",
        "Zentrum",
        "SMA-Typ",
        "SMN2-Kopien",
        "Symptombeginn (Monate)",
        "Diagnosedatum",
        "Präsymptomatische Diagnose",
        "Einschlussdatum",
        "Status",
        "Datum Ausscheiden",
    ]
    assert len(patients) == len(data.registry("smartcare_dach").patients)
    assert patients["Geburtsdatum"].str.match(DMY).all()
    assert set(patients["Geschlecht"]) == {"w", "m"}
    assert "präsymptomatisch" in set(patients["SMA-Typ"])
    onset = patients["Symptombeginn (Monate)"]
    assert onset.str.fullmatch(r"\d+,\d|k\.A\.").all()
    assert (onset == "k.A.").any()
    visits = _dach(files, "visiten.csv")
    assert visits["Gewicht kg"].str.fullmatch(r"\d+,\d|k\.A\.").all()
    assert set(visits["Freies Sitzen"]) <= {"ja", "nein", "k.A."}
    tests = _dach(files, "untersuchungen.csv")
    assert list(tests.columns) == [
        "Patienten-ID",
        "Untersuchungsdatum",
        "Test",
        "Gesamtwert",
        "Einheit",
    ]
    assert (tests["Gesamtwert"] == "k.A.").any()
    assert set(tests["Test"]) == {"CHOP-INTEND", "HINE-2", "HFMSE", "RULM", "6MWT"}
    assert tests["Untersuchungsdatum"].str.match(DMY).all()
    therapies = _dach(files, "therapien.csv")
    assert set(therapies["Therapie"]) <= {"Spinraza", "Evrysdi", "Zolgensma"}
    events = _dach(files, "ereignisse.csv")
    names = {"Tod", "Dauerbeatmung", "Ernährungssonde", "Skoliose-OP", "Verlust der Gehfähigkeit"}
    assert set(events["Ereignis"]) <= names
    assert "Ernährungssonde" in set(events["Ereignis"])
    assert events["Datum"].str.match(DMY).all()
    # pandas reads the decimal comma as a number once told.
    parsed = pd.read_csv(
        io.BytesIO(files["smartcare_dach/visiten.csv"]),
        sep=";",
        decimal=",",
        encoding="cp1252",
        na_values=["k.A."],
    )
    assert parsed["Gewicht kg"].dtype == float


def test_ismac_xlsx_quirks(
    files: dict[str, bytes], data: RegistryData, spec: SimulationSpec
) -> None:
    raw = files["ismac_itu/ismac_itu_export.xlsx"]
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert "2026-07-02T00:00:00Z" in core
    book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)
    assert book.sheetnames == ["Patients", "Visits", "Treatments", "Events"]
    rows = list(book["Visits"].iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:2] == ["Patient ID", "Visit Date"]
    assert header[2:8] == ["CHOP_TOT", "HINE2_TOT", "HFMSE_TOT", "RHS_TOT", "RULM_TOT", "6MWT_M"]
    assert "MFM32_TOT" not in header
    assert any(v == "NA" for row in rows[1:50] for v in row)
    visits = pd.DataFrame(rows[1:], columns=header)
    part = data.registry("ismac_itu")
    # Wide: one row per visit, scores in numeric cells.
    assert len(visits) == len(part.visits)
    assert not visits.duplicated(["Patient ID", "Visit Date"]).any()
    hfmse = pd.to_numeric(visits["HFMSE_TOT"].replace("NA", np.nan))
    expected = part.assessments.loc[part.assessments["scale"] == "hfmse", "score"]
    assert hfmse.notna().sum() == expected.notna().sum()
    assert visits["Visit Date"].str.match(ISO).all()
    patients = pd.read_excel(
        io.BytesIO(raw), sheet_name="Patients", keep_default_na=False, dtype=str
    )
    assert set(patients["Sex"]) == {"Male", "Female"}
    assert "3 (unknown subtype)" in set(patients["SMA Type"])
    # A child treated before symptoms has no type (it is defined by the untreated course).
    types = {"0", "1", "2", "3a", "3b", "3 (unknown subtype)", "4", "NA"}
    assert set(patients["SMA Type"]) <= types
    untyped = patients["SMA Type"] == "NA"
    assert untyped.any()
    assert (patients.loc[untyped, "Presymptomatic Diagnosis"] != "No").all()
    assert patients["Date of Birth"].str.match(ISO).all()


def test_xlsx_splits_sheets_at_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 4)
    frame = pd.DataFrame({"a": np.arange(7.0), "b": list("abcdefg")})
    raw = xlsx_bytes({"Data": frame}, missing="NA", created="2026-01-01T00:00:00Z", creator="t")
    book = pd.read_excel(io.BytesIO(raw), sheet_name=None)
    assert list(book) == ["Data", "Data (2)", "Data (3)"]
    assert pd.concat(book.values(), ignore_index=True)["b"].tolist() == list("abcdefg")


def test_nl_parquet_quirks(files: dict[str, bytes], data: RegistryData) -> None:
    patients = pd.read_parquet(io.BytesIO(files["nl_sma/patienten.parquet"]))
    assert set(patients["geslacht"]) == {"V", "M"}
    assert patients["geboortedatum"].str.match(ISO).all()
    types = set(patients["sma_type"].dropna())
    assert types <= {"0", "1", "1a", "1b", "1c", "2a", "2b", "3a", "3b", "4"}
    assert types & {"1a", "1b", "1c"}
    assert types & {"2a", "2b"}
    assert "2" not in types
    visits = pd.read_parquet(io.BytesIO(files["nl_sma/bezoeken.parquet"]))
    per_day = data.registry("nl_sma").visits["ventilation_hours_per_day"].to_numpy()
    np.testing.assert_array_equal(visits["beademing_uur_per_week"].to_numpy(), per_day * 7.0)
    measurements = pd.read_parquet(io.BytesIO(files["nl_sma/metingen.parquet"]))
    assert "MFM-32" in set(measurements["meetinstrument"])
    assert measurements["bezoekdatum"].str.match(ISO).all()
    # No pandas schema metadata: what any registry (not only a pandas user) would write.
    schema = pq.read_schema(io.BytesIO(files["nl_sma/patienten.parquet"]))
    assert b"pandas" not in (schema.metadata or {})


def test_cure_json_quirks(files: dict[str, bytes], data: RegistryData) -> None:
    text = files["cure_pr/cure_pr_export.json"].decode("utf-8")
    records = json.loads(text)
    part = data.registry("cure_pr")
    assert len(records) == len(part.patients)
    ids = [r["participant_id"] for r in records]
    assert ids == sorted(ids)
    types = {r["sma_type"] for r in records}
    assert types <= {"0", "I", "II", "III", "III (unsure)", "IV", -99}
    assert {"I", "II", "III"} <= types
    assert "III (unsure)" in types
    assert -99 in types
    assert -99 in {r["smn2_copies"] for r in records}
    assert all(re.match(MDY, r["date_of_birth"]) for r in records)
    assert all(r["diagnosis_date"] == -99 or re.match(YM, r["diagnosis_date"]) for r in records)
    surveys = [s for r in records for s in r["surveys"]]
    assert len(surveys) == len(part.visits)
    assert all(re.match(MDY, s["survey_date"]) for s in surveys)
    checklist = {f"{m}_{k}" for m in MILESTONES for k in ("ever_achieved", "currently_able")}
    assert all(set(s["milestones"]) == checklist for s in surveys)
    events = [e for r in records for e in r["events"]]
    assert events
    assert all(re.match(YM, e["date"]) for e in events)
    # Weight in pounds.
    kg = part.visits["weight_kg"].to_numpy()
    lb = np.array([np.nan if s["weight_lb"] == -99 else s["weight_lb"] for s in surveys])
    known = ~np.isnan(kg)
    np.testing.assert_allclose(lb[known], np.round(kg[known] * 2.20462, 1))
    assert np.isnan(lb[~known]).all()
    assert (~known).any()
    # Patient-reported: no clinician scale anywhere.
    for scale in ("hfmse", "chop", "rulm", "hine", "6mwt", "score"):
        assert scale not in text.lower()


def test_identifiers_present_in_every_export(files: dict[str, bytes], data: RegistryData) -> None:
    for registry, key in (
        ("smartcare_dach", "smartcare_dach/patienten.csv"),
        ("ismac_itu", "ismac_itu/ismac_itu_export.xlsx"),
        ("nl_sma", "nl_sma/patienten.parquet"),
        ("cure_pr", "cure_pr/cure_pr_export.json"),
    ):
        person = data.registry(registry).patients.iloc[0]
        if key.endswith(".csv"):
            text = files[key].decode("cp1252")
        elif key.endswith(".xlsx"):
            text = pd.read_excel(io.BytesIO(files[key]), sheet_name="Patients", dtype=str).to_csv()
        elif key.endswith(".parquet"):
            text = pd.read_parquet(io.BytesIO(files[key])).to_csv()
        else:
            text = files[key].decode("utf-8")
        for value in (person["first_name"], person["last_name"], person["record_number"]):
            assert value in text, (registry, value)
        birth = pd.Timestamp(person["birth_date"])
        assert any(birth.strftime(f) in text for f in ("%d.%m.%Y", "%Y-%m-%d", "%m/%d/%Y")), (
            registry
        )


def test_unknown_export_format_names_the_key(spec: SimulationSpec, data: RegistryData) -> None:
    registries = [
        *spec.registries[:2],
        dataclasses.replace(spec.registries[2], export_format="sas7bdat"),
    ]
    with pytest.raises(SimulationSpecError, match=r"simulation\.registries\[2\]\.export_format"):
        export_registries(data, spec=dataclasses.replace(spec, registries=registries))


def test_dutch_type_classes() -> None:
    got = dutch_type(
        np.array(["1", "1", "1", "1", "2", "2", "0", None], dtype=object),
        np.array([3.0, 40.0, 150.0, np.nan, 300.0, 300.0, 0.0, 10.0]),
        np.array([False, False, False, False, False, True, False, False]),
    )
    assert got.tolist() == ["1a", "1b", "1c", "1", "2a", "2b", "0", None]


def test_csv_bytes_quotes_only_where_needed() -> None:
    table = pa.table({"a;b": ["x", 'say "hi"', "1;2", None], "n": [1, 2, None, 4]})
    raw = csv_bytes(table, sep=";", missing="k.A.", encoding="cp1252", lineterminator="\r\n")
    assert raw.decode("cp1252").split("\r\n") == [
        '"a;b";n',
        "x;1",
        '"say ""hi""";2',
        '"1;2";k.A.',
        "k.A.;4",
        "",
    ]
    back = pd.read_csv(io.BytesIO(raw), sep=";", encoding="cp1252", na_values=["k.A."])
    assert back["a;b"].tolist()[:3] == ["x", 'say "hi"', "1;2"]


def test_xlsx_escapes_markup_and_writes_numbers() -> None:
    table = pa.table({"text": ["a & b", "<c>", None], "value": [1.5, None, 3.0]})
    raw = xlsx_bytes({"S": table}, missing="NA", created="2026-01-01T00:00:00Z", creator="t")
    rows = list(openpyxl.load_workbook(io.BytesIO(raw)).active.iter_rows(values_only=True))
    assert rows == [("text", "value"), ("a & b", 1.5), ("<c>", "NA"), ("NA", 3)]


def test_tiny_dataset_with_empty_registries(spec: SimulationSpec) -> None:
    tiny = dataclasses.replace(spec, n_patients=2)
    sim = simulate_patients(tiny, seed=0)
    data = observe_registries(sim, tiny, seed=0)
    files = dataset_files(sim, data, spec=tiny, seed=0, package_version="test")
    empty = [r.name for r in tiny.registries if not (data.patients["registry"] == r.name).any()]
    assert empty, "expected at least one registry without patients"
    assert "smartcare_dach/patienten.csv" in files
    if "smartcare_dach" in empty:
        assert files["smartcare_dach/patienten.csv"].count(b"\r\n") == 1  # header only
    if "cure_pr" in empty:
        assert json.loads(files["cure_pr/cure_pr_export.json"]) == []
    assert "ground_truth/counterfactuals.parquet" in files
