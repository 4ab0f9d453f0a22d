"""Reading exports: row numbers, and bad files that become clear messages, never tracebacks."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sma_response.harmonise import io as io_module
from sma_response.harmonise.io import ROW, RawFile, _read_xlsx, _read_xlsx_openpyxl, read_registry
from sma_response.harmonise.spec import parse_registry_spec


def _spec(fmt: str, columns: dict, **reader):
    return parse_registry_spec(
        {
            "name": "t",
            "region": "X",
            "dates": {"format": "%Y-%m-%d"},
            "files": {
                "patients": {
                    "pattern": f"*.{fmt}",
                    "reader": {"format": fmt, **reader},
                    "columns": columns,
                }
            },
        }
    )


CSV_COLUMNS = {"id": "local_id", "dob": "birth_date", "sex": "sex"}


def _read_csv_text(tmp_path: Path, data: bytes, **reader) -> RawFile:
    (tmp_path / "p.csv").write_bytes(data)
    raw = read_registry(_spec("csv", CSV_COLUMNS, **reader), tmp_path)
    (file,) = raw.files
    return file


def test_csv_row_numbers_count_the_header_and_skip_blank_lines(tmp_path: Path) -> None:
    f = _read_csv_text(tmp_path, b"id,dob,sex\nA,2020-01-01,F\n\nB,2020-01-02,M\n")
    assert f.error is None
    assert f.parts[""][ROW].tolist() == [2, 4]
    assert f.n_rows == 2


def test_wrong_field_count_is_a_bad_row_with_its_line(tmp_path: Path) -> None:
    f = _read_csv_text(
        tmp_path,
        b"id,dob,sex\nA,2020-01-01,F\nB,2020-01-02\nC,2020-01-03,F,extra\nD,2020-01-04,M\n",
    )
    assert f.parts[""][ROW].tolist() == [2, 5]
    assert f.bad_rows["row"].tolist() == [3, 4]
    assert set(f.bad_rows["rule"]) == {"wrong_field_count"}
    assert f.n_rows == 4


def test_truncated_file_quarantines_its_last_row(tmp_path: Path) -> None:
    # cut inside a row: too few fields
    f = _read_csv_text(tmp_path, b"id,dob,sex\nA,2020-01-01,F\nB,2020-01-0")
    assert f.parts[""][ROW].tolist() == [2]
    assert f.bad_rows["rule"].tolist() == ["wrong_field_count"]
    # cut inside the last field: the row looks whole, but the file lacks its final line break
    f = _read_csv_text(tmp_path, b"id,dob,sex\nA,2020-01-01,F\nB,2020-01-02,F")
    assert f.parts[""][ROW].tolist() == [2]
    assert f.bad_rows["rule"].tolist() == ["truncated_file"]
    assert f.bad_rows["row"].tolist() == [3]


def test_wrong_delimiter_is_named(tmp_path: Path) -> None:
    f = _read_csv_text(tmp_path, b"id;dob;sex\nA;2020-01-01;F\n", delimiter=",")
    assert f.error_rule == "wrong_delimiter"
    assert "';'" in f.error
    assert f.n_rows == 1


def test_empty_file(tmp_path: Path) -> None:
    f = _read_csv_text(tmp_path, b"")
    assert f.error_rule == "empty_file"


def test_utf8_file_declared_cp1252_is_read_as_utf8_and_marked(tmp_path: Path) -> None:
    f = _read_csv_text(tmp_path, "id,dob,sex\nÄ1,2020-01-01,F\n".encode(), encoding="cp1252")
    assert f.error is None
    assert f.parts[""]["id"].tolist() == ["Ä1"]
    assert f.corrections == ["encoding:utf-8"]


def test_undecodable_bytes_are_a_file_error(tmp_path: Path) -> None:
    f = _read_csv_text(tmp_path, b"id,dob,sex\nA\x81\x8d,2020-01-01,F\n\x9d\n", encoding="cp1252")
    assert f.error_rule == "wrong_encoding"
    assert "line 2" in f.error


def test_no_file_matching_is_a_note(tmp_path: Path) -> None:
    raw = read_registry(_spec("csv", CSV_COLUMNS), tmp_path)
    assert raw.files == []
    assert any("no file matches" in n for n in raw.notes)


def _workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["id", "dob", "score", "flag", "note"])
    sheet.append(["A", dt.datetime(2020, 1, 2), 12, True, "x & y"])
    sheet.append(["B", dt.datetime(2021, 3, 4), 2.5, False, None])
    sheet.append([None, None, None, None, None])
    sheet.append(["C", "2019-05-06", "NA", None, "3"])
    book.save(path)


def test_xlsx_vectorised_reader_matches_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    _workbook(path)
    spec = _spec(
        "xlsx", {"id": "local_id", "dob": "birth_date", "score": "smn2_copies"}, sheet="Data"
    ).files[0]
    fast, slow = RawFile(path="b", spec=spec), RawFile(path="b", spec=spec)
    _read_xlsx(path, spec, fast)
    _read_xlsx_openpyxl(path, spec, slow, "Data")
    assert fast.error is None
    assert fast.parts[""][ROW].tolist() == [2, 3, 5]
    pd.testing.assert_frame_equal(fast.parts[""].astype(str), slow.parts[""].astype(str))
    assert fast.parts[""]["note"].tolist()[0] == "x & y"


def test_xlsx_damaged_and_missing_sheet(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    _workbook(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    raw = read_registry(
        _spec("xlsx", {"id": "local_id", "dob": "birth_date"}, sheet="Data"), tmp_path
    )
    assert raw.files[0].error_rule == "unreadable_file"
    _workbook(path)
    raw = read_registry(
        _spec("xlsx", {"id": "local_id", "dob": "birth_date"}, sheet="Nope"), tmp_path
    )
    assert raw.files[0].error_rule == "missing_sheet"
    assert "Data" in raw.files[0].error


def test_parquet_truncated(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pd.DataFrame({"id": ["A"], "dob": ["2020-01-01"]}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:-20])
    raw = read_registry(_spec("parquet", {"id": "local_id", "dob": "birth_date"}), tmp_path)
    assert raw.files[0].error_rule == "unreadable_file"


def test_json_nested_levels_and_truncation(tmp_path: Path) -> None:
    records = [
        {
            "id": "A",
            "dob": "2020-01-01",
            "visits": [{"d": "2020-02-01", "w": 4}, {"d": "2020-03-01", "w": -99}],
        },
        {"id": "B", "dob": "2020-01-05", "visits": []},
        "not an object",
    ]
    (tmp_path / "e.json").write_text(json.dumps(records), encoding="utf-8")
    spec = _spec(
        "json",
        {
            "id": "local_id",
            "dob": "birth_date",
            "visits[].d": "visit_date",
            "visits[].w": "weight_kg",
        },
    )
    (f,) = read_registry(spec, tmp_path).files
    visits = f.parts["visits[]"]
    assert visits[ROW].tolist() == [1, 1]
    assert visits["id"].tolist() == ["A", "A"]
    assert visits["visits[].w"].tolist() == ["4", "-99"]  # numbers stay text, as in a CSV
    assert f.bad_rows["row"].tolist() == [3]
    (tmp_path / "e.json").write_text(json.dumps(records)[:-15], encoding="utf-8")
    (f,) = read_registry(spec, tmp_path).files
    assert f.error_rule == "truncated_file"
    assert "line 1" in f.error


def test_reader_never_raises_on_garbage(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for fmt in ("csv", "xlsx", "parquet", "json"):
        (tmp_path / f"g.{fmt}").write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
        raw = read_registry(_spec(fmt, {"id": "local_id", "dob": "birth_date"}), tmp_path)
        assert len(raw.files) == 1


def test_a_link_out_of_the_export_folder_is_not_read(tmp_path: Path) -> None:
    """A file pattern only ever reads inside the registry's folder, links included."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.csv").write_text("id,dob,sex\nA1,2020-01-01,F\n", encoding="utf-8")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "patients.csv").symlink_to(outside / "secret.csv")
    raw = read_registry(_spec("csv", CSV_COLUMNS), folder)
    assert raw.files == []
    assert "t: patients.csv leads outside the export folder: not read" in raw.notes


def test_a_nul_byte_quarantines_its_row_not_the_file(tmp_path: Path) -> None:
    """One corrupted surname used to make the whole patients file (so every table) unusable."""
    raw = _read_csv_text(
        tmp_path, b"id,dob,sex\nA1,2020-01-01,F\nA2,2020-01-02,M\x00\nA3,2020-01-03,F\n"
    )
    assert raw.error is None
    assert raw.parts[""]["id"].tolist() == ["A1", "A3"]
    assert raw.bad_rows[["row", "rule"]].values.tolist() == [[3, "nul_byte"]]
    assert raw.n_rows == 3  # in = accepted + quarantined


def test_a_utf16_file_without_bom_is_still_a_file_error(tmp_path: Path) -> None:
    raw = _read_csv_text(tmp_path, "id,dob,sex\nA1,2020-01-01,F\n".encode("utf-16-le"))
    assert raw.error_rule == "wrong_encoding"


def test_json_nesting_that_differs_from_the_mapping_quarantines_the_record(tmp_path: Path) -> None:
    """issue #16.6: a list level given as an object (or a path through a number) is a bad row."""
    records = [
        {"id": "A", "dob": "2020-01-01", "visits": [{"d": "2020-02-01", "m": {"sit": "1"}}]},
        {"id": "B", "dob": "2020-01-05", "visits": {"d": "2020-02-01"}},  # an object, not a list
        {"id": "C", "dob": "2020-01-06", "visits": [{"d": "2020-03-01", "m": 1}]},  # m: a number
        {"id": "D", "dob": "2020-01-07", "visits": ["2020-03-01"]},  # a list of strings
        {"id": "E", "dob": "2020-01-08", "visits": None},  # null: missing data, not wrong
    ]
    (tmp_path / "e.json").write_text(json.dumps(records), encoding="utf-8")
    spec = _spec(
        "json",
        {"id": "local_id", "dob": "birth_date", "visits[].d": "visit_date",
         "visits[].m.sit": "able[sitting]"},
    )  # fmt: skip
    (f,) = read_registry(spec, tmp_path).files
    assert f.error is None
    assert f.n_rows == 5  # every record is counted: read or quarantined
    assert f.bad_rows["row"].tolist() == [2, 3, 4]
    assert set(f.bad_rows["rule"]) == {"wrong_nesting"}
    reasons = f.bad_rows["reason"].tolist()
    assert reasons[0].startswith("visits is an object, the mapping expects a list of records")
    assert reasons[1].startswith("visits[1].m is a number, the mapping expects an object")
    assert reasons[2].startswith("visits[1] is a string, the mapping expects an object")
    assert "2020" not in " ".join(reasons)  # the reason never quotes a value
    assert f.parts[""]["id"].tolist() == ["A", "E"]
    assert f.parts["visits[]"]["visits[].m.sit"].tolist() == ["1"]


def test_a_csv_without_its_header_line_is_named_so(tmp_path: Path) -> None:
    f = _read_csv_text(tmp_path, b"A,2020-01-01,F\nB,2020-01-02,M\n")
    assert f.error_rule == "no_header"
    assert "looks like data" in f.error
    assert "2020" not in f.error  # described by kind, never by value
    assert f.n_rows == 2  # the first line is a data row too


def test_mixed_encodings_are_read_line_by_line_and_reported(tmp_path: Path) -> None:
    data = "id,dob,sex\nMüller,2020-01-01,F\n".encode() + "Zoë,2020-01-02,M\n".encode("cp1252")
    f = _read_csv_text(tmp_path, data)
    assert f.error is None
    assert f.parts[""]["id"].tolist() == ["Müller", "Zoë"]
    assert "encoding:mixed" in f.corrections
    assert any("1 lines UTF-8, 1 lines cp1252" in n for n in f.notes)
    # one encoding only (cp1252 throughout) is the plain fallback, not "mixed"
    f = _read_csv_text(tmp_path, "id,dob,sex\nZoë,2020-01-02,M\n".encode("cp1252"))
    assert f.corrections == ["encoding:cp1252"]


def test_a_header_of_200000_columns_is_refused_and_duplicates_found_in_one_pass(
    tmp_path: Path,
) -> None:
    names = [f"c{i}" for i in range(200_000)]
    data = ",".join(names) + "\n" + ",".join("1" * len(names)) + "\n"
    f = _read_csv_text(tmp_path, data.encode())
    assert f.error_rule == "file_too_large"
    assert f.error.startswith("200,000 columns: more than the 20,000")
    names = [f"c{i}" for i in range(19_000)] + ["c7", "c9"]  # under the limit: linear check
    data = ",".join(names) + "\n" + ",".join("1" * len(names)) + "\n"
    f = _read_csv_text(tmp_path, data.encode())
    assert f.error_rule == "duplicate_columns"
    assert "['c7', 'c9']" in f.error


def test_a_workbook_that_unzips_beyond_the_limit_is_refused_unread(tmp_path, monkeypatch) -> None:
    """A zip bomb: small on disk, huge once inflated (the limit lowered to keep the test small)."""
    path = tmp_path / "p.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["id", "dob"])
    wb.active.append(["A", "2020-01-01"])
    wb.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/padding.bin", b"\0" * 2_000_000)  # 2 MB, a few kB zipped
    monkeypatch.setattr(io_module, "MAX_INFLATED_BYTES", 1_000_000)
    (f,) = read_registry(_spec("xlsx", {"id": "local_id", "dob": "birth_date"}), tmp_path).files
    assert f.error_rule == "file_too_large"
    assert "unzips to" in f.error
    assert path.stat().st_size < 100_000


def test_a_damaged_parquet_row_group_quarantines_its_records_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame({"id": [f"P{i}" for i in range(100)], "dob": ["2020-01-01"] * 100})
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=40)
    data = bytearray(path.read_bytes())
    start = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data[start : start + 20] = bytes(b ^ 0xFF for b in data[start : start + 20])
    path.write_bytes(bytes(data))
    spec = _spec("parquet", {"id": "local_id", "dob": "birth_date"})
    (f,) = read_registry(spec, tmp_path).files
    assert f.error is None
    assert f.n_rows == 100  # by the footer: every record is counted
    assert f.bad_rows["row"].tolist() == list(range(41, 81))  # the second group, 40 records
    assert set(f.bad_rows["rule"]) == {"unreadable_row_group"}
    assert f.parts[""][ROW].tolist() == [*range(1, 41), *range(81, 101)]
    assert f.parts[""]["id"].iloc[40] == "P80"
    # every group damaged: one file error that still counts the records by the footer
    for group in (0, 2):
        start = pq.ParquetFile(path).metadata.row_group(group).column(0).data_page_offset
        data[start : start + 20] = bytes(b ^ 0xFF for b in data[start : start + 20])
    path.write_bytes(bytes(data))
    (f,) = read_registry(spec, tmp_path).files
    assert f.error_rule == "unreadable_file"
    assert f.n_rows == 100
    assert "100 records by its footer" in f.error


def test_an_undecodable_byte_quarantines_its_row_not_the_file(tmp_path: Path) -> None:
    rows = b"".join(b"P%d,2020-01-01,F\n" % i for i in range(150))
    data = b"id,dob,sex\n" + rows + b"X\x81,2020-01-02,M\n" + rows
    f = _read_csv_text(tmp_path, data, encoding="cp1252")  # 0x81 is no cp1252 character
    assert f.error is None
    assert f.bad_rows["rule"].tolist() == ["undecodable_byte"]
    assert f.bad_rows["row"].tolist() == [152]
    assert f.n_rows == 301
    assert len(f.parts[""]) == 300
    # many such lines: a wrong encoding, the whole file refused as before
    f = _read_csv_text(tmp_path, b"id,dob,sex\n" + b"X\x81,2020-01-02,M\n" * 50, encoding="cp1252")
    assert f.error_rule == "wrong_encoding"


def test_a_utf8_mark_before_a_cp1252_body_is_read_as_cp1252(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + "id,dob,sex\nMüller,2020-01-01,F\n".encode("cp1252")
    for declared in ("cp1252", "utf-8"):
        f = _read_csv_text(tmp_path, data, encoding=declared)
        assert f.error is None
        assert f.parts[""]["id"].tolist() == ["Müller"]  # not "M\ufffdller"
        assert any("byte-order mark before a body that is not UTF-8" in n for n in f.notes)
