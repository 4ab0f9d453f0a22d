"""Harmonising the hand-written demo registry: values, corrections, quarantine, accounting."""

from __future__ import annotations

import pandas as pd
import pytest
from tests._fixtures.harmonise_data import KEY

from sma_response.harmonise.harmonise import FILE_TABLE, harmonise_registry
from sma_response.harmonise.pseudonym import pseudonymise
from sma_response.harmonise.quality import check_accounting
from sma_response.schemas import validate_cdm

IDENTIFIERS = [
    "Anna",
    "Müller",
    "Bert",
    "Kunz",
    "Carl",
    "Zorn",
    "Dora",
    "Lind",
    "KIS-100",
    "01.02.2019",
    "15.03.2018",
    "31.02.2018",
    "20.05.2017",
]


@pytest.fixture
def demo(demo_raw):
    return harmonise_registry(demo_raw, key=KEY)


def pid(local: str) -> str:
    return pseudonymise(pd.Series([local]), registry="demo", key=KEY)[0]


def test_tables_validate_and_accounting_holds(demo) -> None:
    validate_cdm(demo.tables)
    check_accounting(demo.accounting)
    acc = demo.accounting.set_index(["file", "table"])
    assert acc.loc[("patienten.csv", "patients")].tolist()[1:] == [4, 2, 1, 1]
    assert acc.loc[("visiten.csv", FILE_TABLE), "n_quarantined"] == 1  # the blank row


def test_patient_values(demo) -> None:
    p = demo.tables["patients"].set_index("patient_id")
    p1, p4 = p.loc[pid("P1")], p.loc[pid("P4")]
    assert (p1["sex"], p1["sma_type"], p1["smn2_copies"], p1["birth_year"]) == ("F", "3a", 3, 2019)
    assert p1["onset_age_days"] == (pd.Timestamp("2019-08-15") - pd.Timestamp("2019-02-01")).days
    assert p4["sma_type"] == "3"
    assert pd.isna(p4["smn2_copies"])
    assert pid("P3") not in p.index  # impossible birth date: quarantined
    assert set(p["linked_id"]) == set(p.index)


def test_corrections_are_counted_per_rule(demo) -> None:
    rules = demo.corrections.groupby(["table", "rule"])["n_rows"].sum().to_dict()
    assert rules[("patients", "partial_date")] == 1
    assert rules[("treatments", "code_synonym")] == 1
    assert rules[("clinical_status", "unit:lb->kg")] >= 2
    assert rules[("clinical_status", "unit:hours_per_week->hours_per_day")] >= 2
    status = demo.tables["clinical_status"].set_index("patient_id")
    p2 = status.loc[pid("P2")].sort_values("age_days")
    assert p2["ventilation_hours_per_day"].iloc[0] == pytest.approx(10.0)
    assert p2["weight_kg"].iloc[0] == pytest.approx(8.8 * 0.45359237)


def test_quarantine_rules(demo) -> None:
    rej = demo.rejects
    rules = set(zip(rej["table"], rej["rule"], strict=True))
    assert ("patients", "invalid_date") in rules
    assert ("treatments", "before_birth") in rules  # therapy started before birth
    assert ("assessments", "schema:score_in_scale_range") in rules  # CHOP 99
    assert ("assessments", "unknown_patient") in rules  # P9
    assert ("assessments", "before_birth") in rules
    assert ("assessments", "duplicate_row") in rules  # row 8 repeats row 2
    assert ("milestones", "unknown_code") in rules  # "vielleicht"
    assert (FILE_TABLE, "empty_row") in rules
    chop = rej.loc[rej["rule"] == "schema:score_in_scale_range"].iloc[0]
    assert (chop["file"], chop["row"], chop["column"], chop["value"]) == (
        "visiten.csv",
        4,
        "CHOP",
        "99",
    )


def test_no_identifier_in_tables_or_rejects(demo) -> None:
    for frame in [*demo.tables.values(), demo.rejects, demo.accounting, demo.corrections]:
        text = frame.astype(str).to_csv()
        for ident in IDENTIFIERS:
            assert ident not in text
    birth = demo.rejects.loc[demo.rejects["rule"] == "invalid_date", "value"].iloc[0]
    assert birth == "<redacted: Geburtsdatum>"


def test_missing_mapped_column_quarantines_the_file(demo_spec, demo_dir) -> None:
    from sma_response.harmonise.io import read_registry

    path = demo_dir / "ereignisse.csv"
    path.write_bytes(b"Pat-Nr;Datum\r\nP2;01.07.2019\r\n")
    out = harmonise_registry(read_registry(demo_spec, demo_dir), key=KEY)
    rej = out.rejects.loc[out.rejects["file"] == "ereignisse.csv"]
    assert rej["rule"].tolist() == ["missing_column"]
    assert "Ereignis" in rej["reason"].iloc[0]
    check_accounting(out.accounting)
    assert out.tables["events"].empty


def test_pure_input_unchanged(demo_raw) -> None:
    before = {f.path: f.parts[""].copy() for f in demo_raw.files}
    harmonise_registry(demo_raw, key=KEY)
    for f in demo_raw.files:
        pd.testing.assert_frame_equal(f.parts[""], before[f.path])
