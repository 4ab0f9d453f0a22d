"""Registry exports: each registry's observations written in its own file format.

Four writers, one per ``export_format``, each with the quirks a harmoniser must absorb:

``dach_csv``
    Semicolon CSV in Windows-1252 with CRLF line ends, German column names, day-first dates
    (``DD.MM.YYYY``), decimal commas, ``k.A.`` for missing, brand names of the therapies, long
    tables (one row per assessment) in several files.
``ismac_xlsx``
    One XLSX workbook; the visit sheet is wide (one row per visit, one column per scale total),
    English column names, ``Male``/``Female``, types ``1``, ``2``, ``3a`` or ``3 (unknown
    subtype)``, ``NA`` for missing, ISO dates as text.
``nl_parquet``
    Parquet tables with Dutch column names, ISO dates as text, Dutch decimal type classes
    (``1a``/``1b``/``1c``, ``2a``/``2b``), sex ``V``/``M`` and ventilation in hours per *week*.
``cure_json``
    A patient-reported JSON list of participants with nested yearly surveys: milestone checklists
    only (no clinician scales), roman-numeral types, ``-99`` for missing, US dates
    (``MM/DD/YYYY``), partial dates (``YYYY-MM``) for diagnosis, onset and events, weight in pounds.

Every export carries the direct identifiers a real one would (names, hospital record number,
exact birth date). Functions here are pure: they return ``{relative_path: bytes}`` and write
nothing; the bytes depend only on their input (no clock, no random state), so the same data give
byte-identical files.
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from collections.abc import Callable, Mapping
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sma_response.simulate.cohort import DAYS_PER_MONTH
from sma_response.simulate.params import MILESTONES, SCALES
from sma_response.simulate.registries import RegistryData, birth_dates
from sma_response.simulate.spec import RegistrySpec, SimulationSpec, SimulationSpecError

__all__ = [
    "EXPORT_FORMATS",
    "XLSX_MAX_ROWS",
    "check_export_formats",
    "csv_bytes",
    "dutch_type",
    "export_registries",
    "parquet_bytes",
    "xlsx_bytes",
]

Writer = Callable[[RegistryData, RegistrySpec, SimulationSpec], dict[str, bytes]]

#: Fixed time stamp of every member of a zip container (XLSX), for byte-identical output.
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
#: Excel's sheet size limit (rows, header included): longer tables continue on a new sheet.
XLSX_MAX_ROWS = 1_048_576


def export_registries(data: RegistryData, *, spec: SimulationSpec) -> dict[str, bytes]:
    """Write every registry's export in its own format.

    Parameters
    ----------
    data
        Registry observations (:func:`sma_response.simulate.registries.observe_registries`).
    spec
        Simulation spec naming each registry's ``export_format``.

    Returns
    -------
    dict of str to bytes
        File content by path relative to the dataset folder, ``<registry>/<file>``.

    Raises
    ------
    SimulationSpecError
        If a registry names an unknown export format.
    """
    check_export_formats(spec)
    files: dict[str, bytes] = {}
    for reg in spec.registries:
        files.update(EXPORT_FORMATS[reg.export_format](data.registry(reg.name), reg, spec))
    return files


def check_export_formats(spec: SimulationSpec) -> None:
    """Raise :class:`SimulationSpecError` naming the first registry with an unknown format.

    Examples
    --------
    >>> from sma_response.simulate.spec import RegionSpec, RegistrySpec
    >>> registries = [RegistrySpec("a", "DE", "dach_csv")]
    >>> check_export_formats(SimulationSpec(regions=[RegionSpec("DE")], registries=registries))
    """
    for i, reg in enumerate(spec.registries):
        if reg.export_format not in EXPORT_FORMATS:
            msg = (
                f"simulation.registries[{i}].export_format: unknown format {reg.export_format!r}; "
                f"expected one of {sorted(EXPORT_FORMATS)}"
            )
            raise SimulationSpecError(msg)


# ----------------------------------------------------------------------------- columns
# Writers build Arrow columns: text, numbers or flags, with nulls for missing values. Each
# serialiser then writes a null its own way (``k.A.``, ``NA``, a parquet null, ``-99``).


def _local_codes(table: pd.DataFrame, patients: pd.DataFrame) -> np.ndarray:
    """Row of ``patients`` holding each row's ``local_id`` (-1 when absent)."""
    local = table["local_id"]
    if not isinstance(local.dtype, pd.CategoricalDtype):
        local = local.astype("category")
    where = pd.Index(patients["local_id"].astype(str)).get_indexer(local.cat.categories.astype(str))
    codes = local.cat.codes.to_numpy()
    return np.where(codes >= 0, where[codes], -1)


def _dates(table: pd.DataFrame, patients: pd.DataFrame, age_days: str | np.ndarray) -> np.ndarray:
    """Calendar dates (``datetime64[D]``) of ages in days; ``NaT`` where the age is missing."""
    row = _local_codes(table, patients)
    birth = patients["birth_date"].to_numpy().astype("datetime64[D]")[row]
    age = np.asarray(table[age_days] if isinstance(age_days, str) else age_days, dtype=float)
    known = ~np.isnan(age) & (row >= 0)
    days = np.floor(np.where(known, age, 0.0)).astype(np.int64).astype("timedelta64[D]")
    return np.where(known, birth + days, np.datetime64("NaT"))


def _null_where(column: pa.Array, missing: np.ndarray) -> pa.Array:
    return pc.if_else(
        pa.array(np.asarray(missing, dtype=bool)), pa.scalar(None, column.type), column
    )


def _digits(values: np.ndarray, width: int) -> pa.Array:
    """Non-negative integers as zero-padded text."""
    text = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(text, width=width, padding="0")


def _fmt_dates(dates: np.ndarray, style: str) -> pa.Array:
    """Format ``datetime64[D]`` dates as ``iso``, ``dmy`` (DD.MM.YYYY), ``mdy`` or ``ym``."""
    d = np.asarray(dates, dtype="datetime64[D]")
    nat = np.isnat(d)
    safe = np.where(nat, np.datetime64(0, "D"), d)
    month_start = safe.astype("datetime64[M]")
    year = _digits(safe.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    month = _digits(month_start.astype(np.int64) % 12 + 1, 2)
    day = _digits((safe - month_start.astype("datetime64[D]")).astype(np.int64) + 1, 2)
    parts = {
        "iso": (year, month, day, "-"),
        "dmy": (day, month, year, "."),
        "mdy": (month, day, year, "/"),
        "ym": (year, month, "-"),
    }[style]
    return _null_where(pc.binary_join_element_wise(*parts), nat)


def _fmt_number(values: object, *, decimals: int, comma: bool = False) -> pa.Array:
    """Numbers as text with a fixed number of decimals (decimal comma optional)."""
    x = np.asarray(values, dtype=float)
    unknown = np.isnan(x)
    scaled = np.round(np.where(unknown, 0.0, x) * 10**decimals).astype(np.int64)
    magnitude = np.abs(scaled)
    text = pc.cast(pa.array(magnitude // 10**decimals), pa.string())
    if decimals:
        frac = _digits(magnitude % 10**decimals, decimals)
        text = pc.binary_join_element_wise(text, frac, "," if comma else ".")
    text = pc.if_else(pa.array(scaled < 0), pc.binary_join_element_wise("-", text, ""), text)
    return _null_where(text, unknown)


def _number(values: object) -> pa.Array:
    """Floats with nulls for missing values (NaN or NA)."""
    return pa.array(pd.array(values, dtype="Float64"))


def _integer(values: object) -> pa.Array:
    """Integers with nulls for missing values (rounded from floats)."""
    x = np.asarray(pd.array(values, dtype="Float64").to_numpy(dtype=float, na_value=np.nan))
    return pa.array(np.round(np.nan_to_num(x)).astype(np.int64), mask=np.isnan(x))


def _text(values: object) -> pa.Array:
    """Text (from strings, objects or categories) with nulls for missing values."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = pa.array(series.cat.categories.astype(str).to_numpy(dtype=object), pa.string())
        codes = series.cat.codes.to_numpy().astype(np.int64)
        return pc.take(categories, pa.array(codes, mask=codes < 0))
    return pa.array(np.asarray(series, dtype=object), type=pa.string(), from_pandas=True)


def _prefixed(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """``prefix`` followed by zero-padded numbers, e.g. centre codes ``Z01``."""
    return pc.binary_join_element_wise(prefix, _digits(values, width), "")


def _fmt_flag(values: object, yes: str, no: str) -> pa.Array:
    """Write a nullable boolean as ``yes``/``no`` text."""
    return pc.if_else(pa.array(pd.array(values, dtype="boolean")), yes, no)


def _flag(values: object) -> pa.Array:
    """Convert to a nullable boolean column."""
    return pa.array(pd.array(values, dtype="boolean"))


def _recode(values: object, mapping: Mapping[str, str]) -> pa.Array:
    """Map codes through ``mapping``; values not in it (or missing) become null."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        uniques = list(series.cat.categories)
    else:
        codes, found = pd.factorize(np.asarray(series, dtype=object))
        uniques = list(found)
    lookup = pa.array([mapping.get(u) for u in uniques], type=pa.string())
    return pc.take(lookup, pa.array(codes, mask=codes < 0))


def _replace(column: pa.Array, where: np.ndarray, value: str) -> pa.Array:
    """Put ``value`` into ``column`` where ``where`` is true."""
    return pc.if_else(
        pa.array(np.asarray(where, dtype=bool)), pa.scalar(value, pa.string()), column
    )


# ----------------------------------------------------------------------------- serialisers


def csv_bytes(
    table: pa.Table, *, sep: str, missing: str, encoding: str, lineterminator: str
) -> bytes:
    """Serialise a table as delimited text (values quoted only where they must be).

    Parameters
    ----------
    table
        Columns to write; non-text columns are written through Arrow's text cast.
    sep
        Field separator.
    missing
        Text written for a null.
    encoding
        Text encoding; a character it cannot encode raises ``UnicodeEncodeError``.
    lineterminator
        Line end, also after the last row.

    Returns
    -------
    bytes
        The file content, header first.
    """
    special = (sep, '"', "\r", "\n")
    header = sep.join(_csv_quote(name, special) for name in table.column_names)
    if table.num_rows == 0:
        return (header + lineterminator).encode(encoding)
    columns = []
    for column in table.columns:
        text = column.combine_chunks()
        if not pa.types.is_string(text.type):
            text = pc.cast(text, pa.string())
        needs = _contains_any(text, special)
        if needs is not None:
            quoted = pc.binary_join_element_wise(
                '"', pc.replace_substring(text, '"', '""'), '"', ""
            )
            text = pc.if_else(needs, quoted, text)
        columns.append(pc.fill_null(text, missing))
    rows = pc.binary_join_element_wise(*columns, sep)
    body = lineterminator.join(rows.to_pylist())
    return (header + lineterminator + body + lineterminator).encode(encoding)


def _csv_quote(value: str, special: tuple[str, ...]) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in special) else value


def _contains_any(text: pa.Array, needles: tuple[str, ...]) -> pa.Array | None:
    """Mask of values containing any of ``needles`` (``None`` when none does: the usual case)."""
    found = [pc.fill_null(pc.match_substring(text, n), pa.scalar(value=False)) for n in needles]
    hits = [mask for mask in found if pc.any(mask).as_py()]
    if not hits:
        return None
    mask = hits[0]
    for other in hits[1:]:
        mask = pc.or_(mask, other)
    return mask


def parquet_bytes(table: pa.Table | pd.DataFrame) -> bytes:
    """Serialise a table as Parquet bytes without pandas schema metadata.

    Dropping the metadata keeps the file what a non-Python registry would write, and the
    bytes free of library versions other than the writer's ``created_by``.

    Parameters
    ----------
    table
        Table to write (a frame's index is dropped).

    Returns
    -------
    bytes
        Parquet file content (snappy compression, statistics on).
    """
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(None), sink, compression="snappy")
    return bytes(sink.getvalue().to_pybytes())


def xlsx_bytes(
    sheets: Mapping[str, pa.Table | pd.DataFrame], *, missing: str, created: str, creator: str
) -> bytes:
    """Write a minimal, standard XLSX workbook (one sheet per table) as bytes.

    The sheet XML is built column-wise with Arrow string kernels, which is about 50 times faster
    than a cell-by-cell writer (openpyxl writes about 50,000 cells a second here), and the zip
    members carry a fixed time stamp, so the bytes depend only on the data. Readers such as
    openpyxl and ``pandas.read_excel`` open it as any workbook. Tables longer than Excel's row
    limit continue on sheets named ``"<name> (2)"``, ``"<name> (3)"``, ...

    Parameters
    ----------
    sheets
        Sheet name to table (or frame). Integer and float columns become number cells,
        everything else text cells (inline strings); nulls become the text ``missing``.
    missing
        Text written for a missing value.
    created
        Creation time written into the document properties (W3CDTF, e.g. ``2026-07-01T00:00:00Z``).
    creator
        Author written into the document properties.

    Returns
    -------
    bytes
        The workbook.
    """
    parts: list[tuple[str, pa.Table]] = []
    step = XLSX_MAX_ROWS - 1
    for name, sheet in sheets.items():
        table = (
            pa.Table.from_pandas(sheet, preserve_index=False)
            if isinstance(sheet, pd.DataFrame)
            else sheet
        )
        for k, start in enumerate(range(0, max(table.num_rows, 1), step)):
            parts.append((name if k == 0 else f"{name} ({k + 1})", table.slice(start, step)))
    members = {
        "[Content_Types].xml": _content_types(len(parts)),
        "_rels/.rels": _ROOT_RELS,
        "docProps/app.xml": _APP_XML,
        "docProps/core.xml": _core_xml(created=created, creator=creator),
        "xl/workbook.xml": _workbook_xml([name for name, _ in parts]),
        "xl/_rels/workbook.xml.rels": _workbook_rels(len(parts)),
        "xl/styles.xml": _STYLES_XML,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, text in members.items():
            _zip_write(archive, member, text.encode("utf-8"))
        for i, (_, table) in enumerate(parts, start=1):
            _zip_write(archive, f"xl/worksheets/sheet{i}.xml", _sheet_xml(table, missing=missing))
    return buffer.getvalue()


def _zip_write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    # Fast deflate: sheets are large and highly repetitive; level 1 is 3-4 times faster than 6.
    archive.writestr(info, data, compresslevel=1)


def _column_letter(i: int) -> str:
    letters = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _sheet_xml(table: pa.Table, *, missing: str) -> bytes:
    n_rows, n_cols = table.num_rows, table.num_columns
    missing_cell = f'<c t="inlineStr"><is><t>{escape(missing)}</t></is></c>'
    header = "".join(
        f'<c t="inlineStr"><is><t>{escape(str(c))}</t></is></c>' for c in table.column_names
    )
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{_column_letter(max(n_cols - 1, 0))}{n_rows + 1}"/><sheetData>'
        f'<row r="1">{header}</row>'
    )
    body = ""
    if n_rows:
        cells = [_xml_cells(column.combine_chunks(), missing_cell) for column in table.columns]
        numbers = pc.cast(pa.array(np.arange(2, n_rows + 2)), pa.string())
        rows = pc.binary_join_element_wise('<row r="', numbers, '">', *cells, "</row>", "")
        body = "".join(rows.to_pylist())
    return (head + body + "</sheetData></worksheet>").encode("utf-8")


def _xml_cells(column: pa.Array, missing_cell: str) -> pa.Array:
    """One cell element per value: number cells for numeric columns, inline strings otherwise."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        text = pc.cast(column, pa.string())
        cells = pc.binary_join_element_wise("<c><v>", text, "</v></c>", "")
    else:
        text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
        if _contains_any(text, ("&", "<", ">")) is not None:
            for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
                text = pc.replace_substring(text, char, entity)
        cells = pc.binary_join_element_wise('<c t="inlineStr"><is><t>', text, "</t></is></c>", "")
    return pc.fill_null(cells, missing_cell)


def _records(table: pa.Table, missing: object) -> list[dict[str, object]]:
    """Rows of ``table`` as dicts of plain Python values, ``missing`` for nulls."""
    names = table.column_names
    columns = [
        [missing if v is None else v for v in column.to_pylist()]
        if column.null_count
        else column.to_pylist()
        for column in table.columns
    ]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _nest(
    parent_rows: int, child_rows: np.ndarray, records: list[dict[str, object]]
) -> list[list[dict[str, object]]]:
    """Group child records into one list per parent row (by the parent row of each child)."""
    order = np.argsort(child_rows, kind="stable")
    ordered = [records[i] for i in order]
    bounds = np.searchsorted(child_rows[order], np.arange(parent_rows + 1))
    return [ordered[a:b] for a, b in itertools.pairwise(bounds)]


def _content_types(n_sheets: int) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, n_sheets + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{sheets}"
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    )


_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'extended-properties" '
    'Target="docProps/app.xml"/>'
    "</Relationships>"
)
_APP_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>Microsoft Excel</Application></Properties>"
)
_STYLES_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _core_xml(*, created: str, creator: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        "<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>{escape(creator)}</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _workbook_xml(names: list[str]) -> str:
    sheets = "".join(
        f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(names, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<sheets>{sheets}</sheets></workbook>"
    )


def _workbook_rels(n_sheets: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{i}" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, n_sheets + 1)
    )
    styles = (
        f'<Relationship Id="rId{n_sheets + 1}" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/>'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{rels}{styles}</Relationships>"
    )


# ----------------------------------------------------------------------------- SMArtCARE-like CSV

_DACH_MISSING = "k.A."
_DACH_THERAPY = {"nusinersen": "Spinraza", "risdiplam": "Evrysdi", "onasemnogene": "Zolgensma"}
_DACH_TEST = {
    "chop_intend": "CHOP-INTEND",
    "hine2": "HINE-2",
    "hfmse": "HFMSE",
    "rhs": "RHS",
    "rulm": "RULM",
    "mfm32": "MFM-32",
    "6mwt": "6MWT",
}
_DACH_UNIT = dict.fromkeys(SCALES, "Punkte") | {"6mwt": "Meter", "mfm32": "Prozent"}
_DACH_EVENT = {
    "death": "Tod",
    "permanent_ventilation": "Dauerbeatmung",
    "feeding_tube": "Ernährungssonde",
    "scoliosis_surgery": "Skoliose-OP",
    "loss_of_ambulation": "Verlust der Gehfähigkeit",
}
_DACH_STATUS = {"data_cut": "aktiv", "death": "verstorben", "dropout": "ausgeschieden"}
_DACH_MILESTONE = {
    "head_control": "Kopfkontrolle",
    "sitting": "Freies Sitzen",
    "standing": "Freies Stehen",
    "walking": "Freies Gehen",
}


def _exit_age(patients: pd.DataFrame) -> np.ndarray:
    """Exit age where the registry knows the patient left (death, drop-out); NaN if active."""
    active = patients["exit_reason"].to_numpy() == "data_cut"
    return np.where(active, np.nan, patients["exit_age_days"].to_numpy(dtype=float))


def _export_dach_csv(
    data: RegistryData, reg: RegistrySpec, spec: SimulationSpec
) -> dict[str, bytes]:
    """SMArtCARE-like export: semicolon CSV, cp1252, DD.MM.YYYY, decimal commas, ``k.A.``."""
    pt = data.patients

    def dates(table: pd.DataFrame, column: str | np.ndarray) -> pa.Array:
        return _fmt_dates(_dates(table, pt, column), "dmy")

    def flag(values: object) -> pa.Array:
        return _fmt_flag(values, "ja", "nein")

    # A presymptomatic patient whose symptoms were never seen is recorded as such, not by type.
    unseen = pt["presymptomatic"].to_numpy(dtype=bool) & np.isnan(pt["onset_age_days"].to_numpy())
    patients = pa.table(
        {
            "Patienten-ID": _text(pt["local_id"]),
            "Aktennummer": _text(pt["record_number"]),
            "Nachname": _text(pt["last_name"]),
            "Vorname": _text(pt["first_name"]),
            "Geburtsdatum": _fmt_dates(pt["birth_date"].to_numpy(), "dmy"),
            "Geschlecht": _recode(pt["sex"], {"F": "w", "M": "m"}),
            "Zentrum": _prefixed("Z", pt["site"].to_numpy(), 2),
            "SMA-Typ": _replace(_text(pt["sma_type"]), unseen, "präsymptomatisch"),
            "SMN2-Kopien": _integer(pt["smn2_copies"]),
            "Symptombeginn (Monate)": _fmt_number(
                pt["onset_age_days"].to_numpy() / DAYS_PER_MONTH, decimals=1, comma=True
            ),
            "Diagnosedatum": dates(pt, "diagnosis_age_days"),
            "Präsymptomatische Diagnose": flag(pt["presymptomatic"]),
            "Einschlussdatum": dates(pt, "entry_age_days"),
            "Status": _recode(pt["exit_reason"], _DACH_STATUS),
            "Datum Ausscheiden": dates(pt, _exit_age(pt)),
        }
    )
    tr = data.treatments
    therapies = pa.table(
        {
            "Patienten-ID": _text(tr["local_id"]),
            "Therapie": _recode(tr["therapy"], _DACH_THERAPY),
            "Therapielinie": _integer(tr["line"]),
            "Beginn": dates(tr, "start_age_days"),
            "Ende": dates(tr, "stop_age_days"),
        }
    )
    vi = data.visits
    visits = pa.table(
        {
            "Patienten-ID": _text(vi["local_id"]),
            "Visitendatum": dates(vi, "visit_age_days"),
            **{label: flag(vi[m]) for m, label in _DACH_MILESTONE.items()},
            "Gehfähig": flag(vi["ambulant"]),
            "Beatmung h/Tag": _fmt_number(vi["ventilation_hours_per_day"], decimals=0),
            "Ernährungssonde": flag(vi["feeding_tube"]),
            "Skoliose-OP": flag(vi["scoliosis_surgery"]),
            "Gewicht kg": _fmt_number(vi["weight_kg"], decimals=1, comma=True),
        }
    )
    asm = data.assessments
    assessments = pa.table(
        {
            "Patienten-ID": _text(asm["local_id"]),
            "Untersuchungsdatum": dates(asm, "visit_age_days"),
            "Test": _recode(asm["scale"], _DACH_TEST),
            "Gesamtwert": _fmt_number(asm["score"], decimals=0),
            "Einheit": _recode(asm["scale"], _DACH_UNIT),
        }
    )
    ev = data.events
    events = pa.table(
        {
            "Patienten-ID": _text(ev["local_id"]),
            "Ereignis": _recode(ev["event"], _DACH_EVENT),
            "Datum": dates(ev, "age_days"),
        }
    )
    tables = {
        "patienten.csv": patients,
        "therapien.csv": therapies,
        "visiten.csv": visits,
        "untersuchungen.csv": assessments,
        "ereignisse.csv": events,
    }
    return {
        f"{reg.name}/{name}": csv_bytes(
            table, sep=";", missing=_DACH_MISSING, encoding="cp1252", lineterminator="\r\n"
        )
        for name, table in tables.items()
    }


# ----------------------------------------------------------------------------- iSMAC-like XLSX

_ISMAC_MISSING = "NA"
_ISMAC_SCALE_COLUMN = {
    "chop_intend": "CHOP_TOT",
    "hine2": "HINE2_TOT",
    "hfmse": "HFMSE_TOT",
    "rhs": "RHS_TOT",
    "rulm": "RULM_TOT",
    "mfm32": "MFM32_TOT",
    "6mwt": "6MWT_M",
}
_ISMAC_THERAPY = {
    "nusinersen": "Nusinersen",
    "risdiplam": "Risdiplam",
    "onasemnogene": "Onasemnogene abeparvovec",
}
_ISMAC_EVENT = {
    "death": "Death",
    "permanent_ventilation": "Permanent ventilation",
    "feeding_tube": "Feeding tube",
    "scoliosis_surgery": "Spinal fusion",
    "loss_of_ambulation": "Loss of ambulation",
}
_ISMAC_MILESTONE = {
    "head_control": "Head Control",
    "sitting": "Sitting",
    "standing": "Standing",
    "walking": "Walking",
}


def _wide_scores(
    visits: pd.DataFrame, assessments: pd.DataFrame, scales: list[str]
) -> dict[str, np.ndarray]:
    """One score column per scale, aligned with ``visits`` (NaN where not assessed)."""
    v_codes = visits["local_id"].cat.codes.to_numpy().astype(np.int64)
    a_codes = assessments["local_id"].cat.codes.to_numpy().astype(np.int64)
    width = int(max(visits["visit_no"].max() if len(visits) else 0, 1)) + 1
    v_key = v_codes * width + visits["visit_no"].to_numpy()
    a_key = a_codes * width + assessments["visit_no"].to_numpy()
    order = np.argsort(v_key, kind="stable")
    pos = order[np.searchsorted(v_key, a_key, sorter=order)]
    out = {}
    for scale in scales:
        column = np.full(len(visits), np.nan)
        mask = (assessments["scale"] == scale).to_numpy()
        column[pos[mask]] = assessments["score"].to_numpy()[mask]
        out[scale] = column
    return out


def _export_ismac_xlsx(
    data: RegistryData, reg: RegistrySpec, spec: SimulationSpec
) -> dict[str, bytes]:
    """iSMAC-like export: one XLSX workbook, wide visit sheet, ``NA`` for missing."""
    pt = data.patients

    def dates(table: pd.DataFrame, column: str | np.ndarray) -> pa.Array:
        return _fmt_dates(_dates(table, pt, column), "iso")

    def flag(values: object) -> pa.Array:
        return _fmt_flag(values, "Yes", "No")

    no_subtype = pt["sma_type"].isin(["3a", "3b"]).to_numpy() & ~pt["subtype_known"].to_numpy()
    patients = pa.table(
        {
            "Patient ID": _text(pt["local_id"]),
            "Hospital Record Number": _text(pt["record_number"]),
            "Surname": _text(pt["last_name"]),
            "Name": _text(pt["first_name"]),
            "Date of Birth": _fmt_dates(pt["birth_date"].to_numpy(), "iso"),
            "Sex": _recode(pt["sex"], {"F": "Female", "M": "Male"}),
            "Centre": _prefixed("IT-", pt["site"].to_numpy(), 2),
            "SMA Type": _replace(_text(pt["sma_type"]), no_subtype, "3 (unknown subtype)"),
            "SMN2 Copies": _integer(pt["smn2_copies"]),
            "Age at Onset (months)": _number(
                np.round(pt["onset_age_days"].to_numpy() / DAYS_PER_MONTH, 1)
            ),
            "Date of Diagnosis": dates(pt, "diagnosis_age_days"),
            "Presymptomatic Diagnosis": flag(pt["presymptomatic"]),
            "Enrolment Date": dates(pt, "entry_age_days"),
            "End of Follow-up": dates(pt, _exit_age(pt)),
            "Reason for End": _recode(
                pt["exit_reason"], {"death": "Death", "dropout": "Lost to follow-up"}
            ),
        }
    )
    vi = data.visits
    scales = [s for s in SCALES if s in reg.scales]
    wide = _wide_scores(vi, data.assessments, scales)
    visits = pa.table(
        {
            "Patient ID": _text(vi["local_id"]),
            "Visit Date": dates(vi, "visit_age_days"),
            **{_ISMAC_SCALE_COLUMN[s]: _integer(wide[s]) for s in scales},
            **{label: flag(vi[m]) for m, label in _ISMAC_MILESTONE.items()},
            "Ambulant": flag(vi["ambulant"]),
            "Ventilation (h/day)": _integer(vi["ventilation_hours_per_day"]),
            "Feeding Tube": flag(vi["feeding_tube"]),
            "Spinal Surgery": flag(vi["scoliosis_surgery"]),
            "Weight (kg)": _number(vi["weight_kg"]),
        }
    )
    tr = data.treatments
    treatments = pa.table(
        {
            "Patient ID": _text(tr["local_id"]),
            "Drug": _recode(tr["therapy"], _ISMAC_THERAPY),
            "Line": _integer(tr["line"]),
            "Start Date": dates(tr, "start_age_days"),
            "End Date": dates(tr, "stop_age_days"),
        }
    )
    ev = data.events
    events = pa.table(
        {
            "Patient ID": _text(ev["local_id"]),
            "Event": _recode(ev["event"], _ISMAC_EVENT),
            "Event Date": dates(ev, "age_days"),
        }
    )
    cut = _fmt_dates(birth_dates(np.array([spec.data_cut_year])), "iso")[0].as_py()
    workbook = xlsx_bytes(
        {"Patients": patients, "Visits": visits, "Treatments": treatments, "Events": events},
        missing=_ISMAC_MISSING,
        created=f"{cut}T00:00:00Z",
        creator="iSMAC data manager",
    )
    return {f"{reg.name}/{reg.name}_export.xlsx": workbook}


# ----------------------------------------------------------------------------- Dutch parquet

_NL_SCALE = {
    "chop_intend": "CHOP-INTEND",
    "hine2": "HINE-2",
    "hfmse": "HFMSE",
    "rhs": "RHS",
    "rulm": "RULM",
    "mfm32": "MFM-32",
    "6mwt": "6MWT",
}
_NL_THERAPY = {
    "nusinersen": "nusinersen",
    "risdiplam": "risdiplam",
    "onasemnogene": "onasemnogene abeparvovec",
}
_NL_EVENT = {
    "death": "overlijden",
    "permanent_ventilation": "permanente beademing",
    "feeding_tube": "sondevoeding",
    "scoliosis_surgery": "scoliose-operatie",
    "loss_of_ambulation": "verlies loopfunctie",
}
_NL_MILESTONE = {
    "head_control": "hoofdbalans",
    "sitting": "zitten",
    "standing": "staan",
    "walking": "lopen",
}
#: Dutch type 1 subclasses by onset age (days): 1a neonatal, 1b before 3 months, 1c after.
_NL_TYPE1_ONSET_DAYS = (14.0, 91.0)


def dutch_type(
    sma_type: np.ndarray, onset_age_days: np.ndarray, ever_stood: np.ndarray
) -> np.ndarray:
    """Dutch decimal type classes: 1a/1b/1c from onset, 2a/2b from function.

    Type 1 splits by onset age (1a in the first two weeks, 1b before 3 months, 1c later;
    plain ``1`` when no onset was seen); type 2 splits into 2a (never stood) and 2b (stood
    with support at some time). Other types are unchanged; a missing type stays missing.

    Parameters
    ----------
    sma_type
        Types ``0, 1, 2, 3a, 3b, 4`` (``None`` when unknown).
    onset_age_days
        Onset age (NaN when not seen).
    ever_stood
        Whether the patient ever stood.

    Returns
    -------
    numpy.ndarray
        Dutch classes (object array).

    Examples
    --------
    >>> dutch_type(np.array(["1", "1", "2", "2", "3a"], dtype=object),
    ...            np.array([5.0, 120.0, 300.0, 300.0, 700.0]),
    ...            np.array([False, False, False, True, True])).tolist()
    ['1a', '1c', '2a', '2b', '3a']
    """
    sma_type = np.asarray(sma_type, dtype=object)
    onset = np.asarray(onset_age_days, dtype=float)
    first, second = _NL_TYPE1_ONSET_DAYS
    type1 = np.where(
        np.isnan(onset), "1", np.where(onset < first, "1a", np.where(onset < second, "1b", "1c"))
    ).astype(object)
    type2 = np.where(np.asarray(ever_stood, dtype=bool), "2b", "2a").astype(object)
    return np.where(sma_type == "1", type1, np.where(sma_type == "2", type2, sma_type))


def _export_nl_parquet(
    data: RegistryData, reg: RegistrySpec, spec: SimulationSpec
) -> dict[str, bytes]:
    """Dutch-registry-like export: parquet, ISO dates, decimal types, ventilation per week."""
    pt = data.patients
    vi = data.visits
    stood = (
        pd.Series(vi["ever_standing"].fillna(value=False).to_numpy(dtype=bool))
        .groupby(_local_codes(vi, pt))
        .any()
        .reindex(np.arange(len(pt)), fill_value=False)
        .to_numpy()
    )

    def dates(table: pd.DataFrame, column: str | np.ndarray) -> pa.Array:
        return _fmt_dates(_dates(table, pt, column), "iso")

    sma_type = dutch_type(
        pt["sma_type"].to_numpy(dtype=object), pt["onset_age_days"].to_numpy(), stood
    )
    patients = pa.table(
        {
            "patientnummer": _text(pt["local_id"]),
            "ziekenhuisnummer": _text(pt["record_number"]),
            "achternaam": _text(pt["last_name"]),
            "voornaam": _text(pt["first_name"]),
            "geboortedatum": _fmt_dates(pt["birth_date"].to_numpy(), "iso"),
            "geslacht": _recode(pt["sex"], {"F": "V", "M": "M"}),
            "centrum": _prefixed("NL-", pt["site"].to_numpy(), 2),
            "sma_type": _text(sma_type),
            "smn2_kopieen": _integer(pt["smn2_copies"]),
            "leeftijd_eerste_symptomen_mnd": _number(
                np.round(pt["onset_age_days"].to_numpy() / DAYS_PER_MONTH, 1)
            ),
            "diagnosedatum": dates(pt, "diagnosis_age_days"),
            "presymptomatisch": _flag(pt["presymptomatic"]),
            "inclusiedatum": dates(pt, "entry_age_days"),
            "einddatum": dates(pt, _exit_age(pt)),
            "reden_einde": _recode(
                pt["exit_reason"], {"death": "overleden", "dropout": "uitgevallen"}
            ),
        }
    )
    visits = pa.table(
        {
            "patientnummer": _text(vi["local_id"]),
            "bezoekdatum": dates(vi, "visit_age_days"),
            **{label: _flag(vi[m]) for m, label in _NL_MILESTONE.items()},
            "ambulant": _flag(vi["ambulant"]),
            # Hours per week: the Dutch registry asks for the weekly total.
            "beademing_uur_per_week": _number(vi["ventilation_hours_per_day"].to_numpy() * 7.0),
            "sondevoeding": _flag(vi["feeding_tube"]),
            "scoliose_operatie": _flag(vi["scoliosis_surgery"]),
            "gewicht_kg": _number(vi["weight_kg"]),
        }
    )
    asm = data.assessments
    measurements = pa.table(
        {
            "patientnummer": _text(asm["local_id"]),
            "bezoekdatum": dates(asm, "visit_age_days"),
            "meetinstrument": _recode(asm["scale"], _NL_SCALE),
            "score": _number(asm["score"]),
        }
    )
    tr = data.treatments
    treatments = pa.table(
        {
            "patientnummer": _text(tr["local_id"]),
            "middel": _recode(tr["therapy"], _NL_THERAPY),
            "lijn": _integer(tr["line"]),
            "startdatum": dates(tr, "start_age_days"),
            "stopdatum": dates(tr, "stop_age_days"),
        }
    )
    ev = data.events
    events = pa.table(
        {
            "patientnummer": _text(ev["local_id"]),
            "gebeurtenis": _recode(ev["event"], _NL_EVENT),
            "datum": dates(ev, "age_days"),
        }
    )
    tables = {
        "patienten.parquet": patients,
        "bezoeken.parquet": visits,
        "metingen.parquet": measurements,
        "behandelingen.parquet": treatments,
        "gebeurtenissen.parquet": events,
    }
    return {f"{reg.name}/{name}": parquet_bytes(table) for name, table in tables.items()}


# ----------------------------------------------------------------------------- Cure-SMA-like JSON

_PR_MISSING = -99
_PR_TYPE = {"0": "0", "1": "I", "2": "II", "3a": "III", "3b": "III", "4": "IV"}
_PR_THERAPY = {"nusinersen": "SPINRAZA", "risdiplam": "EVRYSDI", "onasemnogene": "ZOLGENSMA"}
_PR_EVENT = {
    "death": "death",
    "permanent_ventilation": "full-time ventilation",
    "feeding_tube": "feeding tube placed",
    "scoliosis_surgery": "spinal fusion",
    "loss_of_ambulation": "stopped walking",
}
_PR_STATUS = {"data_cut": "active", "death": "deceased", "dropout": "withdrawn"}
_LB_PER_KG = 2.20462


def _export_cure_json(
    data: RegistryData, reg: RegistrySpec, spec: SimulationSpec
) -> dict[str, bytes]:
    """Cure-SMA-like patient-reported export: JSON participants with nested yearly surveys."""
    na = _PR_MISSING
    pt = data.patients

    def dates(table: pd.DataFrame, column: str | np.ndarray, style: str = "mdy") -> pa.Array:
        return _fmt_dates(_dates(table, pt, column), style)

    def flag(values: object) -> pa.Array:
        return _fmt_flag(values, "yes", "no")

    vi = data.visits
    checklist = pa.table(
        {
            f"{m}_{kind}": flag(vi[f"ever_{m}" if kind == "ever_achieved" else m])
            for m in MILESTONES
            for kind in ("ever_achieved", "currently_able")
        }
    )
    surveys = _records(
        pa.table(
            {
                "survey_date": dates(vi, "visit_age_days"),
                "ventilation_hours_per_day": _integer(vi["ventilation_hours_per_day"]),
                "feeding_tube": flag(vi["feeding_tube"]),
                "spinal_fusion": flag(vi["scoliosis_surgery"]),
                # Pounds: a US registry.
                "weight_lb": _number(np.round(vi["weight_kg"].to_numpy() * _LB_PER_KG, 1)),
                "current_treatment": pc.fill_null(
                    _recode(vi["current_therapy"], _PR_THERAPY), "none"
                ),
            }
        ),
        na,
    )
    for survey, answers in zip(surveys, _records(checklist, na), strict=True):
        survey["milestones"] = answers
    tr = data.treatments
    treatments = pa.table(
        {
            "drug": _recode(tr["therapy"], _PR_THERAPY),
            "start_date": dates(tr, "start_age_days"),
            "stop_date": dates(tr, "stop_age_days"),
        }
    )
    ev = data.events
    events = pa.table(
        {"event": _recode(ev["event"], _PR_EVENT), "date": dates(ev, "age_days", "ym")}
    )
    # Families are not always sure of the subtype: "III (unsure)".
    unsure = pt["sma_type"].isin(["3a", "3b"]).to_numpy() & ~pt["subtype_known"].to_numpy()
    participants = _records(
        pa.table(
            {
                "participant_id": _text(pt["local_id"]),
                "member_number": _text(pt["record_number"]),
                "first_name": _text(pt["first_name"]),
                "last_name": _text(pt["last_name"]),
                "date_of_birth": _fmt_dates(pt["birth_date"].to_numpy(), "mdy"),
                "sex": _recode(pt["sex"], {"F": "Female", "M": "Male"}),
                "sma_type": _replace(_recode(pt["sma_type"], _PR_TYPE), unsure, "III (unsure)"),
                "smn2_copies": _integer(pt["smn2_copies"]),
                "symptom_onset": dates(pt, "onset_age_days", "ym"),
                "diagnosis_date": dates(pt, "diagnosis_age_days", "ym"),
                "diagnosed_before_symptoms": flag(pt["presymptomatic"]),
                "enrollment_date": dates(pt, "entry_age_days"),
                "status": _recode(pt["exit_reason"], _PR_STATUS),
            }
        ),
        na,
    )
    n = len(pt)
    nested = {
        "surveys": _nest(n, _local_codes(vi, pt), surveys),
        "treatments": _nest(n, _local_codes(tr, pt), _records(treatments, na)),
        "events": _nest(n, _local_codes(ev, pt), _records(events, na)),
    }
    for i, participant in enumerate(participants):
        for key, lists in nested.items():
            participant[key] = lists[i]
    text = json.dumps(participants, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {f"{reg.name}/{reg.name}_export.json": (text + "\n").encode("utf-8")}


#: Writer per ``export_format``.
EXPORT_FORMATS: dict[str, Writer] = {
    "dach_csv": _export_dach_csv,
    "ismac_xlsx": _export_ismac_xlsx,
    "nl_parquet": _export_nl_parquet,
    "cure_json": _export_cure_json,
}
