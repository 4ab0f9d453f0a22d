"""Reading registry exports: the only module of the package that reads data files.

:func:`read_registry` reads every file a :class:`~sma_response.harmonise.spec.RegistrySpec`
names and returns raw frames, untouched apart from typing: text stays text (CSV cells are
always text), numbers and dates stay typed where the format types them (parquet, XLSX, JSON).

It never raises for a bad file. A file that cannot be read (empty, truncated, damaged,
wrongly encoded, wrong delimiter) becomes a :class:`RawFile` with ``error`` set; lines that
cannot be parsed (wrong number of fields) are listed in ``bad_rows``. Both carry a clear reason
that never quotes the content (it may hold identifiers).

Row numbers (``_row``) are 1-based and count lines the way the file does:

* CSV: the physical line number, the header line being line ``header_row`` (1 by default), so
  the first data row is row 2, as a spreadsheet shows it;
* XLSX: the sheet's row number (header on row ``header_row``);
* parquet: the 1-based record number (there is no header line);
* JSON: the 1-based index of the top-level record (a nested survey reports its patient's
  record); the column (a dotted path) locates the value within it.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import logging
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import yaml

from sma_response.harmonise import _xlsx
from sma_response.harmonise.spec import (
    FileSpec,
    RegistrySpec,
    RegistrySpecError,
    parse_registry_spec,
)

__all__ = [
    "RawFile",
    "RawRegistry",
    "TruthFileError",
    "read_link_truth",
    "read_registry",
    "read_registry_spec",
    "read_text",
    "read_truth",
]

log = logging.getLogger(__name__)

ROW = "_row"
_CANDIDATE_DELIMITERS = (",", ";", "\t", "|")
#: Per-file limits, far above any registry export (a mapping reads about 30 columns): a file
#: beyond one is refused with rule ``file_too_large`` before it is read into memory.
MAX_FILE_BYTES = 4 << 30  # on disk
MAX_INFLATED_BYTES = 4 << 30  # an XLSX workbook's parts once unzipped (a zip bomb's trick)
MAX_COLUMNS = 20_000
MAX_ROWS = 50_000_000


@dataclass
class RawFile:
    """One export file as read.

    Attributes
    ----------
    path
        Path relative to the registry folder (as shown in messages and rejects).
    spec
        The file kind it matched.
    parts
        ``{level: frame}``: one frame per record level (``""`` for flat files; JSON lists
        such as ``"surveys[]"`` get their own frame, with parent columns repeated). Columns are
        the source columns plus ``_row``.
    n_rows
        Data rows in the file (records), including those in ``bad_rows``; for an unreadable
        file, the lines that could be counted.
    bad_rows
        Rows that could not be parsed: ``row, rule, reason``.
    error, error_rule
        Why the whole file could not be used (``None`` if it could).
    corrections
        Rules applied to the whole file (e.g. a fallback encoding); every row counts as corrected.
    notes
        Messages for the summary (never containing cell values).
    """

    path: str
    spec: FileSpec
    parts: dict[str, pd.DataFrame] = field(default_factory=dict)
    n_rows: int = 0
    bad_rows: pd.DataFrame = field(default_factory=lambda: _bad_rows([], [], []))
    error: str | None = None
    error_rule: str | None = None
    corrections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RawRegistry:
    """Every file of one registry export as read (see :func:`read_registry`)."""

    spec: RegistrySpec
    folder: Path
    files: list[RawFile]
    notes: list[str] = field(default_factory=list)


def _bad_rows(rows: Iterable[int], rules: Iterable[str], reasons: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.array(list(rows), dtype="Int64"),
            "rule": pd.array(list(rules), dtype="string"),
            "reason": pd.array(list(reasons), dtype="string"),
        }
    )


def read_registry_spec(path: str | Path) -> RegistrySpec:
    """Read and check a registry mapping YAML file.

    Parameters
    ----------
    path
        The ``configs/registry/<name>.yaml`` file.

    Returns
    -------
    RegistrySpec
        The checked mapping.

    Raises
    ------
    RegistrySpecError
        If the file is missing, not YAML, or a key is wrong (the message names file and key).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"{path}: cannot read registry mapping ({err.strerror or err})"
        raise RegistrySpecError(msg) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        msg = f"{path}: not valid YAML{where}"
        raise RegistrySpecError(msg) from err
    return parse_registry_spec(data, source=str(path))


def read_text(path: str | Path) -> str:
    """Read a small UTF-8 text file (a local secret, a config), stripped of surrounding space.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        Its content.
    """
    return Path(path).read_text(encoding="utf-8").strip()


def read_registry(spec: RegistrySpec, folder: str | Path) -> RawRegistry:
    r"""Read every file of a registry export.

    Parameters
    ----------
    spec
        The registry mapping.
    folder
        The registry's export folder.

    Returns
    -------
    RawRegistry
        One :class:`RawFile` per matching file, in sorted path order (files of the first
        ``files:`` entry first). Unreadable files are included with ``error`` set.

    Examples
    --------
    >>> import tempfile
    >>> from sma_response.harmonise.spec import parse_registry_spec
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "p.csv").write_text("id;dob\nA1;01.02.2020\n", encoding="cp1252")
    >>> spec = parse_registry_spec({"name": "demo", "region": "x", "files": {"patients": {
    ...     "pattern": "p.csv", "reader": {"format": "csv", "delimiter": ";"},
    ...     "columns": {"id": "local_id", "dob": "birth_date"}}}})
    >>> raw = read_registry(spec, folder)
    >>> raw.files[0].parts[""].to_dict("records")
    [{'id': 'A1', 'dob': '01.02.2020', '_row': 2}]
    """
    folder = Path(folder)
    files: list[RawFile] = []
    notes: list[str] = []
    claimed: set[tuple[Path, str | None]] = set()  # a workbook's sheets may be mapped separately
    for file_spec in spec.files:
        sheet = file_spec.reader.sheet if file_spec.reader.format == "xlsx" else None
        inside = folder.resolve()
        matched = [p for p in folder.glob(file_spec.pattern) if p.is_file()]
        outside = sorted(p for p in matched if not p.resolve().is_relative_to(inside))
        notes += [
            f"{spec.name}: {p.relative_to(folder).as_posix()} leads outside the export folder: "
            "not read"
            for p in outside
        ]
        paths = sorted(p for p in matched if p not in outside and (p, sheet) not in claimed)
        if not paths:
            notes.append(
                f"{spec.name}: no file matches files.{file_spec.name}.pattern {file_spec.pattern!r}"
            )
        for path in paths:
            claimed.add((path, sheet))
            rel = path.relative_to(folder).as_posix() + (f"[{sheet}]" if sheet is not None else "")
            files.append(_read_file(path, rel, file_spec))
    for raw in files:
        state = "unreadable: " + raw.error if raw.error else f"{raw.n_rows} rows"
        log.info("read %s/%s: %s", spec.name, raw.path, state)
    return RawRegistry(spec=spec, folder=folder, files=files, notes=notes)


def _read_file(path: Path, rel: str, spec: FileSpec) -> RawFile:
    readers = {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet, "json": _read_json}
    out = RawFile(path=rel, spec=spec)
    try:
        size = path.stat().st_size
    except OSError as err:
        out.error, out.error_rule = f"cannot open file ({err.strerror})", "unreadable_file"
        return out
    if size == 0:
        out.error, out.error_rule = "empty file (0 bytes)", "empty_file"
        return out
    if size > MAX_FILE_BYTES:
        out.error = f"{size:,} bytes: larger than the {MAX_FILE_BYTES:,} a file may have"
        out.error_rule = "file_too_large"
        return out
    try:
        readers[spec.reader.format](path, spec, out)
    except MemoryError:
        raise
    except Exception as err:  # a damaged file must become a message, never a traceback
        out.parts = {}
        out.error = (
            out.error or f"cannot read as {spec.reader.format.upper()} ({type(err).__name__})"
        )
        out.error_rule = out.error_rule or "unreadable_file"
    return out


# ---------------------------------------------------------------------------- CSV


def _decode(data: bytes, encoding: str, out: RawFile) -> str | None:
    """Decode, falling back between UTF-8 and the declared encoding (recorded as a correction)."""
    declared = codecs.lookup(encoding).name
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not declared.startswith(
        "utf-16"
    ):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            pass
        else:
            out.corrections.append("encoding:utf-16")
            out.notes.append(
                f"{out.path}: declared {encoding} but the file is UTF-16; read as UTF-16"
            )
            return text
    if b"\x00" in data and not declared.startswith("utf-16"):
        out.error = (
            f"contains NUL bytes: not {encoding} text (binary, or UTF-16 without a byte-order mark)"
        )
        out.error_rule = "wrong_encoding"
        out.n_rows = max(data.count(b"\n") - 1, 0)
        return None
    declared_utf8 = declared == "utf-8"
    marked = data.startswith(codecs.BOM_UTF8)
    if marked:
        data = data[len(codecs.BOM_UTF8) :]
    as_utf8 = _utf8_text(data)  # the one UTF-8 decode of the file (None: not UTF-8)
    if marked and as_utf8 is None:
        # a UTF-8 mark before a body that is not UTF-8 (a cp1252 export with a mark added):
        # the mark is dropped and the body decoded as any other below, never with "?" for "ü"
        out.notes.append(f"{out.path}: a UTF-8 byte-order mark before a body that is not UTF-8")
    elif as_utf8 is not None and not declared_utf8 and (marked or not data.isascii()):
        # valid UTF-8 with non-ASCII bytes is practically never a cp1252/latin-1 file
        out.corrections.append("encoding:utf-8")
        out.notes.append(
            f"{out.path}: UTF-8 byte-order mark although {encoding} is declared; read as UTF-8"
            if marked
            else f"{out.path}: declared {encoding} but the file is UTF-8; read as UTF-8"
        )
        return as_utf8
    if as_utf8 is not None and declared_utf8:
        return as_utf8
    # Only a file that is not valid UTF-8 but holds UTF-8 sequences can be mixed (cheap test).
    if as_utf8 is None and _UTF8_PAIR.search(data):
        mixed = _mixed_encodings(data, "cp1252" if declared_utf8 else declared)
        if mixed is not None:
            text, n_utf8, n_other = mixed
            out.corrections.append("encoding:mixed")
            out.notes.append(
                f"{out.path}: mixed encodings: {n_utf8} lines UTF-8, {n_other} lines "
                f"{'cp1252' if declared_utf8 else encoding}; each line read in its own"
            )
            return text
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        if declared_utf8:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                pass
            else:
                out.corrections.append("encoding:cp1252")
                out.notes.append(f"{out.path}: not valid UTF-8 (line {line}); read as cp1252")
                return text
        out.error = f"not valid {encoding} text (byte {err.start}, line {line}): wrong encoding?"
        out.error_rule = "wrong_encoding"
        out.n_rows = max(data.count(b"\n") - 1, 0)
        return None


#: A two-byte UTF-8 sequence (é, ü, ß ...): in cp1252 text it is practically never there.
_UTF8_PAIR = re.compile(rb"[\xc2-\xdf][\x80-\xbf]")


def _utf8_text(data: bytes) -> str | None:
    """Return the bytes as UTF-8 text, ``None`` when they are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _mixed_encodings(data: bytes, other: str) -> tuple[str, int, int] | None:
    r"""Decode a file whose lines are partly UTF-8 and partly ``other`` (cp1252, latin-1).

    Happens when exports from two systems are concatenated. Returns the text (each line in its
    own encoding) and the counts of non-ASCII lines in each, or ``None`` when the file is not
    mixed (all its non-ASCII lines in one encoding).

    Examples
    --------
    >>> data = "Müller\n".encode() + "Zoë\n".encode("cp1252") + b"plain\n"
    >>> _mixed_encodings(data, "cp1252")
    ('Müller\nZoë\nplain\n', 1, 1)
    >>> _mixed_encodings("Müller\n".encode(), "cp1252") is None
    True
    """
    if data.isascii():
        return None
    lines = data.split(b"\n")
    texts, n_utf8, n_other = [], 0, 0
    for raw in lines:
        if raw.isascii():
            texts.append(raw.decode("ascii"))
            continue
        try:
            texts.append(raw.decode("utf-8"))
            n_utf8 += 1
        except UnicodeDecodeError:
            texts.append(raw.decode(other, errors="replace"))
            n_other += 1
    if not (n_utf8 and n_other):
        return None
    return "\n".join(texts), n_utf8, n_other


def _rare_undecodable_lines(data: bytes, encoding: str) -> np.ndarray:
    r"""Return the lines (1-based) that are not ``encoding`` text, when they are rare (<= 1 %).

    A few such lines are corrupted values (their rows are quarantined); many mean a wrong
    encoding (an empty array then: the file error stands).

    Examples
    --------
    >>> data = b"id,name\n" + b"a,x\n" * 200 + b"b,\x81\n"
    >>> _rare_undecodable_lines(data, "cp1252").tolist()
    [202]
    """
    lines = data.split(b"\n")
    bad = []
    for number, line in enumerate(lines, start=1):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            bad.append(number)
            if len(bad) > max(1, len(lines) // 100):
                return np.zeros(0, dtype=np.int64)
    return np.asarray(bad, dtype=np.int64)


def _sparse_nul_lines(data: bytes) -> np.ndarray:
    """Line numbers (1-based) holding a NUL byte, when NULs are rare (a corrupted value).

    Many NULs (over 1 % of the bytes) mean a binary or UTF-16 file: an empty array then, and
    the decoder names the file's problem.
    """
    if b"\x00" not in data:
        return np.zeros(0, dtype=np.int64)
    arr = np.frombuffer(data, dtype=np.uint8)
    at = np.flatnonzero(arr == 0)
    if len(at) > max(16, len(arr) // 100):
        return np.zeros(0, dtype=np.int64)
    newlines = np.flatnonzero(arr == 10)
    return np.unique(np.searchsorted(newlines, at) + 1).astype(np.int64)


def _read_csv(path: Path, spec: FileSpec, out: RawFile) -> None:
    reader = spec.reader
    data = path.read_bytes()
    nul_lines = _sparse_nul_lines(data)
    if len(nul_lines):
        if (nul_lines <= reader.header_row).any():
            out.error, out.error_rule = "a NUL byte in the header", "nul_byte"
            out.n_rows = max(data.count(b"\n") - reader.header_row, 0)
            return
        data = data.replace(b"\x00", b"")  # the rows that held one are quarantined below
    text = _decode(data, reader.encoding, out)
    byte_lines = np.zeros(0, dtype=np.int64)
    if text is None and out.error_rule == "wrong_encoding":
        byte_lines = _rare_undecodable_lines(data, reader.encoding)
        if len(byte_lines) and not (byte_lines <= reader.header_row).any():
            # a few corrupted values, not a wrong encoding: their rows are quarantined below
            out.error = out.error_rule = None
            out.n_rows = 0
            text = data.decode(reader.encoding, errors="replace")
    if text is None:
        return
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines_total = text.count("\n") + (0 if text.endswith("\n") else 1)
    skip = reader.header_row - 1
    head_start = 0
    for _ in range(skip):
        head_start = text.find("\n", head_start) + 1
        if head_start == 0:
            break
    header_line = text[
        head_start : text.find("\n", head_start) if "\n" in text[head_start:] else None
    ]
    if (head_start == 0 and skip > 0) or not header_line.strip():
        out.error, out.error_rule = f"no header on line {reader.header_row}", "no_header"
        out.n_rows = max(lines_total - reader.header_row, 0)
        return
    names = next(csv.reader([header_line], delimiter=reader.delimiter, quotechar=reader.quote))
    names = [n.strip() for n in names]
    if _too_large(out, n_columns=len(names), n_rows=lines_total - reader.header_row):
        return
    n_mapped = len({c.source for c in spec.columns})
    if len(names) == 1 and n_mapped > 1:
        found = [d for d in _CANDIDATE_DELIMITERS if d != reader.delimiter and d in header_line]
        if found:
            out.error = (
                f"header has one column with delimiter {reader.delimiter!r} "
                f"but contains {found[0]!r}: "
                "wrong delimiter?"
            )
            out.error_rule = "wrong_delimiter"
            out.n_rows = max(lines_total - reader.header_row, 0)
            return
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)  # linear: 200,000 columns too
    if dupes:
        out.error, out.error_rule = (
            f"duplicated column names in header: {dupes[:10]}"
            + (f" and {len(dupes) - 10} more" if len(dupes) > 10 else ""),
            "duplicate_columns",
        )
        out.n_rows = max(lines_total - reader.header_row, 0)
        return
    mapped = {c.source for c in spec.columns}
    if mapped and not mapped & set(names) and _looks_like_data(names):
        out.error = (
            f"line {reader.header_row} holds none of the mapped columns and looks like data "
            f"({_shape(names)}): the export has no header line (or reader.header_row is wrong)"
        )
        out.error_rule = "no_header"
        out.n_rows = max(lines_total - reader.header_row + 1, 0)  # the first line is data too
        return
    invalid: list[tuple[int | None, int, int]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    body = text.encode("utf-8")
    table = pa_csv.read_csv(
        pa.py_buffer(body),
        read_options=pa_csv.ReadOptions(
            use_threads=False,  # physical line numbers of bad rows are only known single-threaded
            skip_rows=skip + 1,
            column_names=names,
            block_size=1 << 24,
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=reader.delimiter,
            quote_char=reader.quote,
            invalid_row_handler=on_invalid,
            ignore_empty_lines=True,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    frame = table.to_pandas(types_mapper=_string_mapper)
    # Physical line numbers: every line after the header that is not blank and not invalid.
    arr = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(arr == 10)
    if len(arr) and arr[-1] != 10:
        ends = np.append(ends, len(arr))
    starts = np.concatenate([[0], ends[:-1] + 1])
    line_no = np.arange(1, len(ends) + 1)
    blank = (ends - starts) == 0
    bad_numbers = {n for n, _, _ in invalid if n is not None}
    data_lines = line_no[(line_no > reader.header_row) & ~blank]
    valid_lines = data_lines[~np.isin(data_lines, list(bad_numbers))] if bad_numbers else data_lines
    bad_row_numbers = [n if n is not None else -1 for n, _, _ in invalid]
    reasons = [
        f"row has {got} field(s), the header has {want} (truncated or malformed line)"
        for _, want, got in invalid
    ]
    bad_rules = ["wrong_field_count"] * len(invalid)
    if len(valid_lines) == len(frame):
        rows = valid_lines.astype(np.int64)
    else:  # quoted line breaks: lines and records differ; count records instead
        rows = np.arange(len(frame), dtype=np.int64) + reader.header_row + 1
        out.notes.append(
            f"{out.path}: values with line breaks; row numbers count records, not lines"
        )
        frame, rows, merged = _split_merged_rows(frame, rows, reader.delimiter)
        for row, lines in merged:
            bad_row_numbers += [row] * lines
            bad_rules += ["unbalanced_quote"] * lines
            reasons += [
                f"a quote opened in this row runs over {lines - 1} more line(s) that hold "
                "delimiters: rows were merged (fix the quoting in the export)"
            ] * lines
    for at, rule, reason in (
        (nul_lines, "nul_byte", "a NUL byte in the row (a corrupted value)"),
        (byte_lines, "undecodable_byte", f"a byte that is not {reader.encoding} text in the row"),
    ):
        if len(at):
            hit = np.isin(rows, at)
            bad_row_numbers += rows[hit].astype(int).tolist()
            bad_rules += [rule] * int(hit.sum())
            reasons += [reason] * int(hit.sum())
            frame, rows = frame.loc[~hit], rows[~hit]
    if len(arr) and arr[-1] != 10 and len(rows) and rows[-1] == line_no[-1]:
        # No final line break: the export was cut off, and the last row may be incomplete.
        bad_row_numbers.append(int(rows[-1]))
        bad_rules.append("truncated_file")
        reasons.append("file does not end with a line break: last row may be truncated")
        frame = frame.iloc[:-1]
        rows = rows[:-1]
        out.notes.append(f"{out.path}: no final line break (truncated export?)")
    out.bad_rows = _bad_rows(bad_row_numbers, bad_rules, reasons)
    out.parts = {"": frame.assign(**{ROW: rows}).reset_index(drop=True)}
    out.n_rows = len(frame) + len(out.bad_rows)


_DATA_LIKE = re.compile(r"^[-+]?\d[\d.,:/ -]*$")  # numbers and dates, never a column name


def _looks_like_data(names: list[str]) -> bool:
    """Whether a header line's fields look like values: at least a third are numbers or dates.

    Examples
    --------
    >>> _looks_like_data(["P1", "2019-02-01", "w", "12,5"]), _looks_like_data(["id", "dob"])
    (True, False)
    """
    hits = sum(bool(_DATA_LIKE.match(n)) for n in names if n)
    return hits >= max(1, len(names) / 3)


def _shape(names: list[str]) -> str:
    """Describe a line's fields by kind, never by value (``3 numbers or dates of 4 fields``)."""
    hits = sum(bool(_DATA_LIKE.match(n)) for n in names if n)
    return f"{hits} numbers or dates of {len(names)} fields"


def _too_large(out: RawFile, *, n_columns: int, n_rows: int) -> bool:
    """Refuse a file beyond :data:`MAX_COLUMNS` or :data:`MAX_ROWS` (``out.error`` set)."""
    if n_columns > MAX_COLUMNS:
        out.error = f"{n_columns:,} columns: more than the {MAX_COLUMNS:,} a file may have"
    elif n_rows > MAX_ROWS:
        out.error = f"{n_rows:,} rows: more than the {MAX_ROWS:,} a file may have"
    else:
        return False
    out.error_rule, out.n_rows = "file_too_large", max(n_rows, 0)
    return True


def _split_merged_rows(
    frame: pd.DataFrame, rows: np.ndarray, delimiter: str
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, int]]]:
    """Take out records whose quoted value swallowed whole lines (a quote left open).

    A value with a line break is legitimate (a note); one whose continuation lines hold the
    delimiter is other rows read into one field. Returns the kept records, their row numbers,
    and ``(row, physical lines)`` of every merged record, so each swallowed line is counted.
    """
    if frame.empty:
        return frame, rows, []
    text = frame.astype(str)
    merged_mask = np.zeros(len(frame), dtype=bool)
    extra_lines = np.zeros(len(frame), dtype=np.int64)
    for column in text.columns:
        values = text[column]
        broken = values.str.contains("\n", regex=False)
        if not broken.any():
            continue
        tails = values.where(broken, "").str.split("\n", n=1).str[1].fillna("")
        merged_mask |= (broken & tails.str.contains(delimiter, regex=False)).to_numpy()
        extra_lines += values.str.count("\n").to_numpy()
    merged = [
        (int(r), int(1 + e))
        for r, e in zip(rows[merged_mask], extra_lines[merged_mask], strict=True)
    ]
    keep = ~merged_mask
    return frame.loc[keep].reset_index(drop=True), rows[keep], merged


def _string_mapper(dtype: pa.DataType) -> Any:
    return (
        pd.StringDtype() if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) else None
    )


# ---------------------------------------------------------------------------- parquet


def _read_parquet(path: Path, spec: FileSpec, out: RawFile) -> None:
    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowInvalid, OSError):
        meta = None  # no footer: the read below names the damage
    if meta is not None and _too_large(out, n_columns=meta.num_columns, n_rows=meta.num_rows):
        return
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        if _read_row_groups(path, out):
            return
        kind = (
            "truncated or damaged"
            if "magic" in str(err).lower() or "size" in str(err).lower()
            else "damaged"
        )
        out.error, out.error_rule = f"not a readable parquet file ({kind})", "unreadable_file"
        if out.n_rows:
            out.error += f"; {out.n_rows} records by its footer"
        return
    frame = _typed_frame(table.to_pandas(types_mapper=_string_mapper))
    out.parts = {"": frame.assign(**{ROW: np.arange(1, len(frame) + 1, dtype=np.int64)})}
    out.n_rows = len(frame)


def _read_row_groups(path: Path, out: RawFile) -> bool:
    """Read a damaged parquet file row group by row group, when its footer is intact.

    The readable groups are kept; every record of a damaged group is a bad row (rule
    ``unreadable_row_group``, record numbers from the footer). Returns ``False`` when nothing
    could be read (then ``out.n_rows`` holds the footer's record count, if there is a footer).
    """
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
    except (pa.ArrowInvalid, OSError):
        return False
    out.n_rows = meta.num_rows
    frames, bad, start = [], [], 1
    for group in range(meta.num_row_groups):
        n = meta.row_group(group).num_rows
        try:
            part = parquet.read_row_group(group).to_pandas(types_mapper=_string_mapper)
        except (pa.ArrowInvalid, OSError):
            bad.append((group, start, n))
        else:
            frames.append(part.assign(**{ROW: np.arange(start, start + n, dtype=np.int64)}))
        start += n
    if not frames:
        return False
    rows = [r for _, first, n in bad for r in range(first, first + n)]
    reasons = [
        f"row group {group + 1} of {meta.num_row_groups} cannot be read (damaged)"
        for group, _, n in bad
        for _ in range(n)
    ]
    out.bad_rows = _bad_rows(rows, ["unreadable_row_group"] * len(rows), reasons)
    frame = pd.concat(frames, ignore_index=True)
    out.parts = {"": _typed_frame(frame.drop(columns=[ROW])).assign(**{ROW: frame[ROW].to_numpy()})}
    out.notes.append(
        f"{out.path}: {len(bad)} of {meta.num_row_groups} row groups damaged; "
        f"{len(rows)} records quarantined, the rest read"
    )
    return True


# ---------------------------------------------------------------------------- XLSX


def _read_xlsx(path: Path, spec: FileSpec, out: RawFile) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        out.error, out.error_rule = (
            "not a readable XLSX workbook (damaged or truncated zip)",
            "unreadable_file",
        )
        return
    with archive:
        inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_INFLATED_BYTES:
            out.error = (
                f"unzips to {inflated:,} bytes: more than the {MAX_INFLATED_BYTES:,} a workbook "
                "may hold (a damaged or crafted file?)"
            )
            out.error_rule = "file_too_large"
            return
        names = set(archive.namelist())
        try:
            sheets = _xlsx.sheet_paths(archive.read)
        except (KeyError, ET.ParseError, zipfile.BadZipFile, EOFError, zlib.error):
            out.error, out.error_rule = (
                "not a readable XLSX workbook (no workbook part)",
                "unreadable_file",
            )
            return
        sheet_name = (
            spec.reader.sheet if spec.reader.sheet is not None else next(iter(sheets), None)
        )
        if sheet_name not in sheets:
            out.error = f"no sheet {spec.reader.sheet!r} (sheets: {list(sheets)})"
            out.error_rule = "missing_sheet"
            return
        header_row = spec.reader.header_row
        try:
            sheet = _xlsx.read_sheet(archive.read, names, sheets[sheet_name], header_row=header_row)
        except _xlsx.XlsxFormatError as err:
            log.info("%s: %s; reading with openpyxl", out.path, err)
            sheet = None
        except (KeyError, zipfile.BadZipFile, EOFError, zlib.error, UnicodeDecodeError):
            out.error = "not a readable XLSX workbook (damaged or truncated sheet)"
            out.error_rule = "unreadable_file"
            return
    if sheet is None:
        _read_xlsx_openpyxl(path, spec, out, sheet_name)
        return
    _finish_sheet(out, *sheet, header_row)


def _finish_sheet(
    out: RawFile, names: list[str], frame: pd.DataFrame, row_no: np.ndarray, header_row: int
) -> None:
    if not any(names):
        out.error, out.error_rule = f"no header on row {header_row}", "no_header"
        out.n_rows = len(frame)
        return
    if _too_large(out, n_columns=len(names), n_rows=len(frame)):
        return
    dupes = sorted(n for n, k in Counter(names).items() if k > 1 and n)
    if dupes:
        out.error, out.error_rule = (
            f"duplicated column names in header: {dupes}",
            "duplicate_columns",
        )
        out.n_rows = len(frame)
        return
    out.parts = {
        "": frame.assign(**{ROW: np.asarray(row_no, dtype=np.int64)}).reset_index(drop=True)
    }
    out.n_rows = len(frame)


def _read_xlsx_openpyxl(path: Path, spec: FileSpec, out: RawFile, sheet_name: str) -> None:
    """Slow, general reader for workbooks the vectorised parser declines."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book[sheet_name]
        header_row = spec.reader.header_row
        rows_iter = sheet.iter_rows(min_row=header_row, values_only=True)
        header = next(rows_iter, None) or ()
        names = ["" if h is None else str(h).strip() for h in header]
        while names and names[-1] == "":
            names.pop()
        width = len(names)
        records = [r[:width] for r in rows_iter]
    finally:
        book.close()
    row_no = np.arange(header_row + 1, header_row + 1 + len(records), dtype=np.int64)
    keep = np.array([any(v is not None and v != "" for v in r) for r in records], dtype=bool)
    columns = {
        (name or f"(column {j + 1})"): _typed_series(
            [r[j] if j < len(r) else None for r in records]
        )
        for j, name in enumerate(names)
    }
    frame = (
        pd.DataFrame(columns, index=pd.RangeIndex(len(records))).loc[keep].reset_index(drop=True)
    )
    _finish_sheet(out, names, frame, row_no[keep] if len(records) else row_no, header_row)


# ---------------------------------------------------------------------------- JSON


def _read_json(path: Path, spec: FileSpec, out: RawFile) -> None:
    data = path.read_bytes()
    try:
        text = data.decode(spec.reader.encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        out.error = f"not valid {spec.reader.encoding} text (line {line}): wrong encoding?"
        out.error_rule = "wrong_encoding"
        return
    try:
        # Numbers stay text, as in a CSV: the mapping decides what is a number (and -99 a marker).
        doc = json.loads(text, parse_int=str, parse_float=str)
    except json.JSONDecodeError as err:
        truncated = err.pos >= len(text.rstrip()) - 1
        out.error = f"not valid JSON at line {err.lineno}, column {err.colno}" + (
            ": the file ends early (truncated?)" if truncated else f" ({err.msg})"
        )
        out.error_rule = "truncated_file" if truncated else "invalid_json"
        return
    records = doc
    for key in [k for k in spec.reader.records.split(".") if k]:
        records = records.get(key) if isinstance(records, Mapping) else None
    if not isinstance(records, list):
        where = spec.reader.records or "the top level"
        out.error = f"expected a list of records at {where}"
        out.error_rule = "invalid_json"
        return
    sources = {c.source for c in spec.columns} | set(spec.ignore)
    tree = _source_tree(c.source for c in spec.columns)
    problems: dict[int, tuple[str, str]] = {}
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            problems[i] = ("invalid_record", "record is not a JSON object")
        elif (nesting := _nesting_error(record, tree)) is not None:
            problems[i] = ("wrong_nesting", f"{nesting}: the whole record is quarantined")
    good = [i not in problems for i in range(len(records))]
    if problems:
        out.bad_rows = _bad_rows(
            [i + 1 for i in problems],
            [rule for rule, _ in problems.values()],
            [reason for _, reason in problems.values()],
        )
    rows = np.array([i + 1 for i, ok in enumerate(good) if ok], dtype=np.int64)
    objs = [r for r, ok in zip(records, good, strict=True) if ok]
    out.n_rows = len(records)
    shared = {"local_id", "visit_date", "visit_age"}
    out.parts = {
        # a nested level needs, from its parents, only the patient id and a visit time
        lv: _json_level(
            objs, rows, lv, {c.source for c in spec.columns if c.level == lv or c.field in shared}
        )
        for lv in spec.levels
    }
    unknown = sorted(_json_keys(objs[:200]) - _prefixes(sources))
    if unknown:
        out.notes.append(f"{out.path}: unmapped JSON keys ignored: {unknown[:10]}")


def _source_tree(sources: Iterable[str]) -> dict[str, Any]:
    """Arrange the mapping's JSON paths as a tree (``surveys[]`` -> ``milestones`` -> ...).

    Examples
    --------
    >>> _source_tree(["id", "surveys[].date", "surveys[].milestones.sitting"])
    {'id': {}, 'surveys[]': {'date': {}, 'milestones': {'sitting': {}}}}
    """
    tree: dict[str, Any] = {}
    for source in sources:
        node = tree
        for part in source.replace("[]", "[].").split("."):
            if part:
                node = node.setdefault(part, {})
    return tree


def _nesting_error(record: Mapping[str, Any], tree: Mapping[str, Any], at: str = "") -> str | None:
    """Say where a record's nesting differs from the mapping's paths (``None``: it does not).

    A list level (``surveys[]``) must be a list of objects, a path through an object
    (``milestones.sitting``) an object; absent or null values are fine (missing data). The
    message names the path and the kind found, never a value.

    Examples
    --------
    >>> tree = _source_tree(["id", "surveys[].date", "surveys[].milestones.sitting"])
    >>> _nesting_error({"id": "A", "surveys": {"date": "2020-01-01"}}, tree)
    'surveys is an object, the mapping expects a list of records'
    >>> _nesting_error({"id": "A", "surveys": [{"milestones": 3}]}, tree)
    'surveys[1].milestones is a number, the mapping expects an object'
    >>> _nesting_error({"id": "A", "surveys": [{"date": "2020", "milestones": None}]}, tree)
    """
    for key, sub in tree.items():
        if not sub:
            continue  # a leaf: any value is the reader's and the rules' to judge
        name = key.removesuffix("[]")
        value = record.get(name)
        if value is None:
            continue
        if key.endswith("[]"):
            if not isinstance(value, list):
                return f"{at}{name} is {_a(value)}, the mapping expects a list of records"
            for n, item in enumerate(value, start=1):
                if item is None:
                    continue
                if not isinstance(item, Mapping):
                    return f"{at}{name}[{n}] is {_a(item)}, the mapping expects an object"
                if (found := _nesting_error(item, sub, f"{at}{name}[{n}].")) is not None:
                    return found
        elif not isinstance(value, Mapping):
            return f"{at}{name} is {_a(value)}, the mapping expects an object"
        elif (found := _nesting_error(value, sub, f"{at}{name}.")) is not None:
            return found
    return None


def _a(value: Any) -> str:
    """Name a JSON value's kind with its article (never the value)."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string" if not _looks_numeric(value) else "a number"
    return "a number"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _prefixes(sources: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for s in sources:
        parts = s.split(".")
        for i in range(1, len(parts) + 1):
            out.add(".".join(parts[:i]))
    return out


def _json_keys(objs: list[Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for obj in objs:
        if not isinstance(obj, Mapping):
            continue
        for k, v in obj.items():
            path = f"{prefix}{k}"
            if isinstance(v, list):
                keys.add(path + "[]")
                keys |= _json_keys([x for x in v if isinstance(x, Mapping)][:5], path + "[].")
            elif isinstance(v, Mapping):
                keys |= _json_keys([v], path + ".")
            else:
                keys.add(path)
    return keys


def _values(
    items: list[Any], parts: list[str], cache: dict[tuple[str, ...], list[Any]] | None = None
) -> list[Any]:
    """Return the value at a dotted path in each item (``None`` where absent).

    ``cache`` keeps the values at each path prefix, so sibling paths (``milestones.sitting``,
    ``milestones.walking``) walk the shared part once.
    """
    values = items
    for depth, p in enumerate(parts):
        key = tuple(parts[: depth + 1])
        if cache is not None and key in cache:
            values = cache[key]
            continue
        values = [v.get(p) if type(v) is dict else None for v in values]
        if cache is not None and depth < len(parts) - 1:
            cache[key] = values
    return values


def _json_level(objs: list[Any], rows: np.ndarray, level: str, sources: set[str]) -> pd.DataFrame:
    """Flatten the records at one list level; columns of parent levels are repeated."""
    items_at: list[list[Any]] = [objs]  # items at each depth
    parent_at: list[np.ndarray] = [np.arange(len(objs))]  # index of each item's top record
    chain: list[np.ndarray] = [
        np.arange(len(objs))
    ]  # per depth: item index at that depth, per current item
    segments = [s.strip(".") for s in level.split("[]") if s.strip(".")] if level else []
    for seg in segments:
        lists = _values(items_at[-1], [p for p in seg.split(".") if p])
        lengths = np.fromiter(
            (len(x) if type(x) is list else 0 for x in lists), dtype=np.int64, count=len(lists)
        )
        owner = np.repeat(np.arange(len(lists)), lengths)
        items_at.append([e for x in lists if type(x) is list for e in x])
        parent_at.append(parent_at[-1][owner])
        chain = [c[owner] for c in chain] + [np.arange(len(owner))]
    columns: dict[str, Any] = {}
    caches: list[dict[tuple[str, ...], list[Any]]] = [{} for _ in items_at]
    for source in sorted(sources):
        head, sep, tail = source.rpartition("[]")
        src_level = head + "[]" if sep else ""
        if src_level and not level.startswith(src_level):
            continue
        depth = src_level.count("[]")
        values = _values(
            items_at[depth], [p for p in (tail if sep else source).split(".") if p], caches[depth]
        )
        column = _typed_series(values)
        if depth < len(chain) - 1:
            column = column.iloc[chain[depth]].reset_index(drop=True)
        columns[source] = column
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(chain[-1])))
    return frame.assign(**{ROW: rows[parent_at[-1]]})


# ---------------------------------------------------------------------------- typing


_NUMBER_TYPES = (int, float, np.int64, np.float64, np.int32, np.float32)


def _typed_series(values: list[Any] | np.ndarray) -> pd.Series:
    """One column from Python values: numbers, dates or text (mixed columns become text).

    Types are inferred in C (:func:`pandas.api.types.infer_dtype`); only mixed columns are
    converted value by value, by type rather than one value at a time where possible. In a
    mixed column whole numbers are written without a decimal part (``3``, not ``3.0``), so a
    code column holding ``3`` and ``3a`` reads the same as a text column.
    """
    obj = pd.Series(values, dtype=object)
    kind = pd.api.types.infer_dtype(obj, skipna=True)
    if kind == "empty":
        return pd.Series(pd.array([None] * len(obj), dtype="string"))
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return pd.to_numeric(obj, errors="coerce").astype("float64")
    if kind == "string":
        return obj.astype("string")
    if kind in ("datetime", "date", "datetime64"):
        return pd.Series(pd.to_datetime(obj, errors="coerce"))
    if kind == "boolean":
        return obj.map({True: "true", False: "false"}).astype("string")
    raw = obj.to_numpy()
    out = np.full(len(obj), None, dtype=object)
    is_str = np.fromiter((type(v) is str for v in raw), dtype=bool, count=len(raw))
    out[is_str] = raw[is_str]
    is_num = np.fromiter((type(v) in _NUMBER_TYPES for v in raw), dtype=bool, count=len(raw))
    if is_num.any():
        numbers = pd.Series(raw[is_num].astype(float))
        whole = np.isfinite(numbers.to_numpy()) & (
            numbers.to_numpy() == np.round(numbers.to_numpy())
        )
        text = numbers.astype(str).to_numpy(dtype=object)
        text[whole] = numbers.to_numpy()[whole].astype(np.int64).astype(str)
        text[~np.isfinite(numbers.to_numpy())] = None
        out[is_num] = text
    rest = ~is_str & ~is_num & obj.notna().to_numpy()
    for i in np.flatnonzero(rest):  # booleans, dates, nested values in a mixed column (rare)
        out[i] = _as_text(raw[i])
    return pd.Series(pd.array(out, dtype="string"))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "text"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    if isinstance(value, dt.date | pd.Timestamp):
        return "date"
    return "text"


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _typed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet columns: keep numbers, dates and text; anything else becomes text."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_bool_dtype(col):
            out[name] = col.map({True: "true", False: "false"}).astype("string")
        elif (
            pd.api.types.is_numeric_dtype(col)
            or pd.api.types.is_datetime64_any_dtype(col)
            or isinstance(col.dtype, pd.StringDtype)
        ):
            out[name] = col
        else:
            out[name] = _typed_series(col.tolist())
    return pd.DataFrame(out, index=frame.index)


class TruthFileError(ValueError):
    """A ground-truth file of a simulated dataset cannot be read (one line: file and why)."""


def read_truth(
    path: str | Path, columns: list[str], *, strings: bool = False
) -> pd.DataFrame | None:
    """Read columns of a simulator ground-truth file; ``None`` when the file is absent.

    Parameters
    ----------
    path
        A file under a simulated dataset's ``ground_truth/``.
    columns
        Columns to read.
    strings
        Read text columns as pandas' string dtype (else object).

    Raises
    ------
    TruthFileError
        When the file exists but is truncated, corrupted or lacks a column.

    Examples
    --------
    >>> read_truth("/nonexistent/ground_truth/counterfactuals.parquet", ["person_id"]) is None
    True
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        msg = f"{path}: unreadable ground-truth file ({reason})"
        raise TruthFileError(msg) from err
    return table.to_pandas(types_mapper=_string_mapper if strings else None)


def read_link_truth(path: str | Path) -> pd.DataFrame:
    """Read the simulator's record-to-person truth (``registry, local_id, person_id``).

    For the evaluation of duplicate linkage only: harmonisation itself never reads it.

    Parameters
    ----------
    path
        ``ground_truth/registry_links.parquet`` of a simulated dataset.

    Returns
    -------
    pandas.DataFrame or None
        ``registry, local_id, person_id``; ``None`` when the file is absent.

    Raises
    ------
    TruthFileError
        When the file is truncated, corrupted or lacks a column.
    """
    return read_truth(path, ["registry", "local_id", "person_id"], strings=True)
