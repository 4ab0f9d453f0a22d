"""Typed mapping of one registry export onto the common data model (``configs/registry/*.yaml``).

A registry mapping says where the export's files are, how to read them, and what every source
column means. Adding a registry means writing one such YAML file, not code.

The mapping names *fields*, a fixed vocabulary (:data:`FIELDS`) between source columns and the
CDM columns: ``local_id``, ``birth_date``, ``visit_date``, ``score`` ... Each field belongs to
one CDM table (``visit_date``/``visit_age`` and ``local_id`` are shared), so the fields a file
maps decide which CDM tables it feeds. Wide exports name the code of a long table's key in
brackets: ``score[hfmse]`` is "this column holds HFMSE scores" (melted into ``scale, score``),
``able[sitting]`` a milestone, ``event_date[death]`` an event, ``start_date[nusinersen]`` a
therapy start.

Examples
--------
>>> spec = parse_registry_spec(
...     {
...         "name": "demo",
...         "region": "nowhere",
...         "reporter": "clinician",
...         "dates": {"format": "%Y-%m-%d"},
...         "files": {
...             "patients": {
...                 "pattern": "patients.csv",
...                 "reader": {"format": "csv"},
...                 "columns": {"id": "local_id", "dob": "birth_date", "sex": "sex"},
...             }
...         },
...     }
... )
>>> spec.files[0].tables
('patients',)
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "FIELDS",
    "UNIT_FACTORS",
    "ColumnSpec",
    "DateSpec",
    "FieldInfo",
    "FileSpec",
    "ReaderSpec",
    "RegistrySpec",
    "RegistrySpecError",
    "parse_registry_spec",
]


class RegistrySpecError(ValueError):
    """A registry mapping is invalid; the message names the YAML file and key."""


@dataclass(frozen=True)
class FieldInfo:
    """What a mapping field is.

    Attributes
    ----------
    table
        CDM table it feeds (``None`` for ``local_id``, the visit time and dropped identifiers,
        which go with whatever table the file feeds).
    kind
        ``id`` (the registry's local patient id), ``identifier`` (a direct identifier, read
        only to be dropped), ``birth_date``, ``date`` (turned into an age in days), ``age``
        (a number with a time unit, turned into days), ``code``, ``int``, ``float``, ``bool``.
    target
        CDM column it becomes (``None``: not written).
    unit
        The CDM unit (for ``age``/``float`` fields): what other units are converted to.
    """

    table: str | None
    kind: str
    target: str | None
    unit: str | None = None


#: The field vocabulary: every source column maps to one of these.
FIELDS: dict[str, FieldInfo] = {
    # shared
    "local_id": FieldInfo(None, "id", "patient_id"),
    "name": FieldInfo(None, "identifier", None),
    "first_name": FieldInfo(None, "identifier", None),
    "record_number": FieldInfo(None, "identifier", None),
    "visit_date": FieldInfo(None, "date", "age_days"),
    "visit_age": FieldInfo(None, "age", "age_days", "days"),
    # patients
    "birth_date": FieldInfo("patients", "birth_date", "birth_year"),
    "region": FieldInfo("patients", "code", "region"),
    "sex": FieldInfo("patients", "code", "sex"),
    "sma_type": FieldInfo("patients", "code", "sma_type"),
    "smn2_copies": FieldInfo("patients", "int", "smn2_copies"),
    "onset_date": FieldInfo("patients", "date", "onset_age_days"),
    "onset_age": FieldInfo("patients", "age", "onset_age_days", "days"),
    "diagnosis_date": FieldInfo("patients", "date", "diagnosis_age_days"),
    "diagnosis_age": FieldInfo("patients", "age", "diagnosis_age_days", "days"),
    "presymptomatic": FieldInfo("patients", "bool", "presymptomatic"),
    # treatments (key: therapy)
    "therapy": FieldInfo("treatments", "code", "therapy"),
    "start_date": FieldInfo("treatments", "date", "start_age_days"),
    "start_age": FieldInfo("treatments", "age", "start_age_days", "days"),
    "stop_date": FieldInfo("treatments", "date", "stop_age_days"),
    "stop_age": FieldInfo("treatments", "age", "stop_age_days", "days"),
    # assessments (key: scale)
    "scale": FieldInfo("assessments", "code", "scale"),
    "score": FieldInfo("assessments", "float", "score", "points"),
    # milestones (key: milestone)
    "milestone": FieldInfo("milestones", "code", "milestone"),
    "able": FieldInfo("milestones", "bool", "able"),
    "ever": FieldInfo("milestones", "bool", "ever"),
    # events (key: event)
    "event": FieldInfo("events", "code", "event"),
    "event_date": FieldInfo("events", "date", "age_days"),
    "event_age": FieldInfo("events", "age", "age_days", "days"),
    # clinical status
    "ventilation_hours_per_day": FieldInfo(
        "clinical_status", "float", "ventilation_hours_per_day", "hours_per_day"
    ),
    "feeding_tube": FieldInfo("clinical_status", "bool", "feeding_tube"),
    "scoliosis_surgery": FieldInfo("clinical_status", "bool", "scoliosis_surgery"),
    "ambulant": FieldInfo("clinical_status", "bool", "ambulant"),
    "weight_kg": FieldInfo("clinical_status", "float", "weight_kg", "kg"),
}

#: Key field of each long table: the column a wide export spreads over several columns.
TABLE_KEYS: dict[str, str] = {
    "treatments": "therapy",
    "assessments": "scale",
    "milestones": "milestone",
    "events": "event",
}
#: Fields whose presence makes a file feed a table (the table's content, not its keys).
CONTENT_FIELDS: dict[str, tuple[str, ...]] = {
    "patients": (
        "birth_date",
        "region",
        "sex",
        "sma_type",
        "smn2_copies",
        "onset_date",
        "onset_age",
        "diagnosis_date",
        "diagnosis_age",
        "presymptomatic",
    ),
    "treatments": ("start_date", "start_age"),
    "assessments": ("score",),
    "milestones": ("able", "ever"),
    "events": ("event_date", "event_age"),
    "clinical_status": (
        "ventilation_hours_per_day",
        "feeding_tube",
        "scoliosis_surgery",
        "ambulant",
        "weight_kg",
    ),
}
#: Fields that give the time of a record of each table (one of them is required).
TIME_FIELDS: dict[str, tuple[str, ...]] = {
    "patients": (),
    "treatments": ("start_date", "start_age"),
    "assessments": ("visit_date", "visit_age"),
    "milestones": ("visit_date", "visit_age"),
    "events": ("event_date", "event_age"),
    "clinical_status": ("visit_date", "visit_age"),
}

#: Unit conversions to the CDM unit: ``(from, to) -> factor`` (CDM value = source x factor).
UNIT_FACTORS: dict[tuple[str, str], float] = {
    ("days", "days"): 1.0,
    ("weeks", "days"): 7.0,
    ("months", "days"): 30.4375,
    ("years", "days"): 365.25,
    ("kg", "kg"): 1.0,
    ("g", "kg"): 0.001,
    ("lb", "kg"): 0.45359237,
    ("hours_per_day", "hours_per_day"): 1.0,
    ("hours_per_week", "hours_per_day"): 1.0 / 7.0,
    ("points", "points"): 1.0,
}

READER_FORMATS = ("csv", "xlsx", "parquet", "json")
#: Rules for completing a partial date (``YYYY-MM``): the day it is set to.
PARTIAL_RULES = {"mid_month": 15, "first_of_month": 1}
_BRACKET = re.compile(r"^(?P<field>[a-z_0-9]+)\[(?P<key>[^\[\]]+)\]$")


@dataclass
class ReaderSpec:
    """How to read one file.

    Attributes
    ----------
    format
        ``csv``, ``xlsx``, ``parquet`` or ``json``.
    delimiter, decimal, encoding, quote
        CSV dialect; ``decimal`` is also used for numbers stored as text in other formats.
    sheet
        XLSX sheet name (``None``: the first sheet).
    header_row
        1-based row of the header line (CSV and XLSX).
    records
        JSON: dotted path to the list of top-level records (``""``: the document is the list).
    """

    format: str
    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    quote: str = '"'
    sheet: str | None = None
    header_row: int = 1
    records: str = ""


@dataclass
class ColumnSpec:
    """One mapped source column.

    Attributes
    ----------
    source
        Column name as in the file; for JSON a dotted path, ``[]`` marking a list to expand
        (``surveys[].date``).
    field
        Field it holds (a key of :data:`FIELDS`).
    key
        Code of the long table's key for a wide column (``hfmse`` in ``score[hfmse]``).
    unit
        Unit of the values (``None``: the CDM unit or the registry default for the field).
    date_format
        Date format overriding the registry's (``strptime`` codes).
    codes
        Code map overriding the registry's for this column.
    """

    source: str
    field: str
    key: str | None = None
    unit: str | None = None
    date_format: str | None = None
    codes: dict[str, Any] | None = None

    @property
    def level(self) -> str:
        """The JSON list the column lives in (``""`` for top-level and flat files)."""
        head, sep, _ = self.source.rpartition("[]")
        return head + "[]" if sep else ""

    @property
    def info(self) -> FieldInfo:
        """The field's :class:`FieldInfo`."""
        return FIELDS[self.field]


@dataclass
class FileSpec:
    """One kind of file in the export.

    Attributes
    ----------
    name
        Logical name used in messages (the key under ``files:``).
    pattern
        Glob pattern of the file(s) within the registry folder.
    reader
        How to read it.
    columns
        The mapped columns.
    optional
        Source columns that may be absent (others missing make the file unusable).
    ignore
        Source columns that are known and deliberately not used.
    missing
        Extra missing-value markers for this file.
    """

    name: str
    pattern: str
    reader: ReaderSpec
    columns: list[ColumnSpec]
    optional: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def tables(self) -> tuple[str, ...]:
        """CDM tables this file feeds, in CDM order."""
        fields = {c.field for c in self.columns}
        return tuple(t for t, content in CONTENT_FIELDS.items() if fields & set(content))

    @property
    def levels(self) -> tuple[str, ...]:
        """Record levels (JSON lists) the columns live in, shallowest first."""
        return tuple(sorted({c.level for c in self.columns}, key=lambda lv: (lv.count("[]"), lv)))


@dataclass
class DateSpec:
    """How the registry writes dates.

    Attributes
    ----------
    format
        ``strptime`` format of a full date.
    partial_formats
        Formats of partial dates (year and month), completed by ``partial_rule``.
    partial_rule
        ``mid_month`` (day 15: the error is at most 16 days either way) or ``first_of_month``.
    export_date
        Date the export was taken (ISO ``YYYY-MM-DD``): a later date is quarantined
        (``date_out_of_range``). ``None``: the day of harmonisation (nothing in an export can
        be later than that).
    """

    format: str = "%Y-%m-%d"
    partial_formats: list[str] = field(default_factory=list)
    partial_rule: str = "mid_month"
    export_date: str | None = None

    def latest(self) -> np.datetime64:
        """Latest plausible date of the export (``export_date``, else today)."""
        day = self.export_date or dt.date.today().isoformat()
        return np.datetime64(day, "ns")

    @property
    def partial_day(self) -> int:
        """Day of the month a partial date is set to."""
        return PARTIAL_RULES[self.partial_rule]


@dataclass
class RegistrySpec:
    """Mapping of one registry export onto the CDM (one ``configs/registry/<name>.yaml``).

    Attributes
    ----------
    name
        Registry code (written into ``patients.registry``; also part of the pseudonym).
    folder
        Export folder name under the dataset's raw folder (default: ``name``).
    region
        Region of every patient (``None``: from a ``region`` column).
    reporter
        ``clinician`` or ``patient``.
    files
        The kinds of file in the export.
    dates
        Date style.
    missing
        Missing-value markers in every file (compared as text, and as numbers where they are).
    codes
        ``{field: {source value: CDM code}}`` for code and boolean fields.
    synonyms
        ``{field: {variant: CDM code}}``: variant spellings; applying one counts as a correction.
    booleans
        ``{source value: true/false}`` for every boolean field without its own code map.
    units
        ``{field: unit}``: registry-wide unit of a field (columns may override).
    description
        Free text.
    """

    name: str
    files: list[FileSpec]
    reporter: str
    folder: str = ""
    region: str | None = None
    dates: DateSpec = field(default_factory=DateSpec)
    missing: list[str] = field(default_factory=list)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    synonyms: dict[str, dict[str, Any]] = field(default_factory=dict)
    booleans: dict[str, bool] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def tables(self) -> tuple[str, ...]:
        """CDM tables the registry feeds."""
        fed = {t for f in self.files for t in f.tables}
        return tuple(t for t in CONTENT_FIELDS if t in fed)

    def unit_of(self, column: ColumnSpec) -> str:
        """Return the unit of a column's values: its own, the registry's, or the CDM unit."""
        info = column.info
        return column.unit or self.units.get(column.field) or info.unit or ""


# ---------------------------------------------------------------------------- parsing


class _Ctx:
    """Builds error messages that name the YAML source and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> NoReturn:
        msg = f"{self.source}: {key}: {problem}"
        raise RegistrySpecError(msg)

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return {str(k): v for k, v in value.items()}

    def strings(self, value: Any, key: str) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str | int | float):
            value = [value]
        if not isinstance(value, list | tuple):
            self.fail(key, f"expected a list of strings, got {type(value).__name__}")
        return [str(v) for v in value]

    def only(self, data: Mapping[str, Any], allowed: set[str], key: str) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            self.fail(
                f"{key}.{unknown[0]}" if key else unknown[0],
                f"unknown key; allowed: {sorted(allowed)}",
            )


def _dataclass_keys(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _parse_reader(ctx: _Ctx, raw: Any, key: str) -> ReaderSpec:
    data = ctx.mapping(raw, key)
    ctx.only(data, _dataclass_keys(ReaderSpec), key)
    fmt = data.get("format")
    if fmt not in READER_FORMATS:
        ctx.fail(f"{key}.format", f"must be one of {list(READER_FORMATS)}, got {fmt!r}")
    for name in ("delimiter", "decimal", "quote"):
        if name in data and (not isinstance(data[name], str) or len(data[name]) != 1):
            ctx.fail(f"{key}.{name}", f"must be one character, got {data[name]!r}")
    if "encoding" in data:
        try:
            codecs.lookup(str(data["encoding"]))
        except LookupError:
            ctx.fail(f"{key}.encoding", f"unknown encoding {data['encoding']!r}")
    header_row = data.get("header_row", 1)
    if not isinstance(header_row, int) or header_row < 1:
        ctx.fail(f"{key}.header_row", f"must be a positive integer, got {header_row!r}")
    values: dict[str, Any] = {
        k: (str(v) if k not in ("header_row",) and v is not None else v) for k, v in data.items()
    }
    return ReaderSpec(**values)


def _parse_column(ctx: _Ctx, source: str, raw: Any, key: str) -> ColumnSpec:
    if isinstance(raw, str):
        data: dict[str, Any] = {"field": raw}
    else:
        data = ctx.mapping(raw, key)
        ctx.only(data, {"field", "unit", "date_format", "codes"}, key)
    target = data.get("field")
    if not isinstance(target, str):
        ctx.fail(key, "needs a field name (a string, or a mapping with 'field:')")
    match = _BRACKET.match(target)
    fld, code = (match["field"], match["key"]) if match else (target, None)
    if fld not in FIELDS:
        ctx.fail(key, f"unknown field {fld!r}; expected one of {sorted(FIELDS)}")
    info = FIELDS[fld]
    if code is not None and info.table not in TABLE_KEYS:
        ctx.fail(key, f"field {fld!r} takes no [key]: its table has no key column")
    if code is not None and fld == TABLE_KEYS.get(info.table or ""):
        ctx.fail(key, f"the key field {fld!r} itself takes no [key]")
    unit = data.get("unit")
    if unit is not None:
        if info.kind not in ("age", "float"):
            ctx.fail(f"{key}.unit", f"field {fld!r} has no unit")
        if (str(unit), info.unit) not in UNIT_FACTORS:
            options = sorted(u for u, to in UNIT_FACTORS if to == info.unit)
            ctx.fail(f"{key}.unit", f"cannot convert {unit!r} to {info.unit!r}; known: {options}")
    codes = data.get("codes")
    if codes is not None:
        codes = ctx.mapping(codes, f"{key}.codes")
    if data.get("date_format") is not None and info.kind not in ("date", "birth_date"):
        ctx.fail(f"{key}.date_format", f"field {fld!r} is not a date")
    return ColumnSpec(
        source=source,
        field=fld,
        key=code,
        unit=None if unit is None else str(unit),
        date_format=data.get("date_format"),
        codes=codes,
    )


def _check_file(ctx: _Ctx, spec: FileSpec, key: str) -> None:
    fields = [c.field for c in spec.columns]
    if "local_id" not in fields:
        ctx.fail(f"{key}.columns", "no column maps to 'local_id' (the registry's patient id)")
    if not spec.tables:
        ctx.fail(f"{key}.columns", "maps no field that feeds a CDM table")
    for table in spec.tables:
        times = TIME_FIELDS[table]
        key_field = TABLE_KEYS.get(table)
        cols = [
            c
            for c in spec.columns
            if c.info.table == table or c.field in ("visit_date", "visit_age")
        ]
        if times and not any(c.field in times for c in cols) and table != "treatments":
            ctx.fail(f"{key}.columns", f"feeds {table} but maps none of {list(times)}")
        if key_field is not None:
            long_key = any(c.field == key_field for c in cols)
            wide = [c for c in cols if c.key is not None]
            if not long_key and not wide:
                ctx.fail(
                    f"{key}.columns",
                    f"feeds {table} but gives no {key_field}: map a {key_field!r} column or use "
                    f"wide fields like 'score[hfmse]'",
                )
    seen: dict[tuple[str, str | None], str] = {}
    for c in spec.columns:
        sig = (c.field, c.key)
        if c.field not in ("name", "first_name", "record_number") and sig in seen and c.level == "":
            label = c.field + (f"[{c.key}]" if c.key else "")
            ctx.fail(
                f"{key}.columns.{c.source}", f"field {label} is already mapped from {seen[sig]!r}"
            )
        seen[sig] = c.source


def _parse_file(ctx: _Ctx, name: str, raw: Any, key: str) -> FileSpec:
    data = ctx.mapping(raw, key)
    ctx.only(data, {"pattern", "reader", "columns", "optional", "ignore", "missing"}, key)
    pattern = data.get("pattern")
    if not isinstance(pattern, str) or not pattern:
        ctx.fail(f"{key}.pattern", "needs a glob pattern such as 'visits_*.csv'")
    if pattern.startswith(("/", "\\", "~")) or ".." in Path(pattern).parts or ":" in pattern:
        ctx.fail(
            f"{key}.pattern",
            f"must name files inside the registry's export folder, got {pattern!r}",
        )
    reader = _parse_reader(ctx, data.get("reader"), f"{key}.reader")
    cols_raw = ctx.mapping(data.get("columns"), f"{key}.columns")
    if not cols_raw:
        ctx.fail(f"{key}.columns", "maps no column")
    columns = [
        _parse_column(ctx, src, val, f"{key}.columns.{src}") for src, val in cols_raw.items()
    ]
    if reader.format != "json" and any(c.level for c in columns):
        ctx.fail(f"{key}.columns", "'[]' list paths are only for JSON files")
    spec = FileSpec(
        name=name,
        pattern=pattern,
        reader=reader,
        columns=columns,
        optional=ctx.strings(data.get("optional"), f"{key}.optional"),
        ignore=ctx.strings(data.get("ignore"), f"{key}.ignore"),
        missing=ctx.strings(data.get("missing"), f"{key}.missing"),
    )
    unknown_optional = sorted(set(spec.optional) - {c.source for c in columns})
    if unknown_optional:
        ctx.fail(f"{key}.optional", f"names unmapped columns {unknown_optional}")
    _check_file(ctx, spec, key)
    return spec


def _parse_code_maps(ctx: _Ctx, raw: Any, key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for fld, mapping in ctx.mapping(raw, key).items():
        if fld not in FIELDS or FIELDS[fld].kind not in ("code", "bool"):
            options = sorted(f for f, i in FIELDS.items() if i.kind in ("code", "bool"))
            ctx.fail(f"{key}.{fld}", f"not a code or boolean field; expected one of {options}")
        out[fld] = {str(k): v for k, v in ctx.mapping(mapping, f"{key}.{fld}").items()}
    return out


def parse_registry_spec(data: Any, *, source: str = "<mapping>") -> RegistrySpec:
    """Build a :class:`RegistrySpec` from a parsed YAML mapping, checking every key.

    Parameters
    ----------
    data
        The YAML document (a mapping).
    source
        Name of the YAML file, used in error messages.

    Returns
    -------
    RegistrySpec
        The checked mapping.

    Raises
    ------
    RegistrySpecError
        Naming ``source`` and the offending key (``files.visits.columns.HFMSE: unknown field``).

    Examples
    --------
    >>> parse_registry_spec({"name": "x"}, source="x.yaml")
    Traceback (most recent call last):
    ...
    sma_response.harmonise.spec.RegistrySpecError: x.yaml: files: at least one file is needed
    """
    ctx = _Ctx(source)
    top = ctx.mapping(data, "(top level)")
    allowed = {
        "name",
        "folder",
        "region",
        "reporter",
        "description",
        "files",
        "dates",
        "missing",
        "codes",
        "synonyms",
        "booleans",
        "units",
    }
    ctx.only(top, allowed, "")
    name = top.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        ctx.fail("name", f"needs a lowercase snake_case registry name, got {name!r}")
    files_raw = ctx.mapping(top.get("files"), "files")
    if not files_raw:
        ctx.fail("files", "at least one file is needed")
    reporter = top.get("reporter", "clinician")
    if reporter not in ("clinician", "patient"):
        ctx.fail("reporter", f"must be 'clinician' or 'patient', got {reporter!r}")
    dates_raw = ctx.mapping(top.get("dates"), "dates")
    ctx.only(dates_raw, _dataclass_keys(DateSpec), "dates")
    dates = DateSpec(
        format=str(dates_raw.get("format", "%Y-%m-%d")),
        partial_formats=ctx.strings(dates_raw.get("partial_formats"), "dates.partial_formats"),
        partial_rule=str(dates_raw.get("partial_rule", "mid_month")),
        export_date=None if dates_raw.get("export_date") is None else str(dates_raw["export_date"]),
    )
    if dates.export_date is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", dates.export_date):
        ctx.fail("dates.export_date", f"must be a date YYYY-MM-DD, got {dates.export_date!r}")
    if dates.partial_rule not in PARTIAL_RULES:
        ctx.fail(
            "dates.partial_rule",
            f"must be one of {sorted(PARTIAL_RULES)}, got {dates.partial_rule!r}",
        )
    for i, fmt in enumerate([dates.format, *dates.partial_formats]):
        if "%" not in fmt:
            ctx.fail(
                "dates.format" if i == 0 else "dates.partial_formats",
                f"not a strptime format: {fmt!r}",
            )
    booleans_raw = ctx.mapping(top.get("booleans"), "booleans")
    booleans: dict[str, bool] = {}
    for k, v in booleans_raw.items():
        if not isinstance(v, bool):
            ctx.fail(f"booleans.{k}", f"must be true or false, got {v!r}")
        booleans[k] = v
    units: dict[str, str] = {}
    for fld, unit in ctx.mapping(top.get("units"), "units").items():
        info = FIELDS.get(fld)
        if info is None or info.unit is None:
            ctx.fail(f"units.{fld}", "not a field with a unit")
        if (str(unit), info.unit) not in UNIT_FACTORS:
            options = sorted(u for u, to in UNIT_FACTORS if to == info.unit)
            ctx.fail(f"units.{fld}", f"cannot convert {unit!r} to {info.unit!r}; known: {options}")
        units[fld] = str(unit)
    region = top.get("region")
    files = [_parse_file(ctx, str(k), v, f"files.{k}") for k, v in files_raw.items()]
    if region is None and not any(c.field == "region" for f in files for c in f.columns):
        ctx.fail("region", "give the registry's region, or map a 'region' column")
    spec = RegistrySpec(
        name=name,
        folder=str(top.get("folder") or name),
        region=None if region is None else str(region),
        reporter=reporter,
        description=str(top.get("description", "")),
        files=files,
        dates=dates,
        missing=ctx.strings(top.get("missing"), "missing"),
        codes=_parse_code_maps(ctx, top.get("codes"), "codes"),
        synonyms=_parse_code_maps(ctx, top.get("synonyms"), "synonyms"),
        booleans=booleans,
        units=units,
    )
    if "patients" not in spec.tables:
        ctx.fail("files", "no file feeds the patients table (birth date, sex, type ...)")
    if not any(c.field == "birth_date" for f in files for c in f.columns):
        ctx.fail("files", "no column maps to 'birth_date': ages in days cannot be computed")
    return spec
