"""Reading single fields: missing markers, numbers, dates, codes and booleans (pure, vectorised).

Each reader parses every *distinct* value once (registries repeat values: visit dates, codes)
and spreads the result back, and returns the values with boolean masks of the rows that
failed (with a rule and a reason) and of the rows a rule corrected. Text columns are pandas
``string[pyarrow]``; codes come back in that dtype, booleans as ``boolean``, numbers as
``float64`` and dates as ``datetime64[ns]``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "Parsed",
    "as_text",
    "drop_missing",
    "parse_booleans",
    "parse_codes",
    "parse_dates",
    "parse_numbers",
]

STRING = pd.StringDtype("pyarrow")


@dataclass
class Parsed:
    """Values read from one column, with per-row failures and corrections.

    Attributes
    ----------
    column
        The values read (same index as the input).
    fails
        ``(mask, rule, reason)`` per kind of failure.
    fixes
        ``(mask, rule)`` per correction rule applied.
    """

    column: pd.Series
    fails: list[tuple[np.ndarray, str, str]] = field(default_factory=list)
    fixes: list[tuple[np.ndarray, str]] = field(default_factory=list)


def as_text(series: pd.Series) -> pd.Series:
    """Values as stripped text (whole floats without ``.0``, dates as ISO); missing stays NA.

    Examples
    --------
    >>> as_text(pd.Series([3.0, 2.5, None])).tolist()
    ['3', '2.5', <NA>]
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%d").astype(STRING)
    if pd.api.types.is_bool_dtype(series):
        return series.map({True: "true", False: "false"}).astype(STRING)
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan) + 0.0  # no "-0"
        text = pc.cast(pa.array(values, from_pandas=True), pa.string())
        return pd.Series(pd.array(text, dtype=STRING), index=series.index)
    return series.astype(STRING).str.strip()


def _factorize(text: pd.Series) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """``codes, uniques, take``: read each distinct value once, then spread back."""
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    return codes, pd.Series(uniques, dtype=STRING), np.where(codes >= 0, codes, 0)


def _spread(u_values: np.ndarray, codes: np.ndarray, take: np.ndarray, *, fill: Any) -> np.ndarray:
    if len(u_values) == 0:
        return np.full(len(codes), fill)
    return np.where(codes >= 0, u_values[take], fill)


def _strings(u_values: list[Any] | np.ndarray, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Spread per-unique text values (``None`` = missing) to the rows, as ``string[pyarrow]``."""
    u_arr = pa.array(list(u_values), type=pa.string())
    if len(u_arr) == 0:
        return pd.Series(pd.array([None] * len(codes), dtype=STRING), index=index)
    idx = pa.array(np.where(codes >= 0, codes, 0), mask=codes < 0)
    return pd.Series(pd.array(pc.take(u_arr, idx), dtype=STRING), index=index)


def drop_missing(series: pd.Series, markers: Iterable[str]) -> pd.Series:
    """Replace missing-value markers (and blank text) by NA.

    Markers are compared as text; a marker that is a number (``-99``) also matches typed
    numbers equal to it.

    Examples
    --------
    >>> drop_missing(pd.Series(["k.A.", " 3 ", ""]), ["k.A."]).tolist()
    [<NA>, ' 3 ', <NA>]
    """
    markers = list(markers)
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return series
    if pd.api.types.is_numeric_dtype(series):
        nums = (
            pd.to_numeric(pd.Series(markers, dtype=STRING), errors="coerce")
            .dropna()
            .to_numpy(dtype=float)
        )
        return series.mask(series.isin(nums)) if len(nums) else series
    values = series.astype(STRING)
    text = values.str.strip()
    gone = text.isna() | (text == "")
    if markers:
        gone = gone | text.isin(markers)
    return values.mask(gone)


def parse_numbers(series: pd.Series, *, decimal: str = ".") -> Parsed:
    """Read numbers written as text with a given decimal mark (typed numbers pass through).

    A number written with the other decimal mark (``12.5`` in a ``,`` registry, ``12,5`` in a
    ``.`` registry) is read and counted as a correction (rule ``decimal_mark``); text that is
    no number fails (rule ``not_a_number``).

    Parameters
    ----------
    series
        Values, missing markers already removed.
    decimal
        The registry's decimal mark.

    Returns
    -------
    Parsed
        Float values with failures and corrections.

    Examples
    --------
    >>> out = parse_numbers(pd.Series(["12,5", "3", "x", None]), decimal=",")
    >>> out.column.tolist(), [rule for _, rule, _ in out.fails]
    ([12.5, 3.0, nan, nan], ['not_a_number'])
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        return Parsed(pd.Series(np.where(np.isfinite(values), values, np.nan), index=series.index))
    codes, u, take = _factorize(as_text(series))
    other = "." if decimal == "," else ","
    has_other = u.str.contains(other, regex=False).fillna(value=False).to_numpy(dtype=bool)
    native = u.str.replace(decimal, ".", regex=False) if decimal != "." else u
    first = pd.to_numeric(native.mask(pd.Series(has_other, index=u.index)), errors="coerce")
    swapped = pd.to_numeric(
        u.str.replace(other, ".", regex=False).where(pd.Series(has_other, index=u.index)),
        errors="coerce",
    )
    first_np = first.to_numpy(dtype=float, na_value=np.nan)
    swapped_np = swapped.to_numpy(dtype=float, na_value=np.nan)
    use_swapped = np.isnan(first_np) & ~np.isnan(swapped_np)
    value_u = np.where(use_swapped, swapped_np, first_np)
    value_u = np.where(np.isfinite(value_u), value_u, np.nan)
    present = codes >= 0
    out = Parsed(
        pd.Series(_spread(value_u, codes, take, fill=np.nan).astype(float), index=series.index)
    )
    bad = present & _spread(np.isnan(value_u), codes, take, fill=False).astype(bool)
    if bad.any():
        out.fails.append((bad, "not_a_number", "not a number"))
    fixed = present & _spread(use_swapped, codes, take, fill=False).astype(bool)
    if fixed.any():
        out.fixes.append((fixed, "decimal_mark"))
    return out


#: Earliest plausible date in a registry export (birth dates included).
EARLIEST_DATE = np.datetime64("1900-01-01", "ns")
#: The range of a nanosecond timestamp (days inside it).
_NS_MIN, _NS_MAX = np.datetime64("1677-09-22", "D"), np.datetime64("2262-04-10", "D")


def _strptime_ok(text: str, formats: Iterable[str]) -> bool:
    """Whether ``text`` is a real date in one of ``formats`` (any year, e.g. 2999 or 1066)."""
    for fmt in formats:
        try:
            dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return True
    return False


def parse_dates(
    series: pd.Series,
    *,
    fmt: str,
    partial_formats: Iterable[str] = (),
    partial_day: int = 15,
    latest: np.datetime64 | None = None,
) -> tuple[Parsed, np.ndarray]:
    """Read dates in a given format; partial dates (year and month) are completed.

    A real date before :data:`EARLIEST_DATE` or after ``latest`` (the export date) fails with
    rule ``date_out_of_range``, also when it lies beyond what a timestamp holds (2999, 9999);
    text that is no date in the format fails with ``invalid_date``.

    Parameters
    ----------
    series
        Text or typed dates, missing markers already removed.
    fmt
        ``strptime`` format of a full date.
    partial_formats
        Formats of partial dates (``%Y-%m``); the day is set to ``partial_day`` and the row
        counts as corrected (rule ``partial_date``).
    partial_day
        Day a partial date is set to (15: the error is at most 16 days either way).
    latest
        Latest plausible date (the export date); ``None``: no upper bound.

    Returns
    -------
    tuple
        ``(Parsed, partial)``: ``datetime64[ns]`` values with failures (rule ``invalid_date``)
        and corrections, and a boolean mask of the partial dates.

    Examples
    --------
    >>> out, partial = parse_dates(pd.Series(["31.01.2020", "2020-02", "31.02.2020"]),
    ...                            fmt="%d.%m.%Y", partial_formats=["%Y-%m"])
    >>> out.column.dt.strftime("%Y-%m-%d").tolist(), partial.tolist()
    (['2020-01-31', '2020-02-15', nan], [False, True, False])
    """
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series):
        values = (
            series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        )
        raw = values.to_numpy()
        # A typed date beyond what a nanosecond timestamp holds (year 2999 in a parquet file
        # with millisecond timestamps) is out of range, not a crash.
        beyond = ~np.isnat(raw) & ((raw < _NS_MIN) | (raw > _NS_MAX))
        safe = values.mask(pd.Series(beyond, index=values.index))
        typed = Parsed(safe.astype("datetime64[ns]").dt.normalize())
        _out_of_range(typed, beyond, latest)
        return typed, np.zeros(n, dtype=bool)
    codes, u, take = _factorize(as_text(series))
    parsed = pd.to_datetime(u, format=fmt, errors="coerce")
    partial_u = np.zeros(len(u), dtype=bool)
    for pfmt in partial_formats:
        todo = parsed.isna() & u.notna()
        if not todo.any():
            break
        alt = pd.to_datetime(u.where(todo), format=pfmt, errors="coerce")
        got = alt.notna() & todo
        parsed = parsed.where(~got, alt + pd.Timedelta(days=partial_day - 1))
        partial_u = partial_u | got.to_numpy(dtype=bool)
    present = codes >= 0
    parsed_np = parsed.to_numpy(dtype="datetime64[ns]")
    values = _spread(parsed_np, codes, take, fill=np.datetime64("NaT", "ns"))
    out = Parsed(pd.Series(values.astype("datetime64[ns]"), index=series.index))
    formats = [fmt, *partial_formats]
    failed_u = np.isnat(parsed_np) & u.notna().to_numpy()
    beyond_u = failed_u.copy()
    for i in np.flatnonzero(failed_u):
        beyond_u[i] = _strptime_ok(str(u.iloc[i]), formats)
    beyond = present & _spread(beyond_u, codes, take, fill=False).astype(bool)
    bad = present & _spread(np.isnat(parsed_np), codes, take, fill=False).astype(bool) & ~beyond
    partial = present & _spread(partial_u, codes, take, fill=False).astype(bool)
    if bad.any():
        expected = " or ".join(formats)
        out.fails.append((bad, "invalid_date", f"not a valid date in format {expected}"))
    _out_of_range(out, beyond, latest)
    if partial.any():
        out.fixes.append((partial, "partial_date"))
    return out, partial


def _out_of_range(out: Parsed, beyond: np.ndarray, latest: np.datetime64 | None) -> None:
    """Fail dates before 1900 or after ``latest`` (and ``beyond``: past a timestamp's range)."""
    values = out.column.to_numpy(dtype="datetime64[ns]")
    known = ~np.isnat(values)
    early = known & (values < EARLIEST_DATE)
    late = known & (values > latest) if latest is not None else np.zeros(len(values), bool)
    wrong = early | late | beyond
    if wrong.any():
        bound = f" or after the export date {str(latest)[:10]}" if latest is not None else ""
        out.fails.append((wrong, "date_out_of_range", f"a date before 1900-01-01{bound}"))
        out.column = out.column.mask(pd.Series(wrong, index=out.column.index))


def _norm(text: pd.Series) -> pd.Series:
    return text.astype(STRING).str.casefold().str.replace(r"[\s_\-]+", " ", regex=True).str.strip()


def _lookup(
    u: pd.Series,
    *,
    mapping: Mapping[str, Any],
    synonyms: Mapping[str, Any],
    allowed: Iterable[Any] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct value: ``(value, found, case_hit, synonym_hit)``."""
    direct: dict[str, Any] = {str(code): code for code in allowed or ()}
    direct.update({str(k): v for k, v in mapping.items()})
    if allowed is None:  # free codes (region): every value is its own code
        direct.update({str(v): v for v in u.dropna()})
    norm_map = dict(
        zip(_norm(pd.Series(list(direct), dtype=STRING)).tolist(), direct.values(), strict=True)
    )
    syn = {str(k): v for k, v in synonyms.items()}
    syn_norm = dict(
        zip(_norm(pd.Series(list(syn), dtype=STRING)).tolist(), syn.values(), strict=True)
    )
    nu = _norm(u)
    found = u.isin(list(direct)).to_numpy(dtype=bool)
    case_hit = ~found & nu.isin(list(norm_map)).to_numpy(dtype=bool)
    syn_hit = (
        ~found & ~case_hit & (u.isin(list(syn)) | nu.isin(list(syn_norm))).to_numpy(dtype=bool)
    )
    value_u = np.full(len(u), None, dtype=object)
    if len(u):
        value_u[found] = [direct[v] for v in u[found]]
        value_u[case_hit] = [norm_map[v] for v in nu[case_hit]]
        value_u[syn_hit] = [
            syn[a] if a in syn else syn_norm[b]
            for a, b in zip(u[syn_hit], nu[syn_hit], strict=True)
        ]
    return value_u, found, case_hit, syn_hit


def parse_codes(
    series: pd.Series,
    *,
    field_name: str,
    mapping: Mapping[str, Any],
    synonyms: Mapping[str, Any],
    allowed: Iterable[Any] | None,
) -> Parsed:
    """Translate codes through a code map.

    Lookup order: the code map, then an allowed CDM code as written (no correction); either
    after normalising case, spaces, ``_`` and ``-`` (rule ``code_case``); the synonyms (rule
    ``code_synonym``). A code found nowhere fails (rule ``unknown_code``). A map entry whose
    value is null maps the code to missing.

    Examples
    --------
    >>> out = parse_codes(pd.Series(["IIIa", "iiib", "Spinraza", "??"]), field_name="sma_type",
    ...                   mapping={"IIIa": "3a", "IIIb": "3b"}, synonyms={}, allowed=["3a", "3b"])
    >>> out.column.tolist(), [r for _, r in out.fixes], [r for _, r, _ in out.fails]
    (['3a', '3b', <NA>, <NA>], ['code_case'], ['unknown_code'])
    """
    codes, u, take = _factorize(as_text(series))
    value_u, found, case_hit, syn_hit = _lookup(
        u, mapping=mapping, synonyms=synonyms, allowed=allowed
    )
    unknown = ~(found | case_hit | syn_hit)
    text_u = [None if v is None or unknown[i] else str(v) for i, v in enumerate(value_u)]
    out = Parsed(_strings(text_u, codes, series.index))
    _flag(
        out,
        codes,
        take,
        case_hit=case_hit,
        syn_hit=syn_hit,
        unknown=unknown,
        reason=f"unknown {field_name} code",
    )
    return out


def parse_booleans(
    series: pd.Series, *, field_name: str, mapping: Mapping[str, Any], synonyms: Mapping[str, Any]
) -> Parsed:
    """Translate yes/no codes to booleans (same lookup rules as :func:`parse_codes`).

    Examples
    --------
    >>> out = parse_booleans(pd.Series(["ja", "Nein", "vielleicht"]), field_name="ambulant",
    ...                      mapping={"ja": True, "nein": False}, synonyms={})
    >>> out.column.tolist(), [r for _, r, _ in out.fails]
    ([True, False, <NA>], ['unknown_code'])
    """
    codes, u, take = _factorize(as_text(series))
    value_u, found, case_hit, syn_hit = _lookup(u, mapping=mapping, synonyms=synonyms, allowed=())
    not_bool = np.array(
        [v is not None and not isinstance(v, bool | np.bool_) for v in value_u], dtype=bool
    )
    unknown = ~(found | case_hit | syn_hit) | not_bool
    num_u = np.array(
        [
            np.nan if v is None or bad else float(bool(v))
            for v, bad in zip(value_u, unknown, strict=True)
        ]
    )
    values = _spread(num_u, codes, take, fill=np.nan).astype(float)
    out = Parsed(
        pd.Series(pd.arrays.BooleanArray(values == 1.0, np.isnan(values)), index=series.index)
    )
    _flag(
        out,
        codes,
        take,
        case_hit=case_hit,
        syn_hit=syn_hit,
        unknown=unknown,
        reason=f"unknown {field_name} code",
    )
    return out


def _flag(
    out: Parsed,
    codes: np.ndarray,
    take: np.ndarray,
    *,
    case_hit: np.ndarray,
    syn_hit: np.ndarray,
    unknown: np.ndarray,
    reason: str,
) -> None:
    present = codes >= 0
    for mask_u, rule in ((case_hit, "code_case"), (syn_hit, "code_synonym")):
        mask = present & _spread(mask_u, codes, take, fill=False).astype(bool)
        if mask.any():
            out.fixes.append((mask, rule))
    bad = present & _spread(unknown, codes, take, fill=False).astype(bool)
    if bad.any():
        out.fails.append((bad, "unknown_code", reason))
