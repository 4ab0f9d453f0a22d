"""Terminal output of ``sma-report``, ``sma-reproduce`` and ``sma-validate`` (rich tables)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sma_response.cli._display import format_ci

__all__ = ["report_summary", "reproduction_table", "validation_summary"]

#: Reported patients listed in the terminal summary (all are in the index page).
_MAX_ROWS = 10

_STYLE = {
    "same": "[green]same[/]",
    "differs": "[bold red]DIFFERS[/]",
    "skipped": "[yellow]not checked[/]",
}


def _console(console: Console | None) -> Console:
    return console or Console(width=None if Console().is_terminal else 100)


def report_summary(result: Any, *, console: Console | None = None) -> None:
    """Print what a :class:`~sma_response.pipelines.report.ReportRun` wrote."""
    console = _console(console)
    patients = result.patients
    source = (
        "held-out predictions of the run's cohort"
        if result.source == "cohort"
        else "new patients from the export, scored by the final model"
    )
    table = Table(
        title=f"sma-report: {len(patients)} patient report(s) of run {result.run_id} ({source})",
        header_style="bold",
    )
    for col in ("patient", "region", "scale", "chance of meaningful gain", "expected change"):
        table.add_column(col, justify="left" if col in ("patient", "region", "scale") else "right")
    for row in patients.head(_MAX_ROWS).itertuples(index=False):
        change = "-"
        if row.expected_change == row.expected_change:  # not NaN
            change = f"{row.expected_change:+.1f} ({row.lower:+.1f} to {row.upper:+.1f})"
        chance = "-" if row.probability != row.probability else f"{100 * row.probability:.0f} %"
        table.add_row(str(row.patient_id), str(row.region), str(row.scale), chance, change)
    if len(patients) > _MAX_ROWS:
        table.add_row(f"... {len(patients) - _MAX_ROWS} more in the index page", "", "", "", "")
    console.print(table)
    skipped = result.skipped
    if skipped is not None and len(skipped):
        console.print(
            f"[yellow]{len(skipped)} of {result.n_export_patients} patients in the export "
            "cannot be reported on (no index event the model applies to):[/]",
            highlight=False,
        )
        for row in skipped.head(_MAX_ROWS).itertuples(index=False):
            console.print(f"  {row.patient_id}: {escape(str(row.reason))}", highlight=False)
        if len(skipped) > _MAX_ROWS:
            console.print(f"  ... {len(skipped) - _MAX_ROWS} more", highlight=False)
        console.print(f"  all of them: {result.folder / 'skipped_patients.csv'}", highlight=False)
    if result.rejects_path is not None:
        console.print(f"Quarantined cells and rows: {result.rejects_path}", highlight=False)
    n_files = len(result.paths) - 1
    console.print(f"{n_files} files (HTML and PDF) in {result.folder}", highlight=False)
    console.print(f"Open the index page: {result.index}", highlight=False)


def reproduction_table(report: Any, *, console: Console | None = None) -> None:
    """Print every check of a :class:`~sma_response.pipelines.reproduce.ReproductionReport`."""
    console = _console(console)
    table = Table(
        title=f"sma-reproduce: run {report.run_id}", header_style="bold", show_lines=False
    )
    table.add_column("check", overflow="fold", max_width=24)
    table.add_column("result", no_wrap=True)
    table.add_column("logged -> now, and what differs", overflow="fold", ratio=1)
    for check in report.checks:
        sides = f"[dim]{escape(check.logged)} -> {escape(check.current)}[/]"
        table.add_row(
            check.name,
            _STYLE.get(check.status, check.status),
            "\n".join([sides, *map(escape, check.details)]),
        )
    console.print(table)
    for note in report.notes:
        console.print(f"  note: {note}", highlight=False)
    colour = "green" if report.status in ("identical", "consistent") else "red"
    console.print(f"[bold {colour}]{report.summary()}[/]", highlight=False)


def validation_summary(result: Any, *, console: Console | None = None) -> None:
    """Print the headline of a :class:`~sma_response.pipelines.validate.ValidationResult`."""
    console = _console(console)
    report = result.report
    task = report["model"]["task"]
    keys = (
        ["auroc", "auprc", "brier", "calibration_intercept", "calibration_slope"]
        if task == "classification"
        else ["mae", "rmse", "r2", "calibration_intercept", "calibration_slope"]
    )
    dev = report["comparison"]["development"]
    table = Table(
        title=f"sma-validate: {report['model']['uri']} on {report['site']['label']} "
        f"({report['cohort']['n_index_events']} index events)",
        header_style="bold",
    )
    table.add_column("metric")
    table.add_column("this site (95 % CI)", justify="right")
    table.add_column(f"development ({dev.get('validation', '?')})", justify="right")
    ie = dev.get("internal_external") or {}
    if ie:
        table.add_column("each region held out", justify="right")
    ext = report["metrics"]
    for key in keys:
        cells = [key, format_ci(ext, key), format_ci(dev.get("metrics", {}), key)]
        if ie:
            value, bounds = ie["metrics"].get(key), ie.get("range", {}).get(key)
            cells.append(
                "-" if value is None
                else f"{value:.2f}" + (f" ({bounds[0]:.2f} to {bounds[1]:.2f})" if bounds else "")
            )  # fmt: skip
        table.add_row(*cells)
    recal = report.get("recalibration") or {}
    for name, block in recal.get("methods", {}).items():
        after = block.get("metrics_after", {})
        key = "brier" if task == "classification" else "rmse"
        table.add_row(f"{key} after {name}", format_ci(after, key), "", *([""] if ie else []))
    cov = report.get("intervals") or {}
    if cov.get("available"):
        table.add_row(
            f"{100 * cov['level']:.0f} % interval coverage",
            f"{cov['coverage']:.3f}" if cov.get("coverage") is not None else "suppressed",
            f"{cov['development_coverage']:.3f}"
            if cov.get("development_coverage") is not None
            else "-",
            *(["-"] if ie else []),
        )
    console.print(table)
    if report["comparison"].get("transport"):
        console.print(escape(report["comparison"]["transport"]), highlight=False)
    citl = report.get("calibration_in_the_large")
    if citl:
        colour = "yellow" if citl["verdict"] in ("too_high", "too_low") else "default"
        console.print(f"[{colour}]{escape(citl['sentence'])}[/]", highlight=False)
    console.print(
        f"Suppressed cells (< {report['disclosure']['min_cell']}): "
        f"{report['disclosure']['n_suppressed']}",
        highlight=False,
    )
    console.print(f"Report: {result.html_path}\n        {result.json_path}", highlight=False)
    console.print(f"MLflow run {result.run_id} ({result.tracking_uri})", highlight=False)
