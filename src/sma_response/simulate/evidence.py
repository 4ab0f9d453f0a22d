"""The evidence base: published SMA figures the simulator is calibrated to and scored against.

``configs/calibration/published_figures.tsv`` (a copy of the consortium's shared table) holds one
row per figure: source, population, therapy, endpoint, time point, value, n and a 95 % interval
(Wilson for shares; the published interval, or the stated band, otherwise). Trial specs point at
rows by ``id`` (``figures: {arm: id}``, or ``{"risdiplam - untreated": id}`` for a difference
between arms); nothing else in the package holds a published number.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

__all__ = [
    "FIGURE_COLUMNS",
    "EvidenceError",
    "figure_z",
    "read_published_figures",
]

FIGURE_COLUMNS = (
    "id",
    "study",
    "source",
    "population",
    "therapy",
    "endpoint",
    "timepoint",
    "value",
    "n",
    "ci_low",
    "ci_high",
    "kind",
    "note",
)
_NUMERIC = ("value", "n", "ci_low", "ci_high")
_KINDS = ("mean", "share")


class EvidenceError(ValueError):
    """The figures table is malformed; the message names the file, row, column and rule."""


def read_published_figures(path: str | Path) -> pd.DataFrame:
    """Read and check the published-figures table.

    Parameters
    ----------
    path
        A tab-separated file with :data:`FIGURE_COLUMNS` (``n`` may be empty).

    Returns
    -------
    pandas.DataFrame
        One row per figure, indexed by ``id``; numeric columns as floats.

    Raises
    ------
    EvidenceError
        For a missing file or column, a duplicated id, a non-numeric value, an unknown kind,
        a share outside 0..1 or an interval that does not hold its value.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no published-figures table"
        raise EvidenceError(msg)
    try:
        raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        msg = f"{path}: not a readable tab-separated table ({str(err).splitlines()[0]})"
        raise EvidenceError(msg) from err
    missing = [c for c in FIGURE_COLUMNS if c not in raw.columns]
    if missing:
        msg = f"{path}: missing column(s) {missing}"
        raise EvidenceError(msg)
    table = raw.loc[:, list(FIGURE_COLUMNS)].copy()
    for row, record in enumerate(table.itertuples(index=False), start=2):  # line 1: header
        _check_row(path, row, record._asdict())
    dup = table["id"][table["id"].duplicated()]
    if len(dup):
        msg = f"{path}: column id: duplicated figure id {dup.iloc[0]!r}"
        raise EvidenceError(msg)
    for col in _NUMERIC:
        table[col] = pd.to_numeric(table[col].replace("", None)).astype(float)
    return table.set_index("id")


def _check_row(path: Path, row: int, record: dict[str, str]) -> None:
    def fail(column: str, rule: str) -> None:
        msg = f"{path}: row {row}, column {column}: {rule} (got {record[column]!r})"
        raise EvidenceError(msg)

    if not record["id"].strip():
        fail("id", "a figure id is required")
    values: dict[str, float] = {}
    for col in _NUMERIC:
        text = record[col].strip()
        if not text and col == "n":
            continue
        try:
            values[col] = float(text)
        except ValueError:
            fail(col, "must be a number")
        if not math.isfinite(values[col]):
            fail(col, "must be finite")
    if record["kind"] not in _KINDS:
        fail("kind", f"must be one of {list(_KINDS)}")
    if "n" in values and values["n"] <= 0:
        fail("n", "must be positive")
    if record["kind"] == "share":
        for col in ("value", "ci_low", "ci_high"):
            if not 0.0 <= values[col] <= 1.0:
                fail(col, "a share must lie in 0..1")
    if not values["ci_low"] <= values["value"] <= values["ci_high"]:
        band = f"[{record['ci_low']}, {record['ci_high']}]"
        fail("value", f"must lie inside its interval [ci_low, ci_high] = {band}")


def figure_z(emulated: float, value: float, ci_low: float, ci_high: float) -> float:
    """Distance of an emulated figure from the published one, in standard errors.

    The standard error comes from the half of the 95 % interval on the emulated value's side
    (half-width / 1.96: Wilson intervals of shares are asymmetric); where that half is empty
    (a share of 0 or 1), the other half is used.

    Examples
    --------
    >>> round(figure_z(4.9, 3.9, 2.9, 4.9), 2)
    1.96
    >>> round(figure_z(0.9, 1.0, 0.785, 1.0), 2)
    -0.91
    """
    if math.isnan(emulated):
        return math.nan
    low_half, high_half = value - ci_low, ci_high - value
    half = high_half if emulated >= value else low_half
    if half <= 0.0:
        half = max(low_half, high_half)
    if half <= 0.0:
        return 0.0 if emulated == value else math.copysign(math.inf, emulated - value)
    return (emulated - value) / (half / 1.96)
