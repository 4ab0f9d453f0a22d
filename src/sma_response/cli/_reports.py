"""Terminal output of ``sma-reproduce`` and ``sma-validate`` (rich tables)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["reproduction_table", "validation_summary"]

_STYLE = {
    "same": "[green]same[/]",
    "differs": "[bold red]DIFFERS[/]",
    "skipped": "[yellow]not checked[/]",
}


def _console(console: Console | None) -> Console:
    return console or Console(width=None if Console().is_terminal else 120)


def reproduction_table(report: Any, *, console: Console | None = None) -> None:
    """Print every check of a :class:`~sma_response.pipelines.reproduce.ReproductionReport`."""
    console = _console(console)
    table = Table(
        title=f"sma-reproduce: run {report.run_id}", header_style="bold", show_lines=False
    )
    for col in ("check", "logged", "now", "result", "details"):
        table.add_column(col, overflow="fold")
    for check in report.checks:
        table.add_row(
            check.name,
            check.logged,
            check.current,
            _STYLE.get(check.status, check.status),
            "\n".join(check.details),
        )
    console.print(table)
    for note in report.notes:
        console.print(f"  note: {note}", highlight=False)
    colour = "green" if report.status in ("identical", "consistent") else "red"
    console.print(f"[bold {colour}]{report.summary()}[/]", highlight=False)


def _fmt(metrics: dict[str, Any], key: str) -> str:
    value = metrics.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    if (
        low is None
        or high is None
        or any(isinstance(v, float) and math.isnan(v) for v in (low, high))
    ):
        return f"{value:.3f}"
    return f"{value:.3f} ({low:.3f}-{high:.3f})"


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
    ext = report["metrics"]
    for key in keys:
        table.add_row(key, _fmt(ext, key), _fmt(dev.get("metrics", {}), key))
    recal = report.get("recalibration") or {}
    for name, block in recal.get("methods", {}).items():
        after = block.get("metrics_after", {})
        key = "brier" if task == "classification" else "rmse"
        table.add_row(f"{key} after {name}", _fmt(after, key), "")
    cov = report.get("intervals") or {}
    if cov.get("available"):
        table.add_row(
            f"{100 * cov['level']:.0f} % interval coverage",
            f"{cov['coverage']:.3f}" if cov.get("coverage") is not None else "suppressed",
            f"{cov['development_coverage']:.3f}"
            if cov.get("development_coverage") is not None
            else "-",
        )
    console.print(table)
    console.print(
        f"Suppressed cells (< {report['disclosure']['min_cell']}): "
        f"{report['disclosure']['n_suppressed']}",
        highlight=False,
    )
    console.print(f"Report: {result.html_path}\n        {result.json_path}", highlight=False)
    console.print(f"MLflow run {result.run_id} ({result.tracking_uri})", highlight=False)
