"""The external-validation report: figures from aggregates, and the self-contained HTML page.

Everything here reads the aggregate report that ``sma-validate`` builds (a JSON-able dict): the
figures are drawn from coarsened curves, merged calibration bins and suppressed subgroup tables,
never from patient rows. Figures are inline PNG (``data:`` URLs); the page makes no request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup
from matplotlib.figure import Figure

from sma_response.report.figures import inline_png
from sma_response.report.render import template_environment

__all__ = ["render_validation_html", "validation_figures"]

_SIZE = (4.6, 3.8)
_METRIC_LABELS = {
    "auroc": "AUROC (discrimination)",
    "auprc": "AUPRC",
    "brier": "Brier score",
    "calibration_intercept": "Calibration in the large (intercept)",
    "calibration_slope": "Calibration slope",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "r2": "R²",
}


def _roc(report: Mapping[str, Any]) -> Figure | None:
    pts = report["discrimination"].get("roc_points") or []
    if not pts:
        return None
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1, label="chance")
    ax.plot(
        [p["fpr"] for p in pts],
        [p["tpr"] for p in pts],
        marker="o",
        markersize=3,
        color="C0",
        label=f"model (AUROC {report['metrics'].get('auroc', float('nan')):.3f})",
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="1 - specificity",
        ylabel="sensitivity",
        title="ROC curve (coarsened)",
    )
    ax.set_aspect("equal")
    ax.legend(loc="lower right", frameon=False)
    return fig


def _calibration(report: Mapping[str, Any]) -> Figure | None:
    cal = report["calibration"]
    bins = cal.get("bins") or []
    if not bins:
        return None
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    xs = [b["mean_predicted"] for b in bins] + [b["observed"] for b in bins]
    lo, hi = min(xs), max(xs)
    pad = 0.05 * (hi - lo or 1)
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        linestyle=":",
        color="grey",
        linewidth=1,
        label="ideal",
    )
    ax.plot(
        [b["mean_predicted"] for b in bins],
        [b["observed"] for b in bins],
        marker="o",
        color="C0",
        label="as shipped",
    )
    for i, (name, block) in enumerate(
        (report.get("recalibration") or {}).get("methods", {}).items()
    ):
        after = block.get("bins") or []
        if after:
            ax.plot(
                [b["mean_predicted"] for b in after],
                [b["observed"] for b in after],
                marker="s",
                markersize=3,
                linestyle="--",
                color=f"C{i + 1}",
                label=f"after {name.replace('_', ' ')}",
            )
    ax.set(xlabel="mean predicted", ylabel="observed", title="Calibration (bins of predictions)")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    return fig


def _decision(report: Mapping[str, Any]) -> Figure | None:
    rows = report.get("decision_curve") or []
    if not rows:
        return None
    fig = Figure(figsize=_SIZE, layout="constrained")
    ax = fig.add_subplot()
    t = [r["threshold"] for r in rows]
    ax.plot(t, [r["treat_all"] for r in rows], color="grey", linewidth=1, label="treat all")
    ax.plot(t, [0.0] * len(t), color="black", linewidth=1, label="treat none")
    shown = [(r["threshold"], r["net_benefit"]) for r in rows if r["net_benefit"] is not None]
    if shown:
        ax.plot(*zip(*shown, strict=True), marker="o", markersize=3, color="C0", label="model")
    nbs = [v for _, v in shown] + [0.0]
    ax.set(
        ylim=(min(nbs) - 0.05, max(nbs) + 0.05),
        xlabel="threshold probability",
        ylabel="net benefit",
        title="Decision curve",
    )
    ax.legend(frameon=False, fontsize=8)
    return fig


def _forest(report: Mapping[str, Any]) -> Figure | None:
    metric = "auroc" if report["model"]["task"] == "classification" else "rmse"
    rows = [
        r
        for r in report.get("subgroups", [])
        if not r.get("suppressed") and r.get(metric) is not None
    ]
    if len(rows) < 2:
        return None
    fig = Figure(figsize=(5.6, 0.32 * len(rows) + 1.0), layout="constrained")
    ax = fig.add_subplot()
    labels, ys = [], []
    for i, r in enumerate(reversed(rows)):
        low, high = r.get(f"{metric}_ci_low"), r.get(f"{metric}_ci_high")
        if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
            ax.plot([low, high], [i, i], color="C0", linewidth=1.2)
        ax.plot([r[metric]], [i], marker="s", color="C0")
        labels.append(f"{r['variable']}: {r['level']}" if r["variable"] != "overall" else "overall")
        ys.append(i)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set(xlabel=metric.upper(), title=f"{metric.upper()} by subgroup (suppressed cells omitted)")
    return fig


def _coverage(report: Mapping[str, Any]) -> Figure | None:
    iv = report.get("intervals") or {}
    rows = [
        r for r in iv.get("table", []) if not r.get("suppressed") and r.get("coverage") is not None
    ]
    if not rows:
        return None
    fig = Figure(figsize=(5.6, 0.32 * len(rows) + 1.0), layout="constrained")
    ax = fig.add_subplot()
    labels = [
        f"{r['variable']}: {r['level']}" if r["variable"] != "overall" else "overall" for r in rows
    ][::-1]
    ax.barh(range(len(rows)), [r["coverage"] for r in rows][::-1], color="C0")
    ax.axvline(
        iv["level"], color="black", linestyle=":", label=f"nominal {100 * iv['level']:.0f} %"
    )
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.set(
        xlim=(0, 1),
        xlabel="share of observed changes inside the interval",
        title="Interval coverage",
    )
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


def validation_figures(report: Mapping[str, Any]) -> dict[str, Markup]:
    """Inline PNG figures of a validation report (only those its content allows).

    Returns
    -------
    dict
        ``roc, calibration, decision, forest, coverage`` -> ``<img>`` markup (absent keys:
        nothing to draw, e.g. too few events).
    """
    out = {}
    for name, make in (
        ("roc", _roc),
        ("calibration", _calibration),
        ("decision", _decision),
        ("forest", _forest),
        ("coverage", _coverage),
    ):
        fig = make(report)
        if fig is not None:
            out[name] = inline_png(fig)
    return out


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int) or (
        isinstance(value, float) and value.is_integer() and abs(value) > 1.5
    ):
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def _with_ci(metrics: Mapping[str, Any], key: str) -> str:
    value = metrics.get(key)
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    if value is None:
        return "-"
    if (
        low is None
        or high is None
        or any(isinstance(v, float) and math.isnan(v) for v in (low, high))
    ):
        return _num(value)
    return f"{_num(value)} ({_num(low)} to {_num(high)})"


def render_validation_html(report: Mapping[str, Any]) -> str:
    """Render the self-contained HTML page of a validation report.

    Parameters
    ----------
    report
        The aggregate report (what ``validation_report.json`` holds).

    Returns
    -------
    str
        HTML with inline CSS and PNG figures; no script, no external request.
    """
    template = template_environment().get_template("validation.html.j2")
    return template.render(
        r=report,
        figures=validation_figures(report),
        labels=_METRIC_LABELS,
        num=_num,
        with_ci=_with_ci,
    )
