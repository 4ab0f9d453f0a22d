"""Terminal output shared by the command-line entry points (rich tables)."""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console
from rich.table import Table

#: Endpoint kinds whose value is a share (shown as a percentage).
SHARE_KINDS = frozenset({"responder", "decliner", "stable", "reaches", "milestone", "event_free"})


def _fmt(value: float | None, *, share: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.1f}%" if share else f"{value:.2f}"


def calibration_console_table(table: pd.DataFrame, *, console: Console | None = None) -> int:
    """Print emulated vs published values; return how many fall outside their band."""
    console = console or Console(width=None if Console().is_terminal else 110)
    out = Table(title="Trial emulation vs published figures", header_style="bold")
    for col in ("trial", "arm", "endpoint", "emulated", "published", "accepted range", "n", ""):
        out.add_column(col, justify="right" if col in ("emulated", "published", "n") else "left")
    n_out = 0
    for r in table.itertuples(index=False):
        share = r.kind in SHARE_KINDS
        band = (
            "-"
            if r.accept_min is None or pd.isna(r.accept_min)
            else (f"{_fmt(r.accept_min, share=share)} .. {_fmt(r.accept_max, share=share)}")
        )
        ok = (
            ""
            if r.within is None or pd.isna(r.within)
            else ("[green]ok[/]" if r.within else "[red]OUT[/]")
        )
        n_out += int(r.within is False)
        out.add_row(
            str(r.trial),
            str(r.arm),
            str(r.endpoint),
            _fmt(r.emulated, share=share),
            _fmt(r.published, share=share),
            band,
            str(r.n),
            ok,
        )
    console.print(out)
    n_checked = int(table["within"].notna().sum())
    console.print(
        f"{n_checked - n_out} of {n_checked} published figures reproduced within tolerance."
    )
    return n_out
