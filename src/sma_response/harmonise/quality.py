"""Accounting of harmonised records and the human-readable summary (pure).

Every record read is accepted, corrected or quarantined; :func:`check_accounting` verifies the
identity ``n_in = n_accepted + n_corrected + n_quarantined`` per file and table, and
:func:`summarise` renders the accounting, the quarantine reasons, the corrections, duplicate
linkage and the notes as plain text (it names files, columns and rules, never values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = [
    "AccountingError",
    "accounting_totals",
    "check_accounting",
    "summarise",
    "totals_line",
]

_COUNTS = ("n_in", "n_accepted", "n_corrected", "n_quarantined")


class AccountingError(AssertionError):
    """The accounting identity does not hold (a harmonisation bug, never a data problem)."""


def check_accounting(accounting: pd.DataFrame) -> None:
    """Raise :class:`AccountingError` unless in = accepted + corrected + quarantined everywhere.

    Examples
    --------
    >>> check_accounting(pd.DataFrame({"file": ["a"], "table": ["t"], "n_in": [3],
    ...                                "n_accepted": [1],
    ...                                "n_corrected": [1], "n_quarantined": [1]}))
    """
    total = accounting["n_accepted"] + accounting["n_corrected"] + accounting["n_quarantined"]
    bad = accounting.loc[total != accounting["n_in"]]
    if len(bad):
        first = bad.iloc[0]
        counts = first[list(_COUNTS)].tolist()
        msg = f"accounting identity fails for {first['file']} / {first['table']}: {counts}"
        raise AccountingError(msg)


def accounting_totals(accounting: pd.DataFrame, *, by: Sequence[str] = ()) -> pd.DataFrame:
    """Sum the counts, overall or by some columns (``registry``, ``table``).

    Examples
    --------
    >>> acc = pd.DataFrame({"registry": ["r", "r"], "n_in": [3, 2], "n_accepted": [3, 0],
    ...                     "n_corrected": [0, 1], "n_quarantined": [0, 1]})
    >>> accounting_totals(acc).to_dict("records")
    [{'n_in': 5, 'n_accepted': 3, 'n_corrected': 1, 'n_quarantined': 1}]
    """
    if not by:
        return accounting[list(_COUNTS)].sum().to_frame().T.astype("int64")
    return accounting.groupby(list(by), sort=True, as_index=False)[list(_COUNTS)].sum()


def _table_text(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["  (none)"]
    text = frame.astype(str)
    widths = {c: max(len(c), *(len(v) for v in text[c])) for c in text.columns}
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])}

    def fmt(values: Mapping[str, str]) -> str:
        cells = [
            v.rjust(widths[c]) if c in numeric else v.ljust(widths[c]) for c, v in values.items()
        ]
        return "  " + "  ".join(cells).rstrip()

    lines = [
        fmt({c: c for c in text.columns}),
        "  " + "  ".join("-" * widths[c] for c in text.columns),
    ]
    lines += [
        fmt(dict(zip(text.columns, row, strict=True))) for row in text.itertuples(index=False)
    ]
    return lines


def summarise(
    *,
    dataset: str,
    accounting: pd.DataFrame,
    rejects: pd.DataFrame,
    corrections: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    digest: str,
    key_source: str,
    linkage: Mapping[str, float] | None = None,
    n_linked_groups: int = 0,
    notes: Sequence[str] = (),
) -> str:
    """Render the harmonisation summary as plain text.

    Parameters
    ----------
    dataset
        Dataset name.
    accounting, rejects, corrections
        Bookkeeping tables of the run.
    tables
        The CDM tables (for row counts).
    digest
        Content digest of the CDM.
    key_source
        Where the pseudonymisation secret came from (never the secret).
    linkage
        Linkage quality against the simulator's truth, when evaluated.
    n_linked_groups
        Number of persons with records in more than one registry.
    notes
        Messages collected while reading (file problems, unmapped columns).

    Returns
    -------
    str
        The summary (no cell values, no identifiers).
    """
    total = accounting_totals(accounting).iloc[0]
    lines = [
        f"Harmonisation of dataset '{dataset}'",
        "",
        f"Records: {total['n_in']:,} in = {total['n_accepted']:,} accepted"
        f" + {total['n_corrected']:,} corrected"
        f" + {total['n_quarantined']:,} quarantined",
        f"CDM digest: {digest}",
        f"Pseudonym key: {key_source}"
        + ("  (DEVELOPMENT key: synthetic data only)" if key_source == "development" else ""),
        "",
        "CDM tables (rows):",
    ]
    lines += [f"  {name:<16} {len(frame):>12,}" for name, frame in tables.items()]
    lines += ["", "Accounting per registry and table:"]
    lines += _table_text(accounting_totals(accounting, by=("registry", "table")))
    lines += ["", "Accounting per file:"]
    lines += _table_text(accounting[["registry", "file", "table", *_COUNTS]])
    lines += ["", "Quarantine reasons (cells or file problems):"]
    if len(rejects):
        reasons = (
            rejects.groupby(["registry", "table", "rule"], sort=True, dropna=False)
            .size()
            .rename("n")
            .reset_index()
        )
        lines += _table_text(reasons)
    else:
        lines += ["  (none)"]
    lines += ["", "Corrections (rows per rule):"]
    lines += _table_text(
        corrections.groupby(["registry", "table", "rule"], sort=True, as_index=False)[
            "n_rows"
        ].sum()
    )
    lines += [
        "",
        "Duplicate linkage:",
        f"  persons with records in several registries: {n_linked_groups:,}",
    ]
    if linkage is not None:
        lines.append(
            f"  against the simulator's truth: precision {linkage['precision']:.3f},"
            f" recall {linkage['recall']:.3f}"
            f" ({int(linkage['n_correct_pairs'])} of {int(linkage['n_true_pairs'])} true pairs,"
            f" {int(linkage['n_linked_pairs'])} linked pairs)"
        )
    if notes:
        lines += ["", "Notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(lines) + "\n"


def totals_line(accounting: pd.DataFrame) -> str:
    """Say in one line how many records came in and were accepted, corrected, quarantined."""
    totals = accounting_totals(accounting).iloc[0]
    return (
        f"harmonised {totals['n_in']} records: {totals['n_accepted']} accepted, "
        f"{totals['n_corrected']} corrected, {totals['n_quarantined']} quarantined"
    )
