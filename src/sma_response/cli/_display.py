"""Terminal output shared by the command-line entry points (rich tables)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from sma_response.evaluate.dropout import EstimandBias
    from sma_response.evaluate.samplesize import SampleSize
    from sma_response.tracking.outputs import TrainResult

#: Endpoint kinds whose value is a share (shown as a percentage).
SHARE_KINDS = frozenset(
    {
        "responder",
        "decliner",
        "stable",
        "reaches",
        "milestone",
        "has_milestone",
        "event_free",
        "hine2_responder",
    }
)


def _fmt(value: float | None, *, share: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.1f}%" if share else f"{value:.2f}"


def calibration_console_table(table: pd.DataFrame, *, console: Console | None = None) -> int:
    """Print emulated vs published values; return how many fall outside their band."""
    console = console or Console(width=None if Console().is_terminal else 110)
    out = Table(title="Trial emulation vs published figures", header_style="bold")
    for col in ("trial", "arm", "endpoint", "emulated", "published", "95% interval", "z", "n", ""):
        right = col in ("emulated", "published", "z", "n")
        out.add_column(col, justify="right" if right else "left")
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
            "-" if pd.isna(r.z) else f"{r.z:+.1f}",
            str(r.n),
            ok,
        )
    console.print(out)
    n_checked = int(table["within"].notna().sum())
    console.print(f"{n_checked - n_out} of {n_checked} published figures inside their interval.")
    return n_out


def format_ci(metrics: dict, key: str, *, digits: int = 3, signed: bool = False) -> str:
    """Write ``metrics[key]`` as ``value (low to high)`` from its ``_ci_low``/``_ci_high`` keys.

    ``-`` when the value is missing; the value alone when its interval is.
    """
    value = metrics.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    fmt = f"+.{digits}f" if signed else f".{digits}f"
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    if (
        low is None
        or high is None
        or any(isinstance(v, float) and math.isnan(v) for v in (low, high))
    ):
        return f"{value:{fmt}}"
    return f"{value:{fmt}} ({low:{fmt}} to {high:{fmt}})"


def held_out_line(r: TrainResult) -> str:
    """Each region's AUROC (RMSE) when it was held out, in one line."""
    key = "auroc" if r.task == "classification" else "rmse"
    table = r.held_out_regions if r.held_out_regions is not None else pd.DataFrame()
    parts = [f"{row['region']} {format_ci(row, key)}" for row in table.to_dict("records")]
    if r.held_out_pooled is None:  # the run's own validation: cv/ is the pooled figure
        return f"each region held out in turn, {key.upper()}: " + "; ".join(parts)
    return (
        f"each region held out in turn (internal-external, beside the cross-validation), "
        f"{key.upper()} pooled {r.held_out_pooled:.3f}: " + "; ".join(parts)
    )


def train_summary(result: TrainResult, *, console: Console | None = None) -> None:
    """Print the end-of-run summary of ``sma-train``."""
    console = console or Console(width=None if Console().is_terminal else 110)
    r = result
    head = Table(
        title=f"sma-train: {r.model_name} on {r.task}", show_header=False, header_style="bold"
    )
    head.add_column("item", style="bold")
    head.add_column("value")
    head.add_row(
        "cohort",
        f"{r.n_index_events} index events, {r.n_patients} patients"
        + (f", {r.n_events} responders" if r.task == "classification" else ""),
    )
    head.add_row("data digest", r.data_digest[:16])
    head.add_row("MLflow run", f"{r.run_id}  (experiment {r.experiment_name!r})")
    head.add_row(
        "model",
        r.registered_model
        or (f"{r.model_uri} (not registered: tracking.register=true)" if r.model_uri else "")
        or "not logged",
    )
    head.add_row("artifacts", r.artifact_uri)
    share = r.fit_seconds / r.wall_seconds if r.wall_seconds else float("nan")
    t = r.timings
    explain = t.get("explain", 0.0) - t.get("fit_change_model", 0.0)  # its fit counts as fitting
    head.add_row(
        "time",
        f"{r.wall_seconds:.1f} s in the pipeline: model fitting {r.fit_seconds:.1f} s "
        f"({100 * share:.0f} %), explanations and example reports {explain:.1f} s, "
        f"evaluation {t.get('evaluate', 0):.1f} s, MLflow logging {t.get('logging', 0):.1f} s",
    )
    console.print(head)
    keys = (
        ["auroc", "auprc", "brier", "calibration_intercept", "calibration_slope"]
        if r.task == "classification"
        else ["mae", "rmse", "r2", "calibration_slope"]
    )
    table = Table(title="Held-out performance (95 % bootstrap CI)", header_style="bold")
    baseline = f"baseline ({r.baseline_name})" if r.baseline_name else "baseline"
    for col in ("metric", r.model_name, baseline, "oracle (truth)"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for key in keys:
        table.add_row(
            key,
            format_ci(r.metrics, key),
            format_ci(r.baseline_metrics, key),
            format_ci(r.oracle, key),
        )
    console.print(table)
    if r.comparison:
        key = "auroc" if r.task == "classification" else "rmse"
        diff = format_ci(r.comparison, f"{key}_diff", signed=True)
        low = float(r.comparison.get(f"{key}_diff_ci_low", math.nan))
        high = float(r.comparison.get(f"{key}_diff_ci_high", math.nan))
        better = (low > 0) if key == "auroc" else (high < 0)
        worse = (high < 0) if key == "auroc" else (low > 0)
        verdict = (
            "no interval to judge by (evaluate.n_boot=0, or too few resamples defined it)"
            if math.isnan(low) or math.isnan(high)
            else f"{r.model_name} is better"
            if better
            else f"{r.model_name} is worse"
            if worse
            else "no clear difference (the interval includes 0)"
        )
        console.print(
            f"{r.model_name} minus {r.baseline_name}, {key.upper()} on the same rows "
            f"(paired bootstrap): {diff}: {verdict}",
            highlight=False,
        )
    if r.oracle:
        ratio = r.oracle.get("auroc_ratio" if r.task == "classification" else "rmse_ratio")
        if ratio is not None and not math.isnan(ratio):
            name = "AUROC" if r.task == "classification" else "RMSE"
            console.print(f"model / oracle ({name}) on the same rows: {ratio:.2f}")
    if r.held_out_regions is not None and len(r.held_out_regions):
        console.print(held_out_line(r), highlight=False)
    if r.sample_size is not None:
        console.print(sample_size_line(r.sample_size), highlight=False)
    if r.estimand_text:
        console.print(f"estimand: {r.estimand_text}", highlight=False)
    if r.drop_out is not None:
        console.print(drop_out_line(r.drop_out), highlight=False)
    if r.weighted:
        console.print(weighted_line(r.weighted, task=r.task), highlight=False)
    if r.confirmation:
        console.print(confirmation_line(r.confirmation, r.metrics, task=r.task), highlight=False)
    if r.effects is not None:
        for line in effects_lines(r.effects.metrics, r.effects.population):
            console.print(line, highlight=False)
    for key, why in sorted(r.not_estimable.items()):
        if not key.endswith(("_ci_low", "_ci_high")):  # the point estimates; intervals follow
            console.print(f"not estimable: {key}: {why}", highlight=False)
    uri = r.tracking_uri
    if uri.startswith("sqlite:///"):
        console.print(f"Open the MLflow UI:  .venv/bin/mlflow ui --backend-store-uri {uri}")
    else:
        console.print(f"Runs are on the tracking server {uri}")


def sample_size_line(size: SampleSize | str) -> str:
    """Say whether the cohort meets Riley's minimum sample size criteria (one line).

    Examples
    --------
    >>> from sma_response.evaluate.samplesize import binary_sample_size
    >>> line = sample_size_line(binary_sample_size(0.288, 24, 0.174, n_available=500))
    >>> line.split("; ")[0]
    'minimum sample size: 500 index events for 24 parameters at held-out R2 0.288'
    >>> line.split("; ")[1]
    'not met: Nagelkerke R2 optimism <= 0.05 needs 668, shrinkage >= 0.9 needs 623'
    >>> line.split("; ")[2]
    'expected shrinkage 0.88'
    """
    if isinstance(size, str):
        return f"minimum sample size: not estimable: {size}"
    head = (
        f"minimum sample size: {size.n_available} index events for {size.parameters} "
        f"parameters at held-out R2 {size.r2:.3f}"
    )
    rows = size.table().sort_values("n_required", ascending=False, kind="stable")
    unmet = [f"{r.criterion} needs {r.n_required}" for r in rows.itertuples() if not r.met]
    verdict = f"not met: {', '.join(unmet)}" if unmet else "all three criteria met"
    shrink = size.shrinkage_available
    tail = (
        "no shrinkage estimate (far too few)"
        if math.isnan(shrink)
        else f"expected shrinkage {shrink:.2f}"
    )
    return f"{head}; {verdict}; {tail}"


def drop_out_line(bias: EstimandBias) -> str:
    """Say how drop-out moves the cohort's mean target, and the truth where known (one line).

    Examples
    --------
    >>> from sma_response.evaluate.dropout import EstimandBias
    >>> b = EstimandBias(n_eligible=100, n_labelled=70, complete_case=0.48, corrected=0.49,
    ...                  truth=0.5, n_truth=100, max_weight=3.0, effective_n=60.0)
    >>> drop_out_line(b)  # doctest: +NORMALIZE_WHITESPACE
    'drop-out: 70 of 100 eligible index events have an outcome; mean target complete case
    0.480, IPCW 0.490 (largest weight 3.0); truth of all eligible 0.500: bias -0.020
    complete case, -0.010 weighted'
    """
    head = (
        f"drop-out: {bias.n_labelled} of {bias.n_eligible} eligible index events have an "
        f"outcome; mean target complete case {bias.complete_case:.3f}, IPCW "
        f"{bias.corrected:.3f} (largest weight {bias.max_weight:.1f})"
    )
    if math.isnan(bias.truth):
        return head + "; no truth to judge the bias by"
    return (
        f"{head}; truth of all eligible {bias.truth:.3f}: bias "
        f"{bias.complete_case - bias.truth:+.3f} complete case, "
        f"{bias.corrected - bias.truth:+.3f} weighted"
    )


def weighted_line(m: dict[str, float], *, task: str) -> str:
    """Say the held-out performance weighted to every eligible event, and the truth's (one line).

    Examples
    --------
    >>> m = {"ipcw/auroc": 0.876, "ipcw/auroc_ci_low": 0.843, "ipcw/auroc_ci_high": 0.904,
    ...      "ipcw/calibration_intercept": -0.07, "ipcw/calibration_slope": 0.89,
    ...      "ipcw/n_effective": 639.0, "ipcw/n": 817.0, "ipcw/truth_eligible_auroc": 0.855,
    ...      "ipcw/truth_complete_case_auroc": 0.859, "ipcw/truth_weighted_auroc": 0.854,
    ...      "ipcw/weighted_fits": 1.0}
    >>> weighted_line(m, task="classification")  # doctest: +NORMALIZE_WHITESPACE
    'weighted to all eligible (IPCW, fits and metrics): AUROC 0.876 (0.843 to 0.904),
    calibration intercept -0.070, slope 0.890; effective n 639 of 817; against the truth of all
    eligible: AUROC 0.855 (estimated 0.859 complete case, 0.854 weighted)'
    """
    key, label = ("auroc", "AUROC") if task == "classification" else ("rmse", "RMSE")
    fits = "fits and metrics" if m.get("ipcw/weighted_fits") else "metrics only"
    line = (
        f"weighted to all eligible (IPCW, {fits}): {label} {m[f'ipcw/{key}']:.3f} "
        f"({m.get(f'ipcw/{key}_ci_low', math.nan):.3f} to "
        f"{m.get(f'ipcw/{key}_ci_high', math.nan):.3f}), calibration intercept "
        f"{m['ipcw/calibration_intercept']:+.3f}, slope {m['ipcw/calibration_slope']:.3f}; "
        f"effective n {m['ipcw/n_effective']:.0f} of {m['ipcw/n']:.0f}"
    )
    if "ipcw/truth_eligible_auroc" not in m:
        return line
    return (
        f"{line}; against the truth of all eligible: AUROC {m['ipcw/truth_eligible_auroc']:.3f} "
        f"(estimated {m['ipcw/truth_complete_case_auroc']:.3f} complete case, "
        f"{m['ipcw/truth_weighted_auroc']:.3f} weighted)"
    )


def confirmation_line(m: dict[str, float], cv: dict[str, float], *, task: str) -> str:
    """Say how the final model does on the reserved confirmation set, beside the folds (one line).

    Examples
    --------
    >>> m = {"confirm/auroc": 0.861, "confirm/auroc_ci_low": 0.80, "confirm/auroc_ci_high": 0.91,
    ...      "confirm/calibration_intercept": 0.05, "confirm/calibration_slope": 0.88,
    ...      "confirm/n": 163.0, "confirm/n_persons": 163.0}
    >>> confirmation_line(m, {"auroc": 0.882}, task="classification")
    ... # doctest: +NORMALIZE_WHITESPACE
    'confirmation set (163 index events of 163 persons reserved before any fit, fold or search):
    AUROC 0.861 (0.800 to 0.910), calibration intercept +0.050, slope 0.880; in the folds 0.882'
    """
    key, label = ("auroc", "AUROC") if task == "classification" else ("rmse", "RMSE")
    return (
        f"confirmation set ({m['confirm/n']:.0f} index events of {m['confirm/n_persons']:.0f} "
        f"persons reserved before any fit, fold or search): {label} {m[f'confirm/{key}']:.3f} "
        f"({m.get(f'confirm/{key}_ci_low', math.nan):.3f} to "
        f"{m.get(f'confirm/{key}_ci_high', math.nan):.3f}), calibration intercept "
        f"{m['confirm/calibration_intercept']:+.3f}, slope {m['confirm/calibration_slope']:.3f}; "
        f"in the folds {cv.get(key, math.nan):.3f}"
    )


def effects_lines(metrics: dict[str, float], population: pd.DataFrame) -> list[str]:
    """Summarise the per-therapy contrasts: average, E-value and the truth's score (lines).

    Examples
    --------
    >>> pop = pd.DataFrame({"outcome": ["change"], "contrast": ["a_vs_b"], "ate": [2.0],
    ...                     "ate_lower": [1.0], "ate_upper": [3.0], "e_value": [1.8]})
    >>> m = {"effects/share_in_support": 0.5, "effects/estimates_outside_support": 0.0,
    ...      "effects/change/a_vs_b/pehe": 4.0, "effects/change/a_vs_b/pehe_constant": 5.0,
    ...      "effects/change/a_vs_b/pehe_zero": 6.0, "effects/change/a_vs_b/coverage": 0.7,
    ...      "effects/change/a_vs_b/sign_agreement": 0.9}
    >>> for line in effects_lines(m, pop): print(line)  # doctest: +NORMALIZE_WHITESPACE
    therapy effects: 50% of patient-contrasts in common support and the label; 0 estimates
    outside support
      change a_vs_b: average +2.000 (95% +1.000 to +3.000), E-value 1.80; against the truth: PEHE
    4.000 (true average for all 5.000, zero 6.000), sign right 90%, interval coverage 70%
    """
    share = metrics.get("effects/share_in_support", float("nan"))
    outside = int(metrics.get("effects/estimates_outside_support", 0))
    lines = [
        f"therapy effects: {share:.0%} of patient-contrasts in common support and the label; "
        f"{outside} estimates outside support"
    ]
    for row in population.itertuples(index=False):
        base = f"effects/{row.outcome}/{row.contrast}"
        if math.isnan(float(row.ate)):
            lines.append(
                f"  {row.outcome} {row.contrast}: not estimable (too few starts in support)"
            )
            continue
        line = (
            f"  {row.outcome} {row.contrast}: average {row.ate:+.3f} "
            f"(95% {row.ate_lower:+.3f} to {row.ate_upper:+.3f}), E-value {row.e_value:.2f}"
        )
        if f"{base}/pehe" in metrics:
            floor = metrics.get(f"{base}/pehe_truth_fit")
            floor_text = (
                "" if floor is None or math.isnan(floor) else f", features' floor {floor:.3f}"
            )
            cov = metrics.get(f"{base}/coverage", float("nan"))
            line += (
                f"; against the truth: PEHE {metrics[f'{base}/pehe']:.3f} (true average for all "
                f"{metrics[f'{base}/pehe_constant']:.3f}, zero {metrics[f'{base}/pehe_zero']:.3f}"
                f"{floor_text}), sign right {metrics[f'{base}/sign_agreement']:.0%}, "
                + ("no intervals" if math.isnan(cov) else f"interval coverage {cov:.0%}")
            )
        lines.append(line)
    if "effects/policy_regret" in metrics:
        lines.append(
            f"  recommending the best estimated option: regret "
            f"{metrics['effects/policy_regret']:.3f} in the response probability (always the "
            f"best-average therapy: {metrics['effects/policy_regret_best_average']:.3f}); truly "
            f"best chosen for {metrics['effects/policy_best_match']:.0%}"
        )
    return lines
