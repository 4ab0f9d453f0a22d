"""Turn one registry export (as read) into common-data-model tables: pure and vectorised.

For every file the mapping names, :func:`harmonise_registry`

1. checks the columns against the mapping (a missing mapped column makes the file unusable);
2. builds *records*: one per row of a long table, one per non-empty key group of wide columns
   (``score[hfmse]``), one per list item of nested JSON (``surveys[]``);
3. reads every field (:mod:`~sma_response.harmonise.fields`: missing markers, decimal marks,
   code maps, booleans, units, full and partial dates), noting the *corrections* (rules that
   changed a value: a partial date completed, a unit converted, a code synonym, a decimal
   mark) and the *failures* of each record;
4. computes ages in days from the birth date, drops identifiers, pseudonymises the local id;
5. applies the duplicate and cross-table rules (a record needs an accepted patient and lies
   within life) and the pandera CDM schemas (lazily), whose failure cases quarantine the rows
   they name.

A record that fails anything is quarantined; one changed by a rule is corrected; any other is
accepted. The rejects table has one row per failing cell or file problem (registry, file, row,
table, column, value, rule, reason), identifier values masked; the accounting table counts
records per file and table, so that ``n_in = n_accepted + n_corrected + n_quarantined``. Rows
that feed no table (a blank visit row) and rows that could not be parsed at all are counted
under the pseudo-table ``(file)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from sma_response.harmonise.fields import (
    STRING,
    Parsed,
    as_text,
    drop_missing,
    parse_booleans,
    parse_codes,
    parse_dates,
    parse_numbers,
)
from sma_response.harmonise.io import ROW, RawFile, RawRegistry
from sma_response.harmonise.pseudonym import PseudonymKey, pseudonymise
from sma_response.harmonise.spec import (
    CONTENT_FIELDS,
    FIELDS,
    TABLE_KEYS,
    UNIT_FACTORS,
    ColumnSpec,
    RegistrySpec,
)
from sma_response.schemas import (
    CDM_SCHEMAS,
    EVENT_CODES,
    MILESTONE_CODES,
    SCALE_CODES,
    SMA_TYPE_CODES,
    THERAPY_CODES,
)

__all__ = [
    "ACCOUNT_COLUMNS",
    "CDM_COLUMNS",
    "CORRECTION_COLUMNS",
    "FILE_TABLE",
    "LINK_KEY_COLUMNS",
    "REJECT_COLUMNS",
    "HarmonisedRegistry",
    "cast_cdm",
    "combine_registries",
    "harmonise_registry",
    "mask_identifiers",
]

log = logging.getLogger(__name__)

FILE_TABLE = "(file)"
REJECT_COLUMNS = (
    "registry",
    "file",
    "row",
    "table",
    "column",
    "value",
    "rule",
    "reason",
    "patient_id",
)
ACCOUNT_COLUMNS = (
    "registry",
    "file",
    "table",
    "n_in",
    "n_accepted",
    "n_corrected",
    "n_quarantined",
)
CORRECTION_COLUMNS = ("registry", "file", "table", "rule", "n_rows")
LINK_KEY_COLUMNS = (
    "patient_id",
    "registry",
    "birth_month",
    "birth_day",
    "sex",
    "smn2_copies",
    "sma_type",
    "onset_age_days",
    "onset_err",
    "diagnosis_age_days",
    "diagnosis_err",
    "first_therapy",
    "first_start_age_days",
    "first_start_err",
)
IDENTIFIER_KINDS = ("id", "identifier", "birth_date")
_IDENTIFIER_FIELDS = frozenset(f for f, i in FIELDS.items() if i.kind in IDENTIFIER_KINDS)
_MAX_VALUE_CHARS = 40
_DEATH_TOLERANCE_DAYS = 1.0  # as in schemas.validate_cdm

#: CDM columns of each table, in schema order, and their dtypes.
CDM_COLUMNS: dict[str, tuple[str, ...]] = {
    n: tuple(s.to_schema().columns) for n, s in CDM_SCHEMAS.items()
}
_CDM_DTYPES: dict[str, dict[str, Any]] = {
    n: {c: pd.api.types.pandas_dtype(str(col.dtype)) for c, col in s.to_schema().columns.items()}
    for n, s in CDM_SCHEMAS.items()
}
#: Allowed CDM codes per code field (``None``: free text, e.g. region).
ALLOWED_CODES: dict[str, tuple[str, ...] | None] = {
    "sex": ("F", "M"),
    "sma_type": SMA_TYPE_CODES,
    "therapy": THERAPY_CODES,
    "scale": SCALE_CODES,
    "milestone": MILESTONE_CODES,
    "event": EVENT_CODES,
    "region": None,
}
#: Boolean codes understood everywhere (a registry adds its own under ``booleans:``).
DEFAULT_BOOLEANS: dict[str, bool] = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
}
#: pandera dataframe-level checks and the column a failure is reported against.
_CHECK_COLUMN = {"score_in_scale_range": "score", "stop_after_start": "stop_age_days"}
#: Order in which tables are built: births first, then deaths, then the rest.
_TABLE_ORDER = ("patients", "events", "treatments", "assessments", "milestones", "clinical_status")
#: Fields a derived CDM column comes from (to name the source column of a failing value).
_TARGET_FIELDS: dict[str, tuple[str, ...]] = {
    "patient_id": ("local_id",),
    "birth_year": ("birth_date",),
    "age_days": ("visit_date", "visit_age", "event_date", "event_age"),
    "start_age_days": ("start_date", "start_age"),
    "stop_age_days": ("stop_date", "stop_age"),
    "onset_age_days": ("onset_date", "onset_age"),
    "diagnosis_age_days": ("diagnosis_date", "diagnosis_age"),
}


@dataclass
class HarmonisedRegistry:
    """CDM tables and bookkeeping of one registry (or of several, once combined).

    Attributes
    ----------
    tables
        ``{name: frame}`` for every CDM table (``linked_id`` equals ``patient_id`` until
        linkage).
    link_keys
        Quasi-identifiers per accepted patient for duplicate linkage (:data:`LINK_KEY_COLUMNS`;
        ``birth_month`` counts months since year 0, ``birth_day`` is the day of the month, null
        for a partial birth date; ``*_err`` is the precision of an age in days). Kept in memory
        only, never written: birth month and day must not reach the CDM.
    rejects
        One row per failing cell or file problem (:data:`REJECT_COLUMNS`), identifiers masked.
    accounting
        Records in, accepted, corrected and quarantined per registry, file and table.
    corrections
        Rows corrected per registry, file, table and rule (a row counts once per rule).
    notes
        Messages for the summary (never containing cell values).
    """

    tables: dict[str, pd.DataFrame]
    link_keys: pd.DataFrame
    rejects: pd.DataFrame
    accounting: pd.DataFrame
    corrections: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def cast_cdm(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Select and cast a table's CDM columns to the schema dtypes (missing columns are null).

    Parameters
    ----------
    table
        CDM table name.
    frame
        Values (extra columns are dropped).

    Returns
    -------
    pandas.DataFrame
        Columns in schema order and dtype.

    Examples
    --------
    >>> frame = cast_cdm("events", pd.DataFrame({"event": ["death"], "age_days": [3]}))
    >>> frame.dtypes.astype(str).tolist()
    ['string', 'string', 'float64']
    """
    out = {}
    for name, dtype in _CDM_DTYPES[table].items():
        if name in frame:
            values = frame[name]
            out[name] = values if values.dtype == dtype else values.astype(dtype)
        else:
            out[name] = pd.Series(pd.array([None] * len(frame), dtype=dtype), index=frame.index)
    return pd.DataFrame(out, index=frame.index)


# ---------------------------------------------------------------------------- bookkeeping


class _Book:
    """Failures and corrections of the records of one registry (numbered ``0..n-1``)."""

    def __init__(self, n: int) -> None:
        self.failed = np.zeros(n, dtype=bool)
        self.cells: list[pd.DataFrame] = []
        self.fixes: dict[str, np.ndarray] = {}

    def fail(
        self,
        recs: np.ndarray,
        mask: np.ndarray,
        *,
        column: str | np.ndarray,
        value: pd.Series | None,
        rule: str,
        reason: str,
        new_only: bool = False,
    ) -> None:
        """Fail ``recs[mask]``, noting the column, the raw value, the rule and the reason."""
        mask = np.asarray(mask, dtype=bool)
        if new_only:
            mask = mask & ~self.failed[recs]
        if not mask.any():
            return
        where = np.flatnonzero(mask)
        self.failed[recs[where]] = True
        values = as_text(value.iloc[where]).to_numpy() if value is not None else None
        self.cells.append(
            pd.DataFrame(
                {
                    "_rec": recs[where],
                    "column": column[where] if isinstance(column, np.ndarray) else column,
                    "value": values,
                    "rule": rule,
                    "reason": reason,
                }
            )
        )

    def fix(self, recs: np.ndarray, mask: np.ndarray, rule: str) -> None:
        """Note that ``rule`` changed the values of ``recs[mask]``."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            if rule not in self.fixes:
                self.fixes[rule] = np.zeros(len(self.failed), dtype=bool)
            self.fixes[rule][recs[mask]] = True

    def apply(self, recs: np.ndarray, parsed: Parsed, *, column: str, raw: pd.Series) -> None:
        for mask, rule, reason in parsed.fails:
            self.fail(recs, mask, column=column, value=raw, rule=rule, reason=reason)
        for mask, rule in parsed.fixes:
            self.fix(recs, mask, rule)


# ---------------------------------------------------------------------------- records


@dataclass
class _Group:
    """Records of one table from one file level and (for wide columns) one key code."""

    file: RawFile
    file_index: int
    table: str
    key: str | None
    columns: dict[str, ColumnSpec]  # field -> column
    frame: pd.DataFrame  # raw values, one column per field, plus _row

    def sources(self) -> dict[str, str]:
        """Source column per field (the key field of a wide group: its content column)."""
        out = {fld: col.source for fld, col in self.columns.items()}
        key_field = TABLE_KEYS.get(self.table)
        if self.key is not None and key_field is not None:
            keyed = [c.source for c in self.columns.values() if c.key == self.key]
            out[key_field] = keyed[0] if keyed else key_field
        return out


def _groups_of(raw: RawFile, file_index: int, level: str, frame: pd.DataFrame) -> list[_Group]:
    """Split one file level into record groups per table and wide key."""
    present = [c for c in raw.spec.columns if c.source in frame.columns]
    groups = []
    for table in raw.spec.tables:
        content = [c for c in present if c.info.table == table and c.level == level]
        if not content:
            continue
        shared = ["local_id", "visit_date", "visit_age"] if table != "patients" else ["local_id"]

        def nearest(fld: str) -> ColumnSpec | None:
            cands = [
                c for c in present if c.field == fld and c.key is None and level.startswith(c.level)
            ]
            return max(cands, key=lambda c: len(c.level), default=None)

        long_cols = {c.field: c for c in content if c.key is None}
        plans: list[tuple[str | None, dict[str, ColumnSpec]]] = []
        if any(f in CONTENT_FIELDS[table] for f in long_cols):
            plans.append((None, dict(long_cols)))
        for key in sorted({c.key for c in content if c.key is not None}):
            plans.append((key, {**long_cols, **{c.field: c for c in content if c.key == key}}))
        for plan_key, cols in plans:
            for fld in shared:
                col = nearest(fld)
                if col is not None and fld not in cols:
                    cols[fld] = col
            data = {fld: frame[c.source] for fld, c in cols.items()}
            data[ROW] = frame[ROW]
            groups.append(
                _Group(
                    raw, file_index, table, plan_key, cols, pd.DataFrame(data, index=frame.index)
                )
            )
    return groups


def _keep_records(group: _Group, markers: list[str]) -> np.ndarray:
    """Rows of a group that are records: every patient row; others need a content or key value.

    An empty wide cell (no HFMSE at this visit) is no record: it is missing by design.
    """
    frame = group.frame
    if group.table == "patients":
        return np.ones(len(frame), dtype=bool)
    has = np.zeros(len(frame), dtype=bool)
    key_field = TABLE_KEYS.get(group.table, "")
    for fld in [*CONTENT_FIELDS[group.table], key_field]:
        if fld in frame and (group.key is None or fld != key_field):
            has = has | drop_missing(frame[fld], markers).notna().to_numpy(dtype=bool)
    return has


def _read_group(
    group: _Group, recs: np.ndarray, spec: RegistrySpec, book: _Book, *, grp: int
) -> pd.DataFrame:
    """Typed values of a group's fields (identifiers are not read at all)."""
    frame = group.frame
    markers = [*spec.missing, *group.file.spec.missing]
    decimal = group.file.spec.reader.decimal
    out: dict[str, Any] = {}
    for fld, col in group.columns.items():
        info = FIELDS[fld]
        if info.kind == "identifier":
            continue
        raw = frame[fld]
        values = drop_missing(raw, markers)
        if info.kind == "id":
            text = as_text(values)
            book.fail(
                recs,
                text.isna().to_numpy(),
                column=col.source,
                value=None,
                rule="missing_id",
                reason="no patient id",
            )
            out[fld] = text
        elif info.kind in ("date", "birth_date"):
            parsed, partial = parse_dates(
                values,
                fmt=col.date_format or spec.dates.format,
                partial_formats=spec.dates.partial_formats,
                partial_day=spec.dates.partial_day,
                latest=spec.dates.latest(),
            )
            book.apply(recs, parsed, column=col.source, raw=raw)
            out[fld] = parsed.column
            out[f"{fld}__partial"] = partial
            day = (
                spec.dates.partial_day
            )  # largest error of a date, days (linkage compares within it)
            out[f"{fld}__err"] = np.where(partial, float(max(day - 1, 31 - day)), 0.0)
        elif info.kind in ("age", "float", "int"):
            parsed = parse_numbers(values, decimal=decimal)
            if info.unit is not None:
                unit = spec.unit_of(col)
                factor = UNIT_FACTORS[(unit, info.unit)]
                if factor != 1.0:
                    parsed.column = parsed.column * factor
                    parsed.fixes.append(
                        (parsed.column.notna().to_numpy(), f"unit:{unit}->{info.unit}")
                    )
                if info.kind == "age":  # ages are written with about one decimal of their unit
                    out[f"{fld}__err"] = np.full(len(frame), max(0.05 * factor, 0.5))
            if info.kind == "int":
                v = parsed.column.to_numpy()
                frac = np.isfinite(v) & (v != np.round(v))
                if frac.any():
                    parsed.fails.append((frac, "not_an_integer", "not a whole number"))
                    parsed.column = parsed.column.mask(pd.Series(frac, index=parsed.column.index))
            book.apply(recs, parsed, column=col.source, raw=raw)
            out[fld] = parsed.column
        elif info.kind == "bool":
            own = col.codes or spec.codes.get(fld)
            parsed = parse_booleans(
                values,
                field_name=fld,
                mapping=own if own else {**DEFAULT_BOOLEANS, **spec.booleans},
                synonyms=spec.synonyms.get(fld, {}),
            )
            book.apply(recs, parsed, column=col.source, raw=raw)
            out[fld] = parsed.column
        else:  # code
            parsed = parse_codes(
                values,
                field_name=fld,
                mapping=col.codes or spec.codes.get(fld, {}),
                synonyms=spec.synonyms.get(fld, {}),
                allowed=ALLOWED_CODES[fld],
            )
            book.apply(recs, parsed, column=col.source, raw=raw)
            out[fld] = parsed.column
    key_field = TABLE_KEYS.get(group.table)
    if group.key is not None and key_field is not None:
        out[key_field] = pd.Series(
            pd.array([group.key] * len(frame), dtype=STRING), index=frame.index
        )
    typed = pd.DataFrame(out, index=frame.index)
    return typed.assign(_rec=recs, _grp=np.full(len(frame), grp, dtype=np.int32)).reset_index(
        drop=True
    )


class _Sources:
    """Source column of each field, per record group (records carry their group number)."""

    def __init__(self) -> None:
        self.meta: list[dict[str, str]] = []

    def add(self, group: _Group) -> int:
        self.meta.append(group.sources())
        return len(self.meta) - 1

    def of(self, typed: pd.DataFrame, name: str) -> np.ndarray:
        """Source column per record for a field or CDM column ``name``."""
        fields = _TARGET_FIELDS.get(name, (name,))
        lookup = np.array(
            [next((m[f] for f in fields if f in m), name) for m in self.meta] or [name],
            dtype=object,
        )
        return lookup[typed["_grp"].to_numpy()]


# ---------------------------------------------------------------------------- tables


@dataclass
class _Registry:
    """Per-registry state shared by the table builders."""

    spec: RegistrySpec
    book: _Book
    sources: _Sources
    lid_values: pa.Array  # every local id of the registry (index = local id code)
    pids: pa.Array  # pseudonym of each local id code
    birth: np.ndarray  # birth date per local id code of an accepted patient (NaT otherwise)
    accepted: np.ndarray  # local id code has an accepted patient record
    death: np.ndarray  # age at death (days) per local id code, NaN if none
    death_err: np.ndarray  # largest error of that age (16 days for a partial date)


def _ages(
    typed: pd.DataFrame,
    birth: np.ndarray,
    reg: _Registry,
    *,
    date_field: str,
    age_field: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Ages in days from a date (and the birth date) or an age field, and their largest error.

    The error is 0 for a full date (ages between full dates are exact days), 16 for a partial
    date completed to mid-month, half a tenth of the unit for an exported age.
    """
    recs = typed["_rec"].to_numpy()
    n = len(typed)
    out = np.full(n, np.nan)
    err = np.full(n, np.nan)
    if date_field in typed:
        date = typed[date_field].to_numpy(dtype="datetime64[ns]")
        partial = typed[f"{date_field}__partial"].fillna(value=False).to_numpy(dtype=bool)
        same_month = date.astype("datetime64[M]") == birth.astype("datetime64[M]")
        early = partial & (date < birth) & same_month
        if early.any():  # a completed partial date in the birth month may precede birth
            date = np.where(early, birth, date)
            reg.book.fix(recs, early, "partial_date_at_birth")
        out = (date - birth) / np.timedelta64(1, "D")
        neg = np.nan_to_num(out, nan=0.0) < 0
        reg.book.fail(
            recs,
            neg,
            column=reg.sources.of(typed, date_field),
            value=None,
            rule="before_birth",
            reason=f"{date_field} is before the birth date",
        )
        out = np.where(neg, np.nan, out)
        err = np.where(np.isnan(out), np.nan, typed[f"{date_field}__err"].to_numpy(dtype=float))
    if age_field in typed:
        ages = typed[age_field].to_numpy(dtype=float)
        use = np.isnan(out) & ~np.isnan(ages)
        err = np.where(use, typed[f"{age_field}__err"].to_numpy(dtype=float), err)
        out = np.where(use, ages, out)
    return out, err


def _require(
    typed: pd.DataFrame, values: Any, reg: _Registry, *, name: str, rule: str, reason: str
) -> None:
    """Fail records (not failed yet) whose required value is missing."""
    missing = pd.isna(values)
    missing = (
        missing.to_numpy(dtype=bool)
        if isinstance(missing, pd.Series)
        else np.asarray(missing, dtype=bool)
    )
    reg.book.fail(
        typed["_rec"].to_numpy(),
        missing,
        column=reg.sources.of(typed, name),
        value=None,
        rule=rule,
        reason=reason,
        new_only=True,
    )


def _column(typed: pd.DataFrame, name: str, dtype: Any) -> Any:
    if name in typed:
        return (
            typed[name].to_numpy()
            if not isinstance(dtype, pd.api.extensions.ExtensionDtype)
            else typed[name].array
        )
    return pd.array([None] * len(typed), dtype=dtype)


def _build_table(table: str, typed: pd.DataFrame, reg: _Registry) -> pd.DataFrame:
    """CDM columns of one table plus ``_rec``, ``_grp``, ``_lid``; failures go to the book."""
    spec = reg.spec
    recs = typed["_rec"].to_numpy()
    lid = typed["_lid"].to_numpy()
    has_lid = lid >= 0
    safe = np.where(has_lid, lid, 0)
    dtypes = _CDM_DTYPES[table]
    pid = (
        pc.take(reg.pids, pa.array(safe, mask=~has_lid))
        if len(reg.pids)
        else pa.nulls(len(typed), pa.string())
    )
    cols: dict[str, Any] = {"_rec": recs, "_grp": typed["_grp"].to_numpy(), "_lid": lid}
    cols["patient_id"] = pd.array(pid, dtype=STRING)

    def get(name: str) -> Any:
        return _column(typed, name, dtypes[name])

    if table == "patients":
        birth = (
            typed["birth_date"].to_numpy(dtype="datetime64[ns]")
            if "birth_date" in typed
            else np.full(len(typed), np.datetime64("NaT", "ns"))
        )

        def ages(date_field: str, age_field: str) -> tuple[np.ndarray, np.ndarray]:
            return _ages(typed, birth, reg, date_field=date_field, age_field=age_field)

        _require(
            typed,
            birth,
            reg,
            name="birth_date",
            rule="missing_birth_date",
            reason="no birth date: ages cannot be computed",
        )
        born = pd.Series(birth)
        cols["linked_id"] = cols["patient_id"]
        cols["registry"] = pd.array([spec.name] * len(typed), dtype=STRING)
        cols["region"] = (
            get("region")
            if "region" in typed
            else pd.array([spec.region] * len(typed), dtype=STRING)
        )
        cols["sex"] = get("sex")
        cols["birth_year"] = born.dt.year.astype("Int64").array
        cols["sma_type"] = get("sma_type")
        cols["smn2_copies"] = (
            typed["smn2_copies"].astype("Int64").array
            if "smn2_copies" in typed
            else get("smn2_copies")
        )
        cols["onset_age_days"], cols["_onset_err"] = ages("onset_date", "onset_age")
        cols["diagnosis_age_days"], cols["_diagnosis_err"] = ages("diagnosis_date", "diagnosis_age")
        cols["presymptomatic"] = get("presymptomatic")
        cols["reporter"] = pd.array([spec.reporter] * len(typed), dtype=STRING)
        cols["_birth_month"] = (born.dt.year * 12 + born.dt.month - 1).astype("Int64").array
        birth_partial = (
            typed["birth_date__partial"].to_numpy(dtype=bool)
            if "birth_date" in typed
            else np.ones(len(typed), dtype=bool)
        )
        cols["_birth_day"] = born.dt.day.astype("Int64").mask(pd.Series(birth_partial)).array
        if "region" in typed:
            _require(
                typed, typed["region"], reg, name="region", rule="missing_code", reason="no region"
            )
        for name in ("onset_age_days", "diagnosis_age_days"):
            cols[name] = pd.array(cols[name], dtype="Float64")
        return pd.DataFrame(cols)
    known = has_lid & reg.accepted[safe]
    reg.book.fail(
        recs,
        has_lid & ~known,
        column=reg.sources.of(typed, "local_id"),
        value=None,
        rule="unknown_patient",
        reason="patient id not among the accepted patient records",
        new_only=True,
    )
    birth = np.where(known, reg.birth[safe], np.datetime64("NaT", "ns"))

    def ages_(date_field: str, age_field: str) -> tuple[np.ndarray, np.ndarray]:
        return _ages(typed, birth, reg, date_field=date_field, age_field=age_field)

    if table == "treatments":
        cols["therapy"] = get("therapy")
        cols["start_age_days"], cols["_start_err"] = ages_("start_date", "start_age")
        stop, _ = ages_("stop_date", "stop_age")
        cols["stop_age_days"] = pd.array(stop, dtype="Float64")
        _require(
            typed,
            cols["start_age_days"],
            reg,
            name="start_age_days",
            rule="missing_date",
            reason="no start date",
        )
    elif table == "events":
        cols["event"] = get("event")
        cols["age_days"], cols["_age_err"] = ages_("event_date", "event_age")
        _require(
            typed,
            cols["age_days"],
            reg,
            name="age_days",
            rule="missing_date",
            reason="no event date",
        )
    else:
        cols["age_days"], _ = ages_("visit_date", "visit_age")
        _require(
            typed,
            cols["age_days"],
            reg,
            name="age_days",
            rule="missing_date",
            reason="no visit date",
        )
        for c in CDM_COLUMNS[table]:
            if c not in cols:
                cols[c] = get(c)
    key_field = TABLE_KEYS.get(table)
    if key_field is not None:
        _require(
            typed,
            cols[key_field],
            reg,
            name=key_field,
            rule="missing_code",
            reason=f"no {key_field}",
        )
    if table == "assessments":
        _require(
            typed,
            cols["score"],
            reg,
            name="score",
            rule="missing_value",
            reason="scale named but no score recorded",
        )
    return pd.DataFrame(cols)


def _flag_duplicates(frame: pd.DataFrame, table: str, book: _Book) -> None:
    """Later copies of a record are quarantined; patients need one row per local id."""
    recs = frame["_rec"].to_numpy()
    live = np.flatnonzero(~book.failed[recs])
    cdm = ["_lid", *[c for c in CDM_COLUMNS[table] if c not in ("linked_id", "patient_id")]]
    dup = np.zeros(len(frame), dtype=bool)
    dup[live] = frame.iloc[live][cdm].duplicated(keep="first").to_numpy()
    book.fail(
        recs, dup, column="(row)", value=None, rule="duplicate_row", reason="copy of an earlier row"
    )
    if table == "patients":
        live = np.flatnonzero(~book.failed[recs])
        clash = np.zeros(len(frame), dtype=bool)
        clash[live] = frame["_lid"].iloc[live].duplicated(keep=False).to_numpy()
        book.fail(
            recs,
            clash,
            column="(row)",
            value=None,
            rule="conflicting_duplicate",
            reason="patient id on several rows with different values",
        )


def _validate(table: str, frame: pd.DataFrame, reg: _Registry) -> None:
    """Run the CDM schema (lazy) on records not failed yet; its failure cases fail records."""
    recs = frame["_rec"].to_numpy()
    live = np.flatnonzero(~reg.book.failed[recs])
    if not len(live):
        return
    candidate = cast_cdm(table, frame.iloc[live]).reset_index(drop=True)
    try:
        CDM_SCHEMAS[table].validate(candidate, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases
        if cases["index"].isna().any():
            checks = cases.loc[cases["index"].isna(), "check"].astype(str).tolist()[:3]
            msg = f"CDM table {table}: schema failure not tied to a row (a bug): {checks}"
            raise RuntimeError(msg) from err
        # A dataframe-level check lists every column of a failing row: keep the one it is about.
        df_level = (cases["schema_context"] == "DataFrameSchema").to_numpy()
        about = cases["check"].map(_CHECK_COLUMN).fillna(cases["column"]).to_numpy()
        cases = cases.loc[~df_level | (cases["column"].to_numpy() == about)]
        cases = cases.drop_duplicates(["index", "column", "check"])
        live_frame = frame.iloc[live].reset_index(drop=True)
        live_recs = live_frame["_rec"].to_numpy()
        for (column, check), part in cases.groupby(["column", "check"], sort=True):
            mask = np.zeros(len(live_frame), dtype=bool)
            mask[part["index"].astype(np.int64).to_numpy()] = True
            reg.book.fail(
                live_recs,
                mask,
                column=reg.sources.of(live_frame, str(column)),
                value=candidate.get(column),
                rule="schema:" + str(check).split("(")[0],
                reason=f"{column} fails {str(check)[:80]}",
            )


def _after_death(frame: pd.DataFrame, table: str, reg: _Registry) -> None:
    """Fail records dated after the patient's death: impossible.

    The tolerance is one day, plus the error of a partial death date (a record later in the
    month of a death recorded as ``YYYY-MM`` is possible: the date is then moved, see
    :func:`_complete_deaths`).
    """
    col = "start_age_days" if table == "treatments" else "age_days"
    lid = frame["_lid"].to_numpy()
    safe = np.where(lid >= 0, lid, 0)
    death = np.where(lid >= 0, reg.death[safe] + reg.death_err[safe], np.nan)
    after = (
        np.nan_to_num(frame[col].to_numpy(dtype=float) - death, nan=-1.0) > _DEATH_TOLERANCE_DAYS
    )
    if table == "events":
        after = after & (frame["event"] != "death").to_numpy(dtype=bool, na_value=True)
    reg.book.fail(
        frame["_rec"].to_numpy(),
        after,
        column=reg.sources.of(frame, col),
        value=None,
        rule="after_death",
        reason="dated after the patient's death",
        new_only=True,
    )


def _complete_deaths(built: Mapping[str, pd.DataFrame], reg: _Registry) -> pd.DataFrame:
    """Move a partial death date after the patient's last dated record in that month.

    A death recorded as ``YYYY-MM`` is completed to mid-month; when the patient has accepted
    records later in that month (a survey on the 20th), the death cannot precede them, so it is
    set to the last of them (rule ``partial_date_after_records``). Returns the new events table.
    """
    events = built["events"]
    ok = ~reg.book.failed[events["_rec"].to_numpy()]
    is_death = (events["event"] == "death").to_numpy(dtype=bool, na_value=False) & ok
    partial = is_death & (np.nan_to_num(events["_age_err"].to_numpy(dtype=float)) > 1.0)
    if not partial.any():
        return events
    last = np.full(len(reg.death), -np.inf)
    for table, frame in built.items():
        col = "start_age_days" if table == "treatments" else "age_days"
        if table == "patients" or col not in frame:
            continue
        keep = ~reg.book.failed[frame["_rec"].to_numpy()] & (frame["_lid"].to_numpy() >= 0)
        if table == "events":
            keep = keep & ~is_death
        np.maximum.at(last, frame["_lid"].to_numpy()[keep], frame[col].to_numpy(dtype=float)[keep])
    lid = events["_lid"].to_numpy()
    age = events["age_days"].to_numpy(dtype=float)
    later = partial & (last[np.maximum(lid, 0)] > age)
    if not later.any():
        return events
    reg.book.fix(events["_rec"].to_numpy(), later, "partial_date_after_records")
    return events.assign(age_days=np.where(later, last[np.maximum(lid, 0)], age))


# ---------------------------------------------------------------------------- registry


def _arrow_text(series: pd.Series) -> pa.Array:
    """Return a text column as one Arrow ``large_string`` array (zero-copy when possible)."""
    return pa.array(series.astype(STRING).array).cast(pa.large_string())


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct integers (row numbers usually arrive sorted already: no hashing)."""
    if len(values) > 1 and (values[1:] < values[:-1]).any():
        values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _check_columns(f: RawFile, notes: list[str]) -> list[str]:
    """Return the mapped columns missing from a flat file; note the unmapped ones."""
    if f.spec.reader.format == "json":
        return []  # JSON records may omit keys: an absent key is a missing value
    frame = f.parts.get("")
    present = set() if frame is None else set(frame.columns) - {ROW}
    missing = sorted({c.source for c in f.spec.columns} - present - set(f.spec.optional))
    if not missing:
        extra = sorted(present - {c.source for c in f.spec.columns} - set(f.spec.ignore))
        if extra:
            notes.append(f"{f.path}: {len(extra)} unmapped column(s) ignored: {extra[:8]}")
    return missing


def harmonise_registry(raw: RawRegistry, *, key: PseudonymKey | bytes) -> HarmonisedRegistry:
    r"""Harmonise one registry export into CDM tables.

    Parameters
    ----------
    raw
        The export as read by :func:`~sma_response.harmonise.io.read_registry`.
    key
        Pseudonymisation secret (see :mod:`sma_response.harmonise.pseudonym`).

    Returns
    -------
    HarmonisedRegistry
        Accepted (and corrected) CDM rows, linkage keys, rejects, accounting and corrections.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sma_response.harmonise.io import read_registry
    >>> from sma_response.harmonise.spec import parse_registry_spec
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "p.csv").write_text("id,dob,sex\nA1,2020-01-02,f\nA2,2020-13-01,m\n")
    >>> spec = parse_registry_spec({"name": "demo", "region": "x",
    ...     "codes": {"sex": {"f": "F", "m": "M"}},
    ...     "files": {"patients": {"pattern": "p.csv", "reader": {"format": "csv"},
    ...     "columns": {"id": "local_id", "dob": "birth_date", "sex": "sex"}}}})
    >>> out = harmonise_registry(read_registry(spec, folder), key=b"k")
    >>> out.tables["patients"][["birth_year", "sex"]].to_dict("records")
    [{'birth_year': 2020, 'sex': 'F'}]
    >>> out.rejects[["row", "column", "rule"]].to_dict("records")
    [{'row': 3, 'column': 'dob', 'rule': 'invalid_date'}]
    """
    spec = raw.spec
    notes = list(raw.notes)
    file_rejects: list[pd.DataFrame] = []
    file_accounts: list[dict[str, Any]] = []
    groups: dict[str, list[_Group]] = {t: [] for t in CDM_COLUMNS}
    identifier_parts: list[pa.Array] = []  # every identifier value, to mask them in rejects
    identifier_columns: set[str] = set()
    rows_of_file: dict[int, np.ndarray] = {}
    paths = [f.path for f in raw.files]
    for i, f in enumerate(raw.files):
        notes.extend(f.notes)
        if f.error is not None:
            file_rejects.append(
                _file_rejects(spec.name, f.path, [None], f.error_rule or "unreadable_file", f.error)
            )
            file_accounts.append(_account(spec.name, f.path, n=f.n_rows))
            notes.append(f"{spec.name}/{f.path}: file quarantined: {f.error}")
            continue
        if len(f.bad_rows):
            b = f.bad_rows
            file_rejects.append(
                _file_rejects(
                    spec.name, f.path, b["row"].tolist(), b["rule"].tolist(), b["reason"].tolist()
                )
            )
            file_accounts.append(_account(spec.name, f.path, n=len(b)))
            notes.append(f"{spec.name}/{f.path}: {len(b)} unparseable row(s) quarantined")
        missing = _check_columns(f, notes)
        if missing:
            rows = f.parts[""][ROW].tolist() if "" in f.parts else []
            reason = (
                f"the export lacks mapped column(s) {missing[:5]}: it does not match the mapping"
            )
            file_rejects.append(_file_rejects(spec.name, f.path, rows, "missing_column", reason))
            file_accounts.append(_account(spec.name, f.path, n=len(rows)))
            notes.append(
                f"{spec.name}/{f.path}: file quarantined: lacks mapped column(s) {missing[:5]}"
            )
            continue
        top = f.parts.get("")
        rows = (
            top[ROW].to_numpy()
            if top is not None
            else np.concatenate(
                [p[ROW].to_numpy() for p in f.parts.values()] or [np.zeros(0, np.int64)]
            )
        )
        rows_of_file[i] = _distinct(rows)
        for level, frame in f.parts.items():
            for c in f.spec.columns:
                if c.info.kind in IDENTIFIER_KINDS:
                    identifier_columns.add(c.source)
                    if c.source in frame.columns and c.level == level:
                        identifier_parts.append(_arrow_text(as_text(frame[c.source])))
            for g in _groups_of(f, i, level, frame):
                groups[g.table].append(g)
    # ---------------------------------------------------------------- records and fields
    plan: list[tuple[str, _Group]] = []
    for table in _TABLE_ORDER:
        for g in groups[table]:
            keep = _keep_records(g, [*spec.missing, *g.file.spec.missing])
            plan.append(
                (table, _Group(g.file, g.file_index, g.table, g.key, g.columns, g.frame.loc[keep]))
            )
    n_total = sum(len(g.frame) for _, g in plan)
    book = _Book(n_total)
    sources = _Sources()
    rec_file = np.zeros(n_total, dtype=np.int32)
    rec_row = np.zeros(n_total, dtype=np.int64)
    rec_table = np.zeros(n_total, dtype=np.int8)
    table_ids = {t: i for i, t in enumerate(CDM_COLUMNS)}
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in _TABLE_ORDER}
    start = 0
    for table, g in plan:
        recs = np.arange(start, start + len(g.frame), dtype=np.int64)
        start += len(g.frame)
        rec_file[recs] = g.file_index
        rec_row[recs] = g.frame[ROW].to_numpy()
        rec_table[recs] = table_ids[table]
        parts[table].append(_read_group(g, recs, spec, book, grp=sources.add(g)))
        for rule in g.file.corrections:  # file-level corrections (a fallback encoding)
            book.fix(recs, np.ones(len(recs), dtype=bool), rule)
    typed = {t: pd.concat(p, ignore_index=True) for t, p in parts.items() if p}
    # ---------------------------------------------------------------- local ids and pseudonyms
    all_ids = [_arrow_text(t["local_id"]) for t in typed.values() if "local_id" in t]
    lid_values = pc.drop_null(pc.unique(pa.chunked_array(all_ids, type=pa.large_string())))
    for name, t in typed.items():
        if "local_id" in t:
            index = pc.index_in(_arrow_text(t["local_id"]), value_set=lid_values)
            typed[name] = t.assign(_lid=pc.fill_null(index, -1).to_numpy().astype(np.int64))
        else:
            typed[name] = t.assign(_lid=np.full(len(t), -1, dtype=np.int64))
    pids = pseudonymise(pd.Series(pd.array(lid_values, dtype=STRING)), registry=spec.name, key=key)
    n_lid = len(lid_values)
    reg = _Registry(
        spec=spec,
        book=book,
        sources=sources,
        lid_values=lid_values,
        pids=pa.array(pids.array),
        birth=np.full(n_lid, np.datetime64("NaT", "ns")),
        accepted=np.zeros(n_lid, dtype=bool),
        death=np.full(n_lid, np.nan),
        death_err=np.zeros(n_lid),
    )
    # ---------------------------------------------------------------- tables
    built: dict[str, pd.DataFrame] = {}
    for table in _TABLE_ORDER:
        if table not in typed:
            continue
        frame = _build_table(table, typed[table], reg)
        _flag_duplicates(frame, table, book)
        _validate(table, frame, reg)
        if table != "patients":
            _after_death(frame, table, reg)
        built[table] = frame
        ok = ~book.failed[frame["_rec"].to_numpy()]
        lid = frame["_lid"].to_numpy()
        if table == "patients":
            good = ok & (lid >= 0)
            reg.accepted[lid[good]] = True
            reg.birth[lid[good]] = typed["patients"]["birth_date"].to_numpy(dtype="datetime64[ns]")[
                good
            ]
        elif table == "events":
            dead = (
                ok & (frame["event"] == "death").to_numpy(dtype=bool, na_value=False) & (lid >= 0)
            )
            first = frame.loc[dead, ["_lid", "age_days", "_age_err"]].sort_values(
                ["_lid", "age_days"]
            )
            first = first.drop_duplicates("_lid")
            reg.death[first["_lid"].to_numpy()] = first["age_days"].to_numpy(dtype=float)
            reg.death_err[first["_lid"].to_numpy()] = np.nan_to_num(
                first["_age_err"].to_numpy(dtype=float)
            )
        del typed[table]
    if "events" in built:
        built["events"] = _complete_deaths(built, reg)
    # ---------------------------------------------------------------- bookkeeping
    corrected = np.zeros(n_total, dtype=bool)
    for mask in book.fixes.values():
        corrected |= mask
    state = np.where(book.failed, 2, np.where(corrected, 1, 0))
    for i, rows in rows_of_file.items():
        if not len(rows):
            continue
        fed = np.zeros(int(rows.max()) + 1, dtype=bool)
        fed[rec_row[rec_file == i]] = True
        empty = rows[~fed[rows]]
        if len(empty):
            file_rejects.append(
                _file_rejects(
                    spec.name,
                    paths[i],
                    empty.tolist(),
                    "empty_row",
                    "row holds no value for any mapped field",
                )
            )
            file_accounts.append(_account(spec.name, paths[i], n=len(empty)))
    accounting = _accounting(spec.name, paths, rec_file, rec_table, state, file_accounts)
    corrections = _corrections(spec.name, paths, rec_file, rec_table, book)
    rec_lid = np.full(n_total, -1, dtype=np.int64)
    for frame in built.values():
        rec_lid[frame["_rec"].to_numpy()] = frame["_lid"].to_numpy()
    rejects = _rejects(
        spec.name,
        book,
        paths,
        rec_file,
        rec_row,
        rec_table,
        rec_lid,
        reg.pids,
        (identifier_parts, identifier_columns),
        file_rejects,
    )
    tables = {
        table: cast_cdm(
            table, built[table].loc[~book.failed[built[table]["_rec"].to_numpy()]]
        ).reset_index(drop=True)
        if table in built
        else cast_cdm(table, pd.DataFrame())
        for table in CDM_COLUMNS
    }
    link_keys = _link_keys(built, book.failed)
    totals = accounting[["n_in", "n_quarantined"]].sum()
    log.info(
        "harmonised %s: %d records in, %d quarantined, %d patients",
        spec.name,
        totals["n_in"],
        totals["n_quarantined"],
        len(tables["patients"]),
    )
    return HarmonisedRegistry(
        tables=tables,
        link_keys=link_keys,
        rejects=rejects,
        accounting=accounting,
        corrections=corrections,
        notes=notes,
    )


def _file_rejects(
    registry: str, file: str, rows: list[Any], rule: str | list[str], reason: str | list[str]
) -> pd.DataFrame:
    n = len(rows)
    return pd.DataFrame(
        {
            "registry": registry,
            "file": file,
            "row": pd.array(rows, dtype="Int64"),
            "table": FILE_TABLE,
            "column": pd.array([None] * n, dtype=STRING),
            "value": pd.array([None] * n, dtype=STRING),
            "rule": rule if isinstance(rule, list) else [rule] * n,
            "reason": reason if isinstance(reason, list) else [reason] * n,
            "patient_id": pd.array([None] * n, dtype=STRING),
        }
    )


def _account(registry: str, file: str, *, n: int) -> dict[str, Any]:
    return {
        "registry": registry,
        "file": file,
        "table": FILE_TABLE,
        "n_accepted": 0,
        "n_corrected": 0,
        "n_quarantined": n,
    }


def _accounting(
    registry: str,
    paths: list[str],
    rec_file: np.ndarray,
    rec_table: np.ndarray,
    state: np.ndarray,
    extra: list[dict[str, Any]],
) -> pd.DataFrame:
    """Count records per file, table and state (accepted 0, corrected 1, quarantined 2)."""
    tables = list(CDM_COLUMNS)
    n_t = len(tables)
    counts = np.bincount(
        (rec_file.astype(np.int64) * n_t + rec_table) * 3 + state, minlength=len(paths) * n_t * 3
    )
    counts = (
        counts.reshape(len(paths), n_t, 3) if len(paths) else np.zeros((0, n_t, 3), dtype=np.int64)
    )
    rows = [
        {
            "registry": registry,
            "file": paths[f],
            "table": tables[t],
            "n_accepted": int(counts[f, t, 0]),
            "n_corrected": int(counts[f, t, 1]),
            "n_quarantined": int(counts[f, t, 2]),
        }
        for f, t in zip(*np.nonzero(counts.sum(axis=2)), strict=True)
    ]
    frame = pd.DataFrame(rows + extra, columns=[c for c in ACCOUNT_COLUMNS if c != "n_in"])
    counts_cols = list(ACCOUNT_COLUMNS[4:])
    frame = frame.groupby(["registry", "file", "table"], sort=True, as_index=False)[
        counts_cols
    ].sum()
    frame["n_in"] = frame[counts_cols].sum(axis=1)
    return frame.astype(dict.fromkeys(ACCOUNT_COLUMNS[3:], "int64")).reindex(
        columns=list(ACCOUNT_COLUMNS)
    )


def _corrections(
    registry: str, paths: list[str], rec_file: np.ndarray, rec_table: np.ndarray, book: _Book
) -> pd.DataFrame:
    """Count the accepted records changed by each rule, per file and table."""
    tables = list(CDM_COLUMNS)
    rows = []
    for rule in sorted(book.fixes):
        mask = book.fixes[rule] & ~book.failed
        if not mask.any():
            continue
        counts = pd.crosstab(rec_file[mask], rec_table[mask])
        for f, per_table in counts.iterrows():
            for t, n in per_table.items():
                if n:
                    rows.append(
                        {
                            "registry": registry,
                            "file": paths[int(f)],
                            "table": tables[int(t)],
                            "rule": rule,
                            "n_rows": int(n),
                        }
                    )
    frame = pd.DataFrame(rows, columns=list(CORRECTION_COLUMNS))
    return (
        frame.sort_values(["file", "table", "rule"], kind="stable")
        .reset_index(drop=True)
        .astype({"n_rows": "int64"})
    )


def _rejects(
    registry: str,
    book: _Book,
    paths: list[str],
    rec_file: np.ndarray,
    rec_row: np.ndarray,
    rec_table: np.ndarray,
    rec_lid: np.ndarray,
    pids: pa.Array,
    identifiers: tuple[list[pa.Array], set[str]],
    file_rejects: list[pd.DataFrame],
) -> pd.DataFrame:
    """One reject row per failing cell (identifier values masked), then the file problems."""
    parts = list(file_rejects)
    if book.cells:
        cells = pd.concat(book.cells, ignore_index=True)
        recs = cells["_rec"].to_numpy()
        lid = rec_lid[recs]
        pid = (
            pc.take(pids, pa.array(np.where(lid >= 0, lid, 0), mask=lid < 0)) if len(pids) else None
        )
        tables = np.array(list(CDM_COLUMNS), dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "registry": registry,
                    "file": np.array(paths, dtype=object)[rec_file[recs]],
                    "row": pd.array(rec_row[recs], dtype="Int64"),
                    "table": tables[rec_table[recs]],
                    "column": cells["column"].astype(STRING).to_numpy(),
                    "value": mask_identifiers(
                        cells["value"].astype(STRING),
                        columns=cells["column"].astype(STRING),
                        identifiers=identifiers[0],
                        identifier_columns=identifiers[1],
                    ).to_numpy(),
                    "rule": cells["rule"].to_numpy(),
                    "reason": cells["reason"].to_numpy(),
                    "patient_id": pd.array(pid, dtype=STRING) if pid is not None else None,
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {c: pd.Series(dtype="Int64" if c == "row" else STRING) for c in REJECT_COLUMNS}
        )
    out = pd.concat(parts, ignore_index=True).reindex(columns=list(REJECT_COLUMNS))
    return out.astype({c: ("Int64" if c == "row" else STRING) for c in REJECT_COLUMNS})


def mask_identifiers(
    values: pd.Series,
    *,
    columns: pd.Series,
    identifiers: Iterable[pa.Array | str],
    identifier_columns: Iterable[str] = (),
) -> pd.Series:
    """Mask reject values that are, or contain, a direct identifier.

    A value is masked when its column holds identifiers (local id, name, record number, birth
    date: the identifier fields and the source columns mapped to them), when it equals an
    identifier value seen in the export, or when one of its words does (a shifted row can put
    a name under any column). Long values are shortened.

    Parameters
    ----------
    values
        Raw values as text.
    columns
        Field or source column each value came from.
    identifiers
        Every identifier value of the export (Arrow arrays or plain strings).
    identifier_columns
        Source columns holding identifiers.

    Returns
    -------
    pandas.Series
        The values, masked as ``<redacted: COLUMN>``.

    Examples
    --------
    >>> values = pd.Series(["12", "Anna Meier", "x", "SC-1"])
    >>> mask_identifiers(values, columns=pd.Series(["score"] * 3 + ["ID"]),
    ...                  identifiers=["Meier"], identifier_columns={"ID"}).tolist()
    ['12', '<redacted: score>', 'x', '<redacted: ID>']
    """
    values = values.astype(STRING).reset_index(drop=True)
    columns = columns.astype(STRING).reset_index(drop=True)
    by_column = (
        columns.isin(sorted(_IDENTIFIER_FIELDS | set(identifier_columns)))
        .fillna(value=False)
        .to_numpy(dtype=bool)
    )
    hit = by_column.copy()
    check = np.flatnonzero(values.notna().to_numpy(dtype=bool) & ~by_column)
    if len(check):
        parts = [
            p if isinstance(p, pa.Array | pa.ChunkedArray) else pa.array([p]) for p in identifiers
        ]
        parts = [p.cast(pa.large_string()) for p in parts]
        ident = (
            pc.unique(pa.chunked_array(parts, type=pa.large_string()))
            if parts
            else pa.array([], pa.large_string())
        )
        # the words of a name too (a cut row may leave "Anna Mü" where "Anna Müller" was)
        words_of = pc.list_flatten(pc.utf8_split_whitespace(ident))
        words_of = pc.filter(words_of, pc.greater_equal(pc.utf8_length(words_of), 3))
        ident = pc.unique(pa.chunked_array([ident, words_of.cast(pa.large_string())]))
        sub = values.iloc[check]
        exact = pc.is_in(_arrow_text(sub), value_set=ident).to_numpy(zero_copy_only=False)
        words = (
            sub.reset_index(drop=True).str.split(r"[\s,;:/|()\[\]{}\"'.]+", regex=True).explode()
        )
        words = words[words.str.len().fillna(0).gt(1)]
        in_words = pc.is_in(_arrow_text(words), value_set=ident).to_numpy(zero_copy_only=False)
        word_hit = np.zeros(len(sub), dtype=bool)
        word_hit[words.index.to_numpy()[in_words]] = True
        hit[check] = exact | word_hit
    long = values.str.len().fillna(0).to_numpy() > _MAX_VALUE_CHARS
    shortened = values.mask(pd.Series(long), values.str.slice(0, _MAX_VALUE_CHARS) + "...")
    masked = "<redacted: " + columns.fillna("value") + ">"
    return shortened.mask(pd.Series(hit), masked)


def _link_keys(built: Mapping[str, pd.DataFrame], failed: np.ndarray) -> pd.DataFrame:
    """Quasi-identifiers of accepted patients for duplicate linkage (in memory only)."""
    patients = built.get("patients")
    if patients is None or patients.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LINK_KEY_COLUMNS})
    ok = patients.loc[~failed[patients["_rec"].to_numpy()]]
    out = pd.DataFrame(
        {
            "patient_id": ok["patient_id"].astype(STRING).to_numpy(),
            "registry": ok["registry"].to_numpy(),
            "birth_month": ok["_birth_month"].astype("Int64").to_numpy(),
            "birth_day": ok["_birth_day"].astype("Int64").to_numpy(),
            "sex": ok["sex"].to_numpy(),
            "smn2_copies": ok["smn2_copies"].astype("Int64").to_numpy(),
            "sma_type": ok["sma_type"].to_numpy(),
            "onset_age_days": ok["onset_age_days"].astype(float).to_numpy(),
            "onset_err": ok["_onset_err"].astype(float).to_numpy(),
            "diagnosis_age_days": ok["diagnosis_age_days"].astype(float).to_numpy(),
            "diagnosis_err": ok["_diagnosis_err"].astype(float).to_numpy(),
        }
    )
    treat = built.get("treatments")
    if treat is not None and len(treat):
        treat = treat.loc[~failed[treat["_rec"].to_numpy()]]
        first = (
            treat.sort_values(["_lid", "start_age_days", "therapy"], kind="stable")
            .drop_duplicates("_lid")
            .set_index("patient_id")
        )
        out["first_therapy"] = out["patient_id"].map(first["therapy"]).astype(STRING)
        out["first_start_age_days"] = out["patient_id"].map(first["start_age_days"]).astype(float)
        out["first_start_err"] = out["patient_id"].map(first["_start_err"]).astype(float)
    return out.reindex(columns=list(LINK_KEY_COLUMNS)).reset_index(drop=True)


def combine_registries(results: Iterable[HarmonisedRegistry]) -> HarmonisedRegistry:
    """Stack the tables and bookkeeping of several registries (a new result).

    Parameters
    ----------
    results
        Harmonised registries (registry names differ, so patient ids never collide).

    Returns
    -------
    HarmonisedRegistry
        All tables concatenated in the order given.

    Examples
    --------
    >>> combine_registries([]).tables["patients"].shape
    (0, 12)
    """
    results = list(results)

    def stack(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else empty

    tables = {
        name: stack([r.tables[name] for r in results], cast_cdm(name, pd.DataFrame()))
        for name in CDM_COLUMNS
    }
    empty_keys = pd.DataFrame({c: pd.Series(dtype=object) for c in LINK_KEY_COLUMNS})
    empty_rejects = pd.DataFrame(
        {c: pd.Series(dtype="Int64" if c == "row" else STRING) for c in REJECT_COLUMNS}
    )
    return HarmonisedRegistry(
        tables=tables,
        link_keys=stack([r.link_keys for r in results], empty_keys),
        rejects=stack([r.rejects for r in results], empty_rejects),
        accounting=stack(
            [r.accounting for r in results], pd.DataFrame(columns=list(ACCOUNT_COLUMNS))
        ),
        corrections=stack(
            [r.corrections for r in results], pd.DataFrame(columns=list(CORRECTION_COLUMNS))
        ),
        notes=[n for r in results for n in r.notes],
    )
