"""Summary tables the simulate and harmonise commands print (presentation only)."""

from __future__ import annotations

from rich.table import Table

from sma_response.harmonise.cdm import HarmonisationResult
from sma_response.harmonise.quality import accounting_totals
from sma_response.pipelines.simulate import SimulationResult
from sma_response.simulate.params import THERAPIES

__all__ = ["harmonisation_table", "simulation_table"]


def simulation_table(result: SimulationResult) -> Table:
    """Build a rich table summarising a simulation run (for the command line).

    Parameters
    ----------
    result
        Result of :func:`~sma_response.pipelines.simulate.run_simulation`.

    Returns
    -------
    rich.table.Table
        Registries with counts and therapy mix, the type mix, shared patients, output folder
        and wall time in the caption.
    """
    table = Table(
        title=f"Simulated dataset '{result.dataset}' (seed {result.seed})", header_style="bold"
    )
    for col in ("registry", "region", "format", "patients", "shared", "visits", "assessments"):
        table.add_column(
            col, justify="left" if col in ("registry", "region", "format") else "right"
        )
    table.add_column("1st therapy %\nnus/ris/ona", justify="right")
    for r in result.registries.itertuples(index=False):
        mix = "/".join(f"{100 * getattr(r, t):.0f}" for t in THERAPIES)
        table.add_row(
            r.registry,
            r.region,
            r.format,
            f"{r.patients:,}",
            f"{r.shared:,}",
            f"{r.visits:,}",
            f"{r.assessments:,}",
            mix,
        )
    types = ", ".join(f"{t}: {100 * share:.1f}%" for t, share in result.type_mix.items())
    table.caption = (
        f"{result.n_patients:,} patients; SMA type mix {types}; "
        f"{result.n_shared} shared enrolments\n"
        f"{result.n_files} files, {result.n_bytes / 1e6:.1f} MB in {result.output_dir}; "
        f"wall time {result.wall_seconds:.1f} s"
    )
    return table


def harmonisation_table(result: HarmonisationResult) -> Table:
    """Build a rich table of the run for the command line: records per registry and table.

    Parameters
    ----------
    result
        Result of :func:`~sma_response.pipelines.harmonise.run_harmonisation`.

    Returns
    -------
    rich.table.Table
        Counts per registry and table, with the CDM rows, digest, linkage and output folder in
        the caption.
    """
    table = Table(title=f"Harmonised dataset '{result.dataset}'", header_style="bold")
    for col in ("registry", "table", "in", "accepted", "corrected", "quarantined"):
        table.add_column(col, justify="left" if col in ("registry", "table") else "right")
    per = accounting_totals(result.accounting, by=("registry", "table"))
    for r in per.itertuples(index=False):
        table.add_row(
            str(r.registry),
            str(r.table),
            f"{r.n_in:,}",
            f"{r.n_accepted:,}",
            f"{r.n_corrected:,}",
            f"{r.n_quarantined:,}",
        )
    rows = ", ".join(f"{name} {n:,}" for name, n in result.n_rows.items())
    link = (
        f"; linkage precision {result.linkage['precision']:.3f},"
        f" recall {result.linkage['recall']:.3f}"
        if result.linkage
        else ""
    )
    dev = " (DEVELOPMENT pseudonym key)" if result.key_source == "development" else ""
    table.caption = (
        f"CDM rows: {rows}\n{result.n_linked_groups:,} persons linked across registries{link}\n"
        f"{result.n_rejects:,} reject rows; digest {result.digest[:16]}{dev}\n"
        f"written to {result.out_dir} in {result.wall_seconds:.1f} s"
    )
    return table
