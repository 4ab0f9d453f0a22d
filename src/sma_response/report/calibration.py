"""The simulator's calibration report: every published figure beside its emulation.

One self-contained HTML page (``make calibration``): a forest-style plot of each figure's
distance from its published value in standard errors (the 95 % interval is the band from -1.96
to +1.96), grouped by therapy, then the whole in-sample table and the leave-one-study-out table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sma_response._utils.io import atomic_write_text
from sma_response.report.figures import inline_png
from sma_response.report.render import template_environment
from sma_response.simulate.evidence import read_published_figures

__all__ = ["calibration_figure", "render_calibration_html", "write_calibration_report"]

_Z_LIMIT = 6.0


def _group(therapy: str) -> str:
    return "untreated" if therapy.startswith("untreated") else therapy


def calibration_figure(table: pd.DataFrame, figures: pd.DataFrame) -> Figure:
    """Forest-style plot: z of each figure (clipped at +-6), one panel row block per therapy."""
    rows = table.join(figures[["study", "therapy", "population"]], on="figure")
    rows = rows.assign(group=rows["therapy"].map(_group)).sort_values(["group", "study", "figure"])
    fig = Figure(figsize=(7.5, 0.24 * len(rows) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    z = rows["z"].to_numpy(dtype=float)
    inside = rows["within"].to_numpy(dtype=bool)
    ax.axvspan(-1.96, 1.96, color="#e8f1e8", zorder=0, label="inside the 95 % interval")
    ax.axvline(0.0, color="grey", linewidth=0.8)
    clipped = np.clip(z, -_Z_LIMIT, _Z_LIMIT)
    ax.scatter(clipped[inside], y[inside], color="#1b7837", s=18, zorder=3, label="inside")
    ax.scatter(
        clipped[~inside], y[~inside], color="#b2182b", marker="D", s=20, zorder=3, label="outside"
    )
    labels = [f"{r.study}: {r.figure}" for r in rows.itertuples()]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(-_Z_LIMIT - 0.3, _Z_LIMIT + 0.3)
    ax.set_xlabel("emulated minus published, in standard errors (clipped at ±6)")
    previous = None
    for yi, group in zip(y, rows["group"], strict=True):
        if group != previous:
            ax.axhline(yi + 0.5, color="#bbb", linewidth=0.6)
            ax.text(_Z_LIMIT + 0.25, yi, group, fontsize=7, ha="right", va="center", color="#555")
            previous = group
    ax.legend(loc="lower left", fontsize=7, frameon=False)
    return fig


def _fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.1f} %" if kind == "share" else f"{value:.2f}"


def render_calibration_html(
    table: pd.DataFrame,
    figures: pd.DataFrame,
    loso: pd.DataFrame | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """Render the calibration report.

    Parameters
    ----------
    table
        The in-sample calibration table (every figure, with ``figure`` and ``z``).
    figures
        The evidence table.
    loso
        The leave-one-study-out table written by ``make calibrate`` (``None``: not run).
    settings
        Shown in the header (emulation size, seed, parameter file).
    """
    scored = table.loc[table["figure"].notna()]
    evidence = figures.rename(columns={"kind": "figure_kind"})
    rows = scored.join(evidence[["study", "therapy", "population", "figure_kind"]], on="figure")
    template = template_environment().get_template("calibration.html.j2")
    loso_rows = (
        None if loso is None or loso.empty else loso.join(evidence[["figure_kind"]], on="figure")
    )
    return template.render(
        rows=rows.sort_values(["study", "figure"]).to_dict("records"),
        n_within=int(scored["within"].sum()),
        n=len(scored),
        loso=None if loso_rows is None else loso_rows.to_dict("records"),
        loso_within=None if loso_rows is None else int(loso_rows["within"].sum()),
        loso_studies=None
        if loso_rows is None
        else loso_rows.groupby("study")["within"].all().to_dict(),
        plot=inline_png(calibration_figure(scored, figures), alt="calibration forest plot"),
        fmt=_fmt,
        settings=dict(settings or {}),
    )


def write_calibration_report(
    table: pd.DataFrame,
    *,
    figures_file: Path,
    loso_file: Path | None,
    report_file: Path,
    settings: Mapping[str, Any],
) -> Path:
    """Write the HTML calibration report (with the leave-one-study-out table when present)."""
    figures = read_published_figures(figures_file)
    loso = None
    if loso_file is not None and Path(loso_file).is_file():
        loso = pd.read_csv(loso_file, sep="\t")
        loso["within"] = loso["within"].astype(bool)
    html = render_calibration_html(table, figures, loso, settings=settings)
    Path(report_file).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(report_file), html)
    return Path(report_file)
