from __future__ import annotations

import numpy as np
import pandas as pd

from sma_response.harmonise.fields import (
    as_text,
    drop_missing,
    parse_booleans,
    parse_codes,
    parse_dates,
    parse_numbers,
)


def test_decimal_comma_is_native_and_the_other_mark_a_correction() -> None:
    out = parse_numbers(pd.Series(["12,5", "3", "7.5", "abc", None]), decimal=",")
    assert np.allclose(out.column.to_numpy()[:3], [12.5, 3.0, 7.5])
    assert out.column.isna().tolist() == [False, False, False, True, True]
    assert [rule for _, rule in out.fixes] == ["decimal_mark"]
    assert out.fixes[0][0].tolist() == [False, False, True, False, False]
    assert [rule for _, rule, _ in out.fails] == ["not_a_number"]
    assert out.fails[0][0].tolist() == [False, False, False, True, False]


def test_typed_numbers_pass_through() -> None:
    out = parse_numbers(pd.Series([1.0, np.nan, np.inf]))
    assert out.column.tolist()[0] == 1.0
    assert np.isnan(out.column.tolist()[2])
    assert not out.fails


def test_partial_dates_go_to_mid_month() -> None:
    out, partial = parse_dates(
        pd.Series(["2019-08", "03/04/2020", "13/40/2020"]),
        fmt="%m/%d/%Y",
        partial_formats=["%Y-%m"],
    )
    assert out.column.dt.strftime("%Y-%m-%d").tolist()[:2] == ["2019-08-15", "2020-03-04"]
    assert partial.tolist() == [True, False, False]
    assert [r for _, r in out.fixes] == ["partial_date"]
    assert [r for _, r, _ in out.fails] == ["invalid_date"]


def test_codes_map_normalise_and_synonyms() -> None:
    out = parse_codes(
        pd.Series(["Spinraza", "spinraza ", "Nusinersen-Natrium", "aspirin", None]),
        field_name="therapy",
        mapping={"Spinraza": "nusinersen"},
        synonyms={"Nusinersen-Natrium": "nusinersen"},
        allowed=["nusinersen", "risdiplam", "onasemnogene"],
    )
    assert out.column.tolist()[:3] == ["nusinersen"] * 3
    assert out.column.isna().tolist() == [False, False, False, True, True]
    assert {r for _, r in out.fixes} == {"code_case", "code_synonym"}
    assert [r for _, r, _ in out.fails] == ["unknown_code"]


def test_code_mapped_to_null_is_missing_not_a_failure() -> None:
    out = parse_codes(
        pd.Series(["präsymptomatisch"]),
        field_name="sma_type",
        mapping={"präsymptomatisch": None},
        synonyms={},
        allowed=["1"],
    )
    assert out.column.isna().all()
    assert not out.fails


def test_booleans() -> None:
    out = parse_booleans(
        pd.Series(["Yes", "No", "maybe", None]),
        field_name="ambulant",
        mapping={"Yes": True, "No": False},
        synonyms={},
    )
    assert out.column.tolist() == [True, False, pd.NA, pd.NA]
    assert [r for _, r, _ in out.fails] == ["unknown_code"]


def test_missing_markers_text_and_numbers() -> None:
    assert drop_missing(pd.Series(["-99", "k.A.", "3"]), ["-99", "k.A."]).isna().tolist() == [
        True,
        True,
        False,
    ]
    assert drop_missing(pd.Series([-99.0, 4.0]), ["-99"]).isna().tolist() == [True, False]


def test_as_text_whole_numbers() -> None:
    assert as_text(pd.Series([3.0, -0.0, 2.5])).tolist() == ["3", "0", "2.5"]


def test_dates_outside_1900_to_the_export_date_are_out_of_range_not_invalid():
    """2099 (after the export), 2999 and 9999 (past a timestamp's range), 1850: out of range."""
    from sma_response.harmonise.fields import parse_dates

    values = pd.Series(["2020-01-31", "2099-05-01", "2999-01-01", "9999-12-31", "1850-03-01",
                        "2020-02-31", "2026-07-01"])  # fmt: skip
    out, _ = parse_dates(values, fmt="%Y-%m-%d", latest=np.datetime64("2026-07-01", "ns"))
    rules = {rule: np.flatnonzero(mask).tolist() for mask, rule, _ in out.fails}
    assert rules == {"invalid_date": [5], "date_out_of_range": [1, 2, 3, 4]}
    reason = next(r for _, rule, r in out.fails if rule == "date_out_of_range")
    assert reason == "a date before 1900-01-01 or after the export date 2026-07-01"
    assert out.column.notna().tolist() == [True, False, False, False, False, False, True]


def test_typed_dates_are_checked_against_the_window_too():
    from sma_response.harmonise.fields import parse_dates

    typed = pd.Series(pd.to_datetime(["2020-01-01", "1890-01-01", "2030-01-01"]))
    out, _ = parse_dates(typed, fmt="%Y-%m-%d", latest=np.datetime64("2026-07-01", "ns"))
    ((mask, rule, _),) = out.fails
    assert rule == "date_out_of_range"
    assert mask.tolist() == [False, True, True]


def test_a_millisecond_timestamp_in_year_2999_is_out_of_range_not_a_crash():
    """Parquet timestamps read in their own unit can lie past a nanosecond timestamp."""
    import datetime as dt

    import pyarrow as pa

    from sma_response.harmonise.fields import parse_dates

    table = pa.table({"d": pa.array([dt.datetime(2020, 1, 1), dt.datetime(2999, 1, 1)],
                                    pa.timestamp("ms"))})  # fmt: skip
    out, _ = parse_dates(table.to_pandas()["d"], fmt="%Y-%m-%d", latest=None)
    ((mask, rule, _),) = out.fails
    assert (rule, mask.tolist()) == ("date_out_of_range", [False, True])
