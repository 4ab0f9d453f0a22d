"""The aggregate report of an external validation: every number a site may share, no row.

Built from the site's own predictions and labels (which never leave this module as rows):
performance with bootstrap intervals, recalibration, subgroup performance, the coverage of the
model's prediction intervals, exclusions, and the development figures to compare with. Every
small cell is suppressed (:mod:`sma_response.evaluate.disclosure`). ``sma-validate`` writes the
result as ``validation_report.json`` and renders it (:mod:`sma_response.report.validation`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sma_response._utils.io import atomic_write_text
from sma_response._utils.jsonable import to_jsonable
from sma_response.evaluate.conformal import ConformalQuantiles, coverage_table
from sma_response.evaluate.disclosure import (
    calibration_bins,
    decision_curve,
    roc_points,
    suppress_small_cells,
)
from sma_response.evaluate.metrics import calibration_in_the_large, compute_metrics
from sma_response.evaluate.recalibration import RECALIBRATION_METHODS, fit_recalibration
from sma_response.evaluate.subgroups import subgroup_metrics
from sma_response.evaluate.uncertainty import patient_clusters
from sma_response.features.design import Design, observed_change
from sma_response.report.inputs import outcome_frame, outcome_interval
from sma_response.report.validation import render_validation_html

__all__ = [
    "DECISION_THRESHOLDS",
    "DISCLOSURE_RULES",
    "METRIC_KEYS",
    "REPORT_HTML",
    "REPORT_JSON",
    "SCHEMA",
    "SUBGROUP_KEYS",
    "ExportLeakError",
    "ExternalPerformance",
    "development_summary",
    "exclusions",
    "export_texts",
    "external_performance",
    "find_identifiers",
    "headline_metrics",
    "internal_external_summary",
    "interval_check",
    "local_identifiers",
    "records",
    "site_report",
    "transport_sentence",
    "validation_report",
    "write_export",
]

SCHEMA = "sma-response/validation/1"
REPORT_JSON = "validation_report.json"
REPORT_HTML = "validation_report.html"
#: Thresholds of the decision curve (predicted probability of a meaningful response).
DECISION_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05))
METRIC_KEYS = {
    "classification": ("auroc", "auprc", "brier", "calibration_intercept", "calibration_slope"),
    "regression": ("mae", "rmse", "r2", "calibration_intercept", "calibration_slope"),
}
SUBGROUP_KEYS = {
    "classification": ("auroc", "calibration_slope"),
    "regression": ("rmse", "calibration_slope"),
}
DISCLOSURE_RULES = (
    "cells with fewer than min_cell index events, events or non-events are suppressed, "
    "with complementary suppression within each variable; curves are coarsened to steps of "
    "zero or at least min_cell events and non-events; no cut-off values or "
    "patient rows are exported"
)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of an aggregate table as strict-JSON records.

    Examples
    --------
    >>> records(pd.DataFrame({"n": [12], "x": [float("nan")]}))
    [{'n': 12, 'x': None}]
    """
    return to_jsonable(frame.to_dict("records"))


def find_identifiers(text: str, identifiers: Sequence[str]) -> list[str]:
    """Return the identifiers of the local data that occur in an exported text (none!).

    Examples
    --------
    >>> find_identifiers('{"n": 12, "level": "DE"}', ["a1b2c3d4e5f6a7b8", "DE"])
    ['DE']
    """
    return [i for i in identifiers if i and i in text]


def exclusions(attrition: pd.DataFrame, min_cell: int) -> list[dict[str, Any]]:
    """Count the index events excluded by each rule, small counts suppressed.

    No running totals: they would let a suppressed count be recovered by subtraction.
    """
    rows = []
    for r in attrition.iloc[1:].itertuples(index=False):
        if pd.isna(r.excluded):  # the step that defines the index events excludes nothing
            continue
        excluded: int | None = int(r.excluded)
        if excluded is not None and 0 < excluded < min_cell:
            excluded = None
        rows.append({"rule": str(r.rule), "description": str(r.description), "excluded": excluded})
    return rows


def development_summary(
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    task: str,
    subgroups: pd.DataFrame | None,
) -> dict[str, Any]:
    """Summarise the development run: cross-validated metrics and per-region rows."""
    cv = {k.removeprefix("cv/"): v for k, v in metrics.items() if k.startswith("cv/")}
    regions = []
    if subgroups is not None and not subgroups.empty:
        keep = subgroups.loc[subgroups["variable"].isin(["overall", "region"])]
        cols = [
            c
            for c in keep.columns
            if c in ("variable", "level", "n") or c.split("_ci_")[0] in METRIC_KEYS[task]
        ]
        regions = records(keep[cols])
    return {
        "validation": tags.get("validation", "unknown"),
        "dataset": tags.get("dataset", "unknown"),
        "metrics": to_jsonable(cv),
        "regions": regions,
        "internal_external": internal_external_summary(metrics, tags),
    }


def internal_external_summary(
    metrics: Mapping[str, float], tags: Mapping[str, str]
) -> dict[str, Any] | None:
    """Read the development run's leave-one-region-out estimate: pooled, and its range.

    From ``loro/*`` (``evaluate.internal_external``), or from ``cv/*`` when the run's own
    validation was leave-one-region-out (then no range is logged). ``None``: the run has none.

    Examples
    --------
    >>> out = internal_external_summary({"loro/auroc": 0.86, "loro/auroc_min": 0.84,
    ...     "loro/auroc_max": 0.89, "loro/n_regions": 3.0}, {})
    >>> out["metrics"]["auroc"], out["range"]["auroc"], out["n_regions"]
    (0.86, [0.84, 0.89], 3)
    """
    prefix = "loro/"
    if not any(k.startswith(prefix) for k in metrics):
        if tags.get("validation") != "loro":
            return None
        prefix = "cv/"
    values = {k.removeprefix(prefix): v for k, v in metrics.items() if k.startswith(prefix)}
    keys = [k for k in values if not k.endswith(("_min", "_max", "_ci_low", "_ci_high"))]
    keys = [k for k in keys if k != "n_regions"]
    n_regions = values.get("n_regions")
    return {
        "metrics": {k: values[k] for k in keys},
        "range": {
            k: [values[f"{k}_min"], values[f"{k}_max"]]
            for k in keys
            if f"{k}_min" in values and f"{k}_max" in values
        },
        "n_regions": None if n_regions is None else int(n_regions),
    }


def transport_sentence(
    site_metrics: Mapping[str, Any], development: Mapping[str, Any], *, key: str
) -> str | None:
    """Say whether the site's figure lies inside the range of the held-out development regions.

    Examples
    --------
    >>> dev = {"internal_external": {"metrics": {"auroc": 0.86}, "range": {"auroc": [0.84, 0.89]},
    ...                              "n_regions": 3}}
    >>> transport_sentence({"auroc": 0.80}, dev, key="auroc")[:70]
    "This site's AUROC 0.80 lies below the range of the 3 development regio"
    """
    ie = development.get("internal_external") or {}
    value, bounds = site_metrics.get(key), (ie.get("range") or {}).get(key)
    if value is None or not bounds or (isinstance(value, float) and math.isnan(value)):
        return None
    low, high = bounds
    where = "below" if value < low else "above" if value > high else "within"
    label = {"auroc": "AUROC", "rmse": "RMSE"}.get(key, key)
    return (
        f"This site's {label} {value:.2f} lies {where} the range of the "
        f"{ie.get('n_regions')} development regions when each was held out in turn "
        f"({low:.2f} to {high:.2f}; pooled {ie['metrics'].get(key, float('nan')):.2f}): "
        + (
            "the model travels here about as well as it did between the development regions."
            if where == "within"
            else "this site differs from the development regions more than they differed "
            "from each other."
        )
    )


def interval_check(
    *,
    basis: Mapping[str, Any] | None,
    features: pd.DataFrame,
    targets: pd.DataFrame,
    groups: pd.DataFrame,
    change_pred: np.ndarray | None,
    min_cell: int,
) -> dict[str, Any]:
    """Coverage of the model's prediction intervals on the site's data (cells suppressed)."""
    if not basis or not basis.get("interval"):
        return {
            "available": False,
            "reason": "the model run logged no interval quantiles (report/basis.json; "
            "trained with explain.enabled=false?)",
        }
    if change_pred is None:
        return {
            "available": False,
            "reason": "the model run logged no model of the change (change_model) to "
            "centre the intervals on",
        }
    quantiles = ConformalQuantiles.from_dict(basis["interval"])
    outcome = outcome_frame(
        features, target_kind=basis["target_kind"], target_scale=basis.get("target_scale")
    )
    observed = observed_change(targets, features.index).to_numpy(dtype=float)
    iv = outcome_interval(change_pred, outcome, quantiles=quantiles)
    ok = np.isfinite(observed)
    lower, upper = iv["lower"].to_numpy()[ok], iv["upper"].to_numpy()[ok]
    intervals = pd.DataFrame(
        {
            "index_id": features.index.astype(str)[ok],
            "lower": lower,
            "upper": upper,
            "covered": (observed[ok] >= lower - 1e-9) & (observed[ok] <= upper + 1e-9),
        }
    )
    cov_groups = (
        groups[[c for c in ("region", "sma_type", "therapy", "age_band") if c in groups]]
        .astype(object)
        .join(outcome[["scale"]].astype(object).fillna("unknown"))
    )
    table = coverage_table(intervals, cov_groups)
    table["n_covered"] = np.round(table["coverage"] * table["n"]).astype(int)
    safe = suppress_small_cells(table, min_cell=min_cell, events_col="n_covered")
    overall = safe.iloc[0]
    dev: dict[str, Any] = next(
        (r for r in basis.get("coverage", []) if r.get("variable") == "overall"), {}
    )
    return {
        "available": True,
        "level": float(quantiles.level),
        "coverage": None if overall["suppressed"] else float(overall["coverage"]),
        "mean_width": None if overall["suppressed"] else float(overall["mean_width"]),
        "development_coverage": dev.get("coverage"),
        "table": records(safe.drop(columns=["n_covered"])),
    }


@dataclass
class ExternalPerformance:
    """Performance sections of the report (JSON-able) and the count of suppressed cells."""

    metrics: dict[str, Any]
    subgroups: pd.DataFrame
    sections: dict[str, Any]


def _recalibration(
    y: np.ndarray, p: np.ndarray, *, task: str, seed: int, min_cell: int
) -> dict[str, Any]:
    binary = task == "classification"
    methods = {}
    for method in RECALIBRATION_METHODS[task]:
        fitted = fit_recalibration(y, p, task=task, method=method)
        after = fitted.apply(p)
        m_after = compute_metrics(y, after, task=task, rng=np.random.default_rng(seed), n_boot=0)
        methods[method] = {
            "intercept": fitted.intercept,
            "slope": fitted.slope,
            "metrics_after": {k: m_after[k] for k in METRIC_KEYS[task]},
            "bins": records(calibration_bins(y, after, min_cell=min_cell, binary=binary)),
        }
    return {
        "apparent": True,
        "metric_keys": list(METRIC_KEYS[task][2:] if binary else METRIC_KEYS[task]),
        "methods": methods,
    }


def external_performance(
    y: np.ndarray,
    p: np.ndarray,
    index_ids: pd.Index,
    groups: pd.DataFrame,
    *,
    task: str,
    seed: int,
    n_boot: int,
    min_cell: int,
    recalibrate: bool,
) -> ExternalPerformance:
    """Metrics, subgroups, ROC, calibration, decision curve and recalibration, suppressed."""
    binary = task == "classification"
    rng = np.random.default_rng(seed)
    clusters = patient_clusters(index_ids.astype(str))
    metrics = compute_metrics(y, p, task=task, rng=rng, n_boot=n_boot, clusters=clusters)
    preds = pd.DataFrame({"index_id": index_ids.astype(str), "y_true": y, "y_pred": p})
    sub = subgroup_metrics(
        preds, groups, task=task, rng=rng, min_n=min_cell, n_boot=n_boot, overall=metrics
    )
    keep = ["variable", "level", "n", *(["n_events"] if binary else [])]
    keep += [c for c in sub.columns if c.split("_ci_")[0] in SUBGROUP_KEYS[task] and c not in keep]
    subgroups = suppress_small_cells(
        sub[keep], min_cell=min_cell, events_col="n_events" if binary else None
    )
    recal = _recalibration(y, p, task=task, seed=seed, min_cell=min_cell) if recalibrate else None
    whole_suppressed = bool(subgroups.loc[subgroups["variable"] == "overall", "suppressed"].any())
    citl = None if whole_suppressed else calibration_in_the_large(y, p, metrics, task=task)
    sections = {
        "metrics": to_jsonable(metrics),
        "calibration_in_the_large": to_jsonable(citl),
        "discrimination": {
            "roc_points": records(roc_points(y, p, min_cell=min_cell)) if binary else []
        },
        "calibration": {"bins": records(calibration_bins(y, p, min_cell=min_cell, binary=binary))},
        "decision_curve": records(
            decision_curve(y, p, thresholds=DECISION_THRESHOLDS, min_cell=min_cell)
        )
        if binary
        else [],
        "recalibration": to_jsonable(recal),
        "subgroups": records(subgroups),
        "subgroup_keys": list(SUBGROUP_KEYS[task]),
    }
    return ExternalPerformance(metrics=metrics, subgroups=subgroups, sections=sections)


def validation_report(
    *,
    created: str,
    site: Mapping[str, Any],
    model: Mapping[str, Any],
    development: Mapping[str, Any],
    cohort: pd.DataFrame,
    attrition: pd.DataFrame,
    y: np.ndarray,
    perf: ExternalPerformance,
    intervals: Mapping[str, Any],
    min_cell: int,
    package_version: str,
) -> dict[str, Any]:
    """Assemble the aggregate validation report (JSON-able; ``run_id`` is filled in later).

    ``site`` and ``model`` are the report's site and model sections; ``model`` must hold
    ``task``. ``development`` holds the model run's ``metrics``, ``tags`` and (suppressed)
    development ``subgroups`` table or ``None``.
    """
    task = str(model["task"])
    binary = task == "classification"
    dev = development_summary(
        development["metrics"], development["tags"], task, development.get("subgroups")
    )
    n_suppressed = int(perf.subgroups["suppressed"].sum()) + sum(
        1 for r in intervals.get("table", []) if r.get("suppressed")
    )
    return {
        "schema": SCHEMA,
        "created": created,
        "run_id": None,
        "site": dict(site),
        "model": dict(model),
        "software": {"package_version": package_version},
        "disclosure": {
            "min_cell": min_cell,
            "n_suppressed": n_suppressed,
            "rules": DISCLOSURE_RULES,
        },
        "cohort": {
            "n_index_events": len(cohort),
            "n_patients": int(cohort["linked_id"].nunique()),
            "n_events": int(y.sum()) if binary else None,
            "prevalence": float(y.mean()) if binary else None,
            "exclusions": exclusions(attrition, min_cell),
        },
        **perf.sections,
        "intervals": to_jsonable(dict(intervals)),
        "comparison": {
            "metric_keys": list(METRIC_KEYS[task]),
            "development": dev,
            "transport": transport_sentence(perf.metrics, dev, key="auroc" if binary else "rmse"),
        },
    }


def headline_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """Return the report's numbers to log as run metrics (``validation/...``; no missing ones)."""
    flat = {
        f"validation/{k}": v for k, v in report["metrics"].items() if isinstance(v, int | float)
    }
    for name, block in (report.get("recalibration") or {}).get("methods", {}).items():
        flat.update(
            {
                f"validation/{name}/{k}": v
                for k, v in block["metrics_after"].items()
                if isinstance(v, int | float)
            }
        )
        flat[f"validation/{name}/intercept"] = block["intercept"]
        flat[f"validation/{name}/slope"] = block["slope"]
    citl = report.get("calibration_in_the_large") or {}
    for key in ("oe_ratio", "oe_ci_low", "oe_ci_high", "difference"):
        if isinstance(citl.get(key), int | float):
            flat[f"validation/citl_{key}"] = citl[key]
    if report["intervals"].get("coverage") is not None:
        flat["validation/interval_coverage"] = report["intervals"]["coverage"]
    flat["validation/n_suppressed"] = report["disclosure"]["n_suppressed"]
    return {k: float(v) for k, v in flat.items() if v is not None}


def local_identifiers(cohort: pd.DataFrame, patients: pd.DataFrame) -> list[str]:
    """Return every local identifier of the cohort and patients (none may reach an export)."""
    ids = {str(v) for col in ("patient_id", "index_id", "linked_id") for v in cohort[col]}
    return sorted(ids | set(patients["patient_id"].astype(str)))


class ExportLeakError(RuntimeError):
    """A local identifier was found in a report about to be exported (a bug: nothing is written)."""


def export_texts(report: Mapping[str, Any], identifiers: Sequence[str]) -> tuple[str, str]:
    """Return the report as JSON and HTML text, after checking neither holds a local identifier.

    Raises
    ------
    ExportLeakError
        When any identifier is found (refuse to export rather than leak).
    """
    text_json = json.dumps(to_jsonable(dict(report)), indent=2, sort_keys=False) + "\n"
    html = render_validation_html(json.loads(text_json))
    leaked = find_identifiers(text_json + html, identifiers)
    if leaked:
        msg = f"refusing to export: {len(leaked)} local identifier(s) found in the report"
        raise ExportLeakError(msg)
    return text_json, html


def write_export(
    report: Mapping[str, Any], identifiers: Sequence[str], folder: Path
) -> tuple[Path, Path]:
    """Write :data:`REPORT_JSON` and :data:`REPORT_HTML` into ``folder``, checked for identifiers.

    Raises
    ------
    ExportLeakError
        When any local identifier is found; nothing is written then.
    """
    text_json, html = export_texts(report, identifiers)
    folder.mkdir(parents=True, exist_ok=True)
    return (
        atomic_write_text(folder / REPORT_JSON, text_json),
        atomic_write_text(folder / REPORT_HTML, html),
    )


def site_report(
    design: Design,
    groups: pd.DataFrame,
    p: np.ndarray,
    change_pred: np.ndarray | None,
    *,
    basis: Mapping[str, Any] | None,
    task: str,
    site: Mapping[str, Any],
    model: Mapping[str, Any],
    development: Mapping[str, Any],
    settings: Mapping[str, Any],
    created: str,
    package_version: str,
) -> dict[str, Any]:
    """Reduce a site's scored design to the aggregate validation report.

    ``p`` are the model's predictions of ``design.X``; ``change_pred`` the predicted change the
    intervals are centred on (``None``: coverage not checked); ``settings`` holds ``min_cell``,
    ``recalibrate``, ``n_boot`` and ``seed``.
    """
    y = pd.Series(design.y).to_numpy(dtype=float)
    min_cell = int(settings["min_cell"])
    perf = external_performance(
        y, p, design.X.index, groups, task=task, seed=int(settings["seed"]),
        n_boot=int(settings["n_boot"]), min_cell=min_cell,
        recalibrate=bool(settings["recalibrate"]),
    )  # fmt: skip
    intervals = interval_check(
        basis=basis, features=design.X, targets=pd.DataFrame(design.targets), groups=groups,
        change_pred=change_pred, min_cell=min_cell,
    )  # fmt: skip
    return validation_report(
        created=created, site=site, model=model, development=development, cohort=design.cohort,
        attrition=design.attrition, y=y, perf=perf, intervals=intervals, min_cell=min_cell,
        package_version=package_version,
    )  # fmt: skip
