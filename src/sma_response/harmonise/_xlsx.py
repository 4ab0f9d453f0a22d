"""A vectorised XLSX sheet parser (the bytes come from :mod:`sma_response.harmonise.io`).

openpyxl builds a Python object per cell (about 50,000 cells a second here), far too slow for a
registry's visit sheet with millions of cells. This parser handles the sheet XML with Arrow
string kernels instead: it splits the ``<sheetData>`` into rows and cells and extracts cell
references, types, styles and values with regular expressions, all in C++. It covers the
SpreadsheetML that spreadsheet programs write (shared and inline strings, numbers, booleans,
errors, formula results, dates as styled serial numbers, ISO ``t="d"`` cells, cells with or
without ``r`` references); anything it cannot read raises :class:`XlsxFormatError`, and the
caller falls back to openpyxl.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["XlsxFormatError", "read_sheet", "sheet_paths"]

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
#: Built-in number formats that display dates or times.
_DATE_FORMAT_IDS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47}
_EXCEL_EPOCH = np.datetime64("1899-12-30")


class XlsxFormatError(ValueError):
    """The workbook uses something this parser does not handle (fall back to openpyxl)."""


def sheet_paths(member: Callable[[str], bytes]) -> dict[str, str]:
    """Sheet name -> zip member path of its XML, in workbook order."""
    book = ET.fromstring(member("xl/workbook.xml"))
    rels = ET.fromstring(member("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("rel:Relationship", _NS)}
    out = {}
    for sheet in book.findall("m:sheets/m:sheet", _NS):
        target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "")
        path = target.lstrip("/") if target.startswith("/") else "xl/" + target
        out[sheet.get("name", "")] = path
    return out


def _shared_strings(member: Callable[[str], bytes], names: set[str]) -> np.ndarray:
    if "xl/sharedStrings.xml" not in names:
        return np.array([], dtype=object)
    root = ET.fromstring(member("xl/sharedStrings.xml"))
    tag_t = f"{{{_NS['m']}}}t"
    return np.array(
        ["".join(t.text or "" for t in si.iter(tag_t)) for si in root.findall("m:si", _NS)],
        dtype=object,
    )


def _date_styles(member: Callable[[str], bytes], names: set[str]) -> np.ndarray:
    """Flag, per cell-style index, the styles that display a date."""
    if "xl/styles.xml" not in names:
        return np.zeros(0, dtype=bool)
    root = ET.fromstring(member("xl/styles.xml"))
    custom = {}
    for fmt in root.findall("m:numFmts/m:numFmt", _NS):
        code = re.sub(r'"[^"]*"|\[[^\]]*\]', "", fmt.get("formatCode", "")).lower()
        custom[int(fmt.get("numFmtId", "0"))] = (
            bool(re.search(r"[dmy]", code)) and "h" not in code[:1]
        )
    flags = []
    for xf in root.findall("m:cellXfs/m:xf", _NS):
        fid = int(xf.get("numFmtId", "0"))
        flags.append(fid in _DATE_FORMAT_IDS or custom.get(fid, False))
    return np.array(flags, dtype=bool)


def _col_index(letters: pd.Series) -> np.ndarray:
    """Spreadsheet column letters to 0-based indices (``A`` -> 0, ``AA`` -> 26)."""
    codes, uniques = pd.factorize(letters)
    lookup = np.zeros(len(uniques), dtype=np.int64)
    for i, u in enumerate(uniques):
        n = 0
        for ch in u:
            n = n * 26 + (ord(ch) - 64)
        lookup[i] = n - 1
    return lookup[codes]


def _field(struct: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(struct, [name])


_CELL = (
    r"^\s*<c(?P<a>[^>]*)>(?:<f[^>]*>[^<]*</f>|<f[^>]*/>)?"
    r"(?:<v>(?P<v>[^<]*)</v>|<is><t(?:\s[^>]*)?>(?P<t>[^<]*)</t></is>)?"
)
_ATTRS = r'^\s*(?:r="(?P<r>[A-Z]+)\d+")?\s*(?:s="(?P<s>\d+)")?\s*(?:t="(?P<t>\w+)")?\s*$'


def _split_cells(cells: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``attributes, <v> value, inline text`` of each cell (``"<c ...>..."``, no ``</c>``).

    Plain cells (``<c ...><v>1</v>`` or ``<c ...><is><t>x</t></is>``) are taken apart with a
    literal split and fixed-offset slices; a regular expression reads only the others
    (formulas, ``<t xml:space=...>``, surrounding white space).
    """
    two = pc.split_pattern(cells, ">", max_splits=1)
    attrs = pc.utf8_slice_codeunits(pc.list_element(two, 0), 2)  # drop "<c"
    rest = pc.list_element(two, 1)
    del two
    is_v = pc.and_(pc.starts_with(rest, "<v>"), pc.ends_with(rest, "</v>"))
    is_inline = pc.and_(pc.starts_with(rest, "<is><t>"), pc.ends_with(rest, "</t></is>"))
    empty = pc.equal(pc.utf8_length(rest), 0)
    value = pc.if_else(is_v, pc.utf8_slice_codeunits(rest, 3, -4), "")
    inline = pc.if_else(is_inline, pc.utf8_slice_codeunits(rest, 7, -9), "")
    odd = pc.invert(pc.or_(pc.or_(is_v, is_inline), empty))
    odd = pc.or_(odd, pc.match_substring(pc.if_else(is_inline, inline, value), "<"))
    if pc.any(odd).as_py():
        idx = pc.indices_nonzero(odd)
        parts = pc.extract_regex(pc.take(cells, idx), _CELL)
        if parts.null_count:
            msg = "cells this parser does not understand"
            raise XlsxFormatError(msg)
        mask = odd.to_numpy(zero_copy_only=False)
        out = []
        for whole, name in ((value, "v"), (inline, "t")):
            arr = whole.to_numpy(zero_copy_only=False).copy()
            arr[mask] = _field(parts, name).to_numpy(zero_copy_only=False)
            out.append(pa.array(arr, type=pa.string()))
        value, inline = out
    return attrs, value, inline


def _attributes(attrs: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Column letters, cell type (``n`` when absent) and style index of each cell."""
    encoded = pc.dictionary_encode(attrs)
    if len(encoded.dictionary) * 4 < len(attrs) or len(attrs) < 1000:
        # few distinct attribute strings (no cell references): read each once
        uniq = encoded.dictionary
        ref_u, kind_u, style_u = _attributes_regex(uniq)
        index = encoded.indices
        return pc.take(ref_u, index), pc.take(kind_u, index), pc.take(style_u, index)
    return _attributes_regex(attrs)


def _attributes_regex(attrs: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    parts = pc.extract_regex(attrs, _ATTRS)
    if parts.null_count == 0:  # the usual attribute order: r, s, t
        ref, style, kind = (_field(parts, k) for k in ("r", "s", "t"))
        empty = pa.scalar("", pa.string())
        ref = pc.if_else(pc.equal(ref, empty), pa.scalar(None, pa.string()), ref)
        style = pc.if_else(pc.equal(style, empty), pa.scalar(None, pa.string()), style)
        kind = pc.if_else(pc.equal(kind, empty), "n", kind)
        return ref, kind, style
    ref = _field(pc.extract_regex(attrs, r'(?:^|\s)r="(?P<x>[A-Z]+)\d*"'), "x")
    kind = pc.fill_null(_field(pc.extract_regex(attrs, r'(?:^|\s)t="(?P<x>\w+)"'), "x"), "n")
    style = _field(pc.extract_regex(attrs, r'(?:^|\s)s="(?P<x>\d+)"'), "x")
    return ref, kind, style


def read_sheet(
    member: Callable[[str], bytes], names: set[str], path: str, *, header_row: int
) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Header names, one typed column per header cell, and the sheet row of each data row.

    The sheet is split at ``</c>`` into one piece per cell (the first cell of a row carries the
    row's start tag). Pieces repeat a lot (``NA``, ``Yes``, small scores, a patient's id on every
    visit), so they are dictionary-encoded and only the *distinct* pieces are parsed; a sheet
    whose cells carry ``r`` references (all distinct) is parsed piece by piece, more slowly.

    Parameters
    ----------
    member
        Returns the bytes of a zip member.
    names
        Zip member names.
    path
        The sheet's member path.
    header_row
        1-based row of the header.

    Returns
    -------
    tuple
        ``(names, frame, rows)``: a column whose cells are all numbers is float, all dates
        datetime, otherwise text (numbers written without a spurious ``.0``, dates as ISO).
        Rows without any value are dropped; ``rows`` are their 1-based sheet row numbers.

    Raises
    ------
    XlsxFormatError
        If the sheet uses markup this parser does not handle.
    """
    xml = member(path)
    start, end = xml.find(b"<sheetData"), xml.rfind(b"</sheetData>")
    if start < 0:
        msg = "no <sheetData> in the sheet"
        raise XlsxFormatError(msg)
    if end < 0:  # an empty sheet writes <sheetData/>
        return [], pd.DataFrame(), np.zeros(0, dtype=np.int64)
    body = xml[xml.find(b">", start) + 1 : end]
    del xml
    if b"<r>" in body or b"<r " in body or b"<rPh" in body:
        msg = "rich text in cells"
        raise XlsxFormatError(msg)
    if b"/>" in body:  # empty styled cells <c r="B2" s="1"/>: give them a closing tag
        body = re.sub(rb"<c([^>]*?)/>", rb"<c\1></c>", body)
    text = pa.array([body.decode("utf-8")], type=pa.large_string())
    del body
    encoded = pc.dictionary_encode(pc.list_flatten(pc.split_pattern(text, "</c>")))
    del text
    pieces, piece_of = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    del encoded
    # -- rows: pieces that open a row (distinct by construction: the row number is in them)
    opens = pc.match_substring(pieces, "<row").to_numpy(zero_copy_only=False)
    openers = pc.filter(pieces, pa.array(opens))
    row_attr = _field(pc.extract_regex(openers, r"<row(?P<a>[^>]*)>[^<]*<c"), "a")
    if row_attr.null_count:
        msg = "cells outside <row> elements"
        raise XlsxFormatError(msg)
    row_no = _field(pc.extract_regex(row_attr, r'(?:^|\s)r="(?P<r>\d+)"'), "r")
    stripped = pc.replace_substring_regex(openers, r"^[\s\S]*<row[^>]*>\s*", "")
    opener_index = np.cumsum(opens) - 1
    pieces = pc.if_else(
        pa.array(opens), pc.take(stripped, pa.array(np.maximum(opener_index, 0))), pieces
    )
    # -- cells: parse each distinct piece once
    is_cell = pc.starts_with(pieces, "<c").to_numpy(zero_copy_only=False)
    cell_entry = np.where(is_cell, np.cumsum(is_cell) - 1, -1)  # piece -> distinct cell entry
    attrs, value, inline = _split_cells(pc.filter(pieces, pa.array(is_cell)))
    del pieces
    entries = _parse_entries(attrs, value, inline, member, names)
    # -- per cell of the sheet
    piece_opens = opens[piece_of]
    row_of_piece = np.cumsum(piece_opens) - 1
    if row_no.null_count:
        row_numbers = np.arange(1, int(piece_opens.sum()) + 1, dtype=np.int64)
    else:
        row_numbers = pc.cast(row_no, pa.int64()).to_numpy()[opener_index[piece_of[piece_opens]]]
    entry = cell_entry[piece_of]
    keep = entry >= 0
    if keep.any() and row_of_piece[keep].min() < 0:
        msg = "cells before the first <row>"
        raise XlsxFormatError(msg)
    entry, parent = entry[keep], row_of_piece[keep]
    del piece_of, row_of_piece, keep
    # parent (the row index of each cell) never decreases: rows come in order
    new_row = np.empty(len(parent), dtype=bool)
    new_row[:1] = True
    np.not_equal(parent[1:], parent[:-1], out=new_row[1:])
    if entries["col"] is not None:
        col = entries["col"][entry]
    else:  # no references: cells follow each other from column A
        starts = np.flatnonzero(new_row)
        col = np.arange(len(entry)) - np.repeat(starts, np.diff(np.append(starts, len(entry))))
    present = entries["present"][entry]
    cell_row = row_numbers[parent]
    # -- header and data columns
    head = np.flatnonzero((cell_row == header_row) & present)
    text_np = entries["text"].to_numpy(zero_copy_only=False)
    header: dict[int, str] = {}
    for i in head:
        e = entry[i]
        label = (
            text_np[e]
            if entries["has_text"][e] or entries["iso"][e]
            else repr(entries["number"][e])
        )
        header[int(col[i])] = "" if label is None else str(label).removesuffix(".0").strip()
    data = (cell_row > header_row) & present
    has_data = np.zeros(len(row_numbers), dtype=bool)
    has_data[parent[data]] = True
    data_rows = row_numbers[has_data]
    if len(data_rows) > 1 and (np.diff(data_rows) <= 0).any():
        msg = "rows out of order"
        raise XlsxFormatError(msg)
    pos = (np.cumsum(has_data) - 1)[parent]
    width = max(header) + 1 if header else 0
    if width > 16000:
        msg = "too many columns"
        raise XlsxFormatError(msg)
    idx = np.flatnonzero(data & (col < width))
    col_small = col[idx].astype(np.int16)
    order = idx[np.argsort(col_small, kind="stable")]
    bounds = np.searchsorted(np.sort(col_small, kind="stable"), np.arange(width + 1))
    columns: dict[str, Any] = {}
    for j in range(width):
        sel = order[bounds[j] : bounds[j + 1]]
        columns[header.get(j) or f"(column {j + 1})"] = _typed_column(
            entry[sel], pos[sel], len(data_rows), entries
        )
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(data_rows)))
    return [header.get(j, "") for j in range(width)], frame, data_rows


def _parse_entries(
    attrs: pa.Array,
    value: pa.Array,
    inline: pa.Array,
    member: Callable[[str], bytes],
    names: set[str],
) -> dict[str, Any]:
    """Kind, text, number and column of each distinct cell."""
    n = len(attrs)
    ref, kind, style = _attributes(attrs)
    if ref.null_count == 0:
        col = _col_index(pd.Series(ref.to_numpy(zero_copy_only=False)))
    elif ref.null_count == n:
        col = None
    else:
        msg = "cells with and without references"
        raise XlsxFormatError(msg)
    kinds = set(pc.unique(kind).to_pylist())
    known = {"inlineStr", "s", "str", "e", "d", "b", "n"}
    if not kinds <= known:
        msg = f"unknown cell types {sorted(kinds - known)}"
        raise XlsxFormatError(msg)

    def is_kind(code: str) -> pa.Array:
        return pc.equal(kind, code)

    text = pc.if_else(is_kind("inlineStr"), inline, pa.scalar(None, pa.string()))
    for code in ("str", "e", "d"):
        if code in kinds:
            text = pc.if_else(is_kind(code), value, text)
    if "b" in kinds:
        text = pc.if_else(is_kind("b"), pc.if_else(pc.equal(value, "1"), "true", "false"), text)
    if "s" in kinds:
        shared = pa.array(_shared_strings(member, names), type=pa.string())
        is_s = is_kind("s")
        index = pc.cast(pc.if_else(is_s, value, "0"), pa.int64())
        if len(shared) == 0 or pc.max(index).as_py() >= len(shared):
            msg = "bad shared-string index"
            raise XlsxFormatError(msg)
        text = pc.if_else(is_s, pc.take(shared, index), text)
    if pc.any(pc.match_substring(text, "&")).as_py():
        escaped = pc.fill_null(pc.match_substring(text, "&"), fill_value=False).to_numpy(
            zero_copy_only=False
        )
        values = text.to_numpy(zero_copy_only=False).copy()
        values[escaped] = [html.unescape(v) for v in values[escaped]]  # XML entities: few entries
        text = pa.array(values, type=pa.string())
    is_num = pc.and_(is_kind("n"), pc.not_equal(value, ""))
    number = pc.cast(pc.if_else(is_num, value, pa.scalar(None, pa.string())), pa.float64())
    number_np = number.to_numpy(zero_copy_only=False)
    is_date = np.zeros(n, dtype=bool)
    date_styles = _date_styles(member, names)
    if len(date_styles) and date_styles.any():
        s_idx = pc.cast(pc.fill_null(style, "0"), pa.int64()).to_numpy()
        valid = s_idx < len(date_styles)
        is_date[valid] = date_styles[s_idx[valid]]
        is_date &= ~np.isnan(number_np)
    iso = is_kind("d").to_numpy(zero_copy_only=False)
    has_text = pc.is_valid(text).to_numpy(zero_copy_only=False) & ~iso
    has_num = ~np.isnan(number_np) & ~is_date
    return {
        "col": col,
        "text": text,
        "number": number_np,
        "has_text": has_text,
        "is_date": is_date,
        "iso": iso,
        "present": has_text | has_num | is_date | iso,
    }


def _serial_to_datetime(days: np.ndarray) -> np.ndarray:
    return (_EXCEL_EPOCH + np.round(days * 86400).astype("timedelta64[s]")).astype("datetime64[ns]")


def _typed_column(entry: np.ndarray, pos: np.ndarray, n: int, entries: dict[str, Any]) -> pd.Series:
    """One column from its cells (distinct-cell ``entry`` per cell, row position ``pos``)."""
    t, d, i = entries["has_text"][entry], entries["is_date"][entry], entries["iso"][entry]
    num = ~t & ~d & ~i
    number = entries["number"]
    if len(entry) == 0:
        return pd.Series(pd.array([None] * n, dtype="string"))
    if num.all():
        values = np.full(n, np.nan)
        values[pos] = number[entry]
        return pd.Series(values)
    if d.all():
        values = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        values[pos] = _serial_to_datetime(number[entry])
        return pd.Series(values)
    if i.all():
        values = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        dates = pc.take(entries["text"], pa.array(entry)).to_pandas()
        values[pos] = pd.to_datetime(dates, errors="coerce").to_numpy()
        return pd.Series(values)
    # mixed: everything as text (numbers without a spurious ".0", dates as ISO)
    text = pc.take(entries["text"], pa.array(entry))
    if num.any():
        as_num = pc.cast(
            pa.array(np.where(num, number[entry] + 0.0, np.nan), from_pandas=True), pa.string()
        )
        text = pc.if_else(pa.array(num), as_num, text)
    if d.any():
        days = np.where(d, number[entry], 0.0)
        dates = pa.array(_serial_to_datetime(days).astype("datetime64[D]").astype(str))
        text = pc.if_else(pa.array(d), dates, text)
    index = np.full(n, -1, dtype=np.int64)
    index[pos] = np.arange(len(entry))
    full = pc.take(text, pa.array(index, mask=index < 0))
    return pd.Series(pd.array(full.cast(pa.large_string()), dtype="string[pyarrow]"))
