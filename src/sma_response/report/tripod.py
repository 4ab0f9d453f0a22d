"""A TRIPOD+AI report of a training run: each of the 27 items, filled from the run where it can be.

TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) lists what a report of a prediction model
study must say. Much of it is known to the run that developed the model: the data and
participants (registries, regions, eligibility rules with counts), the outcome and predictors
(from the config), sample size (Riley's criteria), missing data per predictor and region,
partitioning and leakage checks, the model and its tuning, performance with intervals, subgroup
results, heterogeneity across regions, a participant flow diagram from the attrition table and
Table 1 by region. The report cites by journal reference rather than author name (the
identifier scan of every output cannot tell an author from a patient with the same surname).
The rest (context, ethics, funding, registration, interpretation ...) is the
authors' and is marked so. Aggregates only: no row of any patient is in it.

:func:`tripod_items` assembles the items from :class:`TripodFacts`; :func:`render_tripod_markdown`
and :func:`render_tripod_html` write them (the PDF is the HTML through WeasyPrint).
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sma_response.cohort.spec import MEANINGFUL_CHANGE
from sma_response.evaluate.samplesize import SampleSize
from sma_response.evaluate.summary import RunEvaluation
from sma_response.features.design import Design
from sma_response.report.render import template_environment

__all__ = [
    "TRIPOD_ITEMS",
    "TripodFacts",
    "TripodItem",
    "flow_svg",
    "missing_by_region",
    "render_tripod_html",
    "render_tripod_markdown",
    "table_one",
    "tripod_items",
    "tripod_report",
]

FILLED, PARTLY, AUTHORS = "from the run", "partly from the run", "for the authors"
_TARGET_WORDS = {
    "responder": "a meaningful motor-function gain",
    "delta": "the change in a motor score",
    "milestone_gain": "a new motor milestone",
}

#: (item, section, topic) of every TRIPOD+AI item and sub-item, in checklist order.
TRIPOD_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("1", "Title", "Title"),
    ("2", "Abstract", "Abstract"),
    ("3a", "Introduction", "Healthcare context and rationale"),
    ("3b", "Introduction", "Target population and intended users"),
    ("3c", "Introduction", "Known health inequalities"),
    ("4", "Introduction", "Objectives"),
    ("5a", "Methods", "Data sources"),
    ("5b", "Methods", "Dates of data collection"),
    ("6a", "Methods", "Setting and centres"),
    ("6b", "Methods", "Eligibility criteria"),
    ("6c", "Methods", "Treatments received"),
    ("7", "Methods", "Data preparation"),
    ("8a", "Methods", "Outcome: definition and timing"),
    ("8b", "Methods", "Outcome: assessment (and blinding)"),
    ("8c", "Methods", "Outcome: rationale"),
    ("9a", "Methods", "Predictors: choice"),
    ("9b", "Methods", "Predictors: definition and timing"),
    ("9c", "Methods", "Predictors: measurement"),
    ("10", "Methods", "Sample size"),
    ("11", "Methods", "Missing data"),
    ("12a", "Methods", "Data use and partitioning"),
    ("12b", "Methods", "Handling of predictors"),
    ("12c", "Methods", "Model type, building and tuning"),
    ("12d", "Methods", "Heterogeneity across clusters"),
    ("12e", "Methods", "Performance measures"),
    ("12f", "Methods", "Model updating or recalibration"),
    ("12g", "Methods", "Evaluation approach"),
    ("13", "Methods", "Class imbalance"),
    ("14", "Methods", "Fairness"),
    ("15", "Methods", "Model output"),
    ("16", "Methods", "Training versus evaluation data"),
    ("17", "Methods", "Ethical approval"),
    ("18a", "Open science", "Funding"),
    ("18b", "Open science", "Conflicts of interest"),
    ("18c", "Open science", "Protocol"),
    ("18d", "Open science", "Registration"),
    ("18e", "Open science", "Data sharing"),
    ("18f", "Open science", "Code sharing"),
    ("19", "Patient and public involvement", "Patient and public involvement"),
    ("20a", "Results", "Participant flow"),
    ("20b", "Results", "Participant characteristics"),
    ("20c", "Results", "Development versus evaluation data"),
    ("21", "Results", "Participants and outcome events in each analysis"),
    ("22", "Results", "Full model specification"),
    ("23a", "Results", "Model performance with confidence intervals"),
    ("23b", "Results", "Performance in key subgroups"),
    ("24", "Results", "Model updating"),
    ("25", "Discussion", "Interpretation"),
    ("26", "Discussion", "Limitations"),
    ("27a", "Discussion", "Usability: poor-quality or missing input"),
    ("27b", "Discussion", "Usability: user interaction and expertise"),
    ("27c", "Discussion", "Usability: future research"),
)


@dataclass(frozen=True)
class TripodItem:
    """One checklist item: its number, section and topic, who fills it, and the text."""

    number: str
    section: str
    topic: str
    status: str
    text: str


@dataclass
class TripodFacts:
    """What the run knows that a TRIPOD+AI report needs (aggregates only).

    Attributes
    ----------
    run
        ``run_id, model_name, target_kind, target_scale, task, dataset, data_digest, git_sha,
        package_version, seed, created``.
    cohort_rules
        The cohort settings (``index, baseline_window_days, outcome_days, ...``).
    validation
        ``kind, n_splits, n_repeats`` of the partitioning.
    model_params
        The estimator's settings (from the config).
    features
        Predictor names.
    attrition
        The attrition table (``cohort/attrition.csv``).
    table_one, missing
        :func:`table_one` and :func:`missing_by_region`.
    metrics, baseline_metrics, oracle
        Held-out figures with ``*_ci_low``/``*_ci_high``.
    subgroups
        Subgroup metrics with ``small`` and ``imprecise``.
    sample_size
        ``SampleSize.metrics()`` (empty when not estimable) and ``reason``.
    coverage
        Interval coverage table (empty without explanations).
    registries
        Registry -> region of the index events.
    drop_out
        ``estimand/*`` metrics (complete-case and IPCW-weighted mean target of the eligible
        index events; empty when not computed).
    weighted
        ``ipcw/*`` metrics when the fits and held-out metrics are IPC-weighted (else empty).
    confirmation
        ``confirm/*`` metrics of the final model on the reserved persons (else empty).
    """

    run: dict[str, Any]
    cohort_rules: dict[str, Any]
    validation: dict[str, Any]
    model_params: dict[str, Any]
    features: list[str]
    attrition: pd.DataFrame
    table_one: pd.DataFrame
    missing: pd.DataFrame
    metrics: dict[str, float]
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    baseline_name: str | None = None
    oracle: dict[str, float] = field(default_factory=dict)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)
    sample_size: dict[str, float] = field(default_factory=dict)
    sample_size_reason: str = ""
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    registries: dict[str, str] = field(default_factory=dict)
    drop_out: dict[str, float] = field(default_factory=dict)
    weighted: dict[str, float] = field(default_factory=dict)  # ipcw/*: fits and metrics weighted
    confirmation: dict[str, float] = field(default_factory=dict)  # confirm/*: reserved persons


# --------------------------------------------------------------------------- tables


def table_one(cohort: pd.DataFrame, X: pd.DataFrame, y: pd.Series, *, task: str) -> pd.DataFrame:
    """Return Table 1 by region: index events, age, SMA type, SMN2 copies, therapy, outcome.

    Counts under 5 in any cell are shown as ``< 5`` (a development report stays aggregate).
    """
    region = cohort.set_index("index_id")["region"].reindex(X.index).astype(str)
    columns = {}
    for name in [*sorted(region.unique()), "all"]:
        rows = region.index if name == "all" else region.index[region == name]
        part, target = X.loc[rows], y.loc[rows]
        age = part["age_at_index_months"] if "age_at_index_months" in part else pd.Series()
        q = age.quantile([0.25, 0.5, 0.75]) if len(age) else pd.Series([np.nan] * 3)
        col: dict[str, str] = {
            "index events": str(len(part)),
            "age at start, months: median (IQR)": (
                f"{q.iloc[1]:.0f} ({q.iloc[0]:.0f}-{q.iloc[2]:.0f})"
            ),
        }
        for variable, label in (("sma_type", "SMA type"), ("smn2_copies", "SMN2 copies"),
                                ("therapy", "therapy")):  # fmt: skip
            if variable in part:
                counts = part[variable].astype(object).fillna("unknown").astype(str).value_counts()
                for level, n in sorted(counts.items()):
                    col[f"{label} {level}"] = _count(int(n), len(part))
        if task == "classification":
            col["meaningful gain"] = _count(int(target.sum()), len(part))
        else:
            col["change: mean (SD)"] = f"{target.mean():+.1f} ({target.std():.1f})"
        columns[name] = col
    return pd.DataFrame(columns).fillna("0")


def _count(n: int, total: int) -> str:
    return "< 5" if 0 < n < 5 else f"{n} ({100 * n / max(total, 1):.0f} %)"


def missing_by_region(cohort: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
    """Return the share of index events missing each predictor, by region and overall.

    Only predictors missing somewhere are listed, most often missing first.
    """
    region = cohort.set_index("index_id")["region"].reindex(X.index).astype(str)
    missing = X.isna().groupby(region.to_numpy()).mean().T
    missing["all"] = X.isna().mean()
    return missing.loc[missing["all"] > 0].sort_values("all", ascending=False).round(3)


def flow_svg(attrition: pd.DataFrame) -> str:
    """Return the participant flow diagram (SVG): one box per inclusion step, exclusions beside.

    Examples
    --------
    >>> a = pd.DataFrame({"description": ["records", "a therapy start"], "n_patients": [10, 8],
    ...                   "n_index_events": [None, 8], "excluded_patients": [None, 2]})
    >>> svg = flow_svg(a)
    >>> svg.startswith("<svg") and "excluded: 2" in svg
    True
    """
    width, box_w, box_h, gap = 640, 360, 44, 22
    parts, y = [], 10
    for i, r in enumerate(attrition.itertuples(index=False)):
        text = html_lib.escape(str(r.description))
        n = int(r.n_patients) if pd.notna(r.n_patients) else 0
        parts.append(
            f'<rect x="10" y="{y}" width="{box_w}" height="{box_h}" rx="4" fill="#fff" '
            f'stroke="#555"/><text x="20" y="{y + 18}" font-size="11">{text[:62]}</text>'
            f'<text x="20" y="{y + 35}" font-size="12" font-weight="bold">n = {n}</text>'
        )
        excluded = getattr(r, "excluded_patients", None)
        if i > 0 and excluded is not None and pd.notna(excluded) and int(excluded) > 0:
            mid = y + box_h / 2
            parts.append(
                f'<line x1="{10 + box_w}" y1="{mid}" x2="{30 + box_w}" y2="{mid}" stroke="#999"/>'
                f'<text x="{36 + box_w}" y="{mid + 4}" font-size="11" fill="#8a5a00">'
                f"excluded: {int(excluded)}</text>"
            )
        if i < len(attrition) - 1:
            parts.append(
                f'<line x1="{10 + box_w / 2}" y1="{y + box_h}" x2="{10 + box_w / 2}" '
                f'y2="{y + box_h + gap}" stroke="#555"/>'
            )
        y += box_h + gap
    height = y - gap + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="participant flow">'
        + "".join(parts)
        + "</svg>"
    )


# --------------------------------------------------------------------------- items


def _ci(m: Mapping[str, float], key: str, digits: int = 3) -> str:
    value = m.get(key)
    if value is None or not np.isfinite(value):
        return "not estimable"
    low, high = m.get(f"{key}_ci_low", np.nan), m.get(f"{key}_ci_high", np.nan)
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:.{digits}f} (no interval)"
    return f"{value:.{digits}f} ({low:.{digits}f} to {high:.{digits}f})"


def _outcome_text(f: TripodFacts) -> str:
    kind, scale = f.run["target_kind"], f.run.get("target_scale")
    days = f.cohort_rules.get("outcome_days", 365)
    tol = f.cohort_rules.get("outcome_tolerance_days", 90)
    timing = (
        f"assessed at the visit nearest to {days:g} days after the index therapy start "
        f"(within +-{tol:g} days), on the same scale as the baseline score"
    )
    if kind == "responder":
        mcid = ", ".join(f"{k} >= {v:g}" for k, v in MEANINGFUL_CHANGE.items())
        what = (
            "A meaningful gain on the primary motor scale chosen by function at baseline "
            f"(CHOP INTEND for non-sitters; HFMSE, else RHS, else RULM for sitters and walkers), "
            f"{timing}. Meaningful change per scale: {mcid}."
        )
    elif kind == "delta":
        what = f"The change on {scale} from baseline, {timing}."
    else:
        what = f"Gain of a motor milestone not held at baseline, {timing}."
    return f"{what} {_estimand_text(f.attrition)}"


def _estimand_text(attrition: pd.DataFrame) -> str:
    """State the estimand and the labelling rules as the attrition table gives them."""
    if attrition.empty or "estimand" not in set(attrition["rule"]):
        return (
            "Estimand not recorded by this run: index events without a same-scale outcome are "
            "excluded, so the target is conditional on being assessed alive."
        )
    described = attrition.set_index("rule")["description"].astype(str)
    text = "Estimand: " + described["estimand"].removeprefix("estimand ") + "."
    for rule in ("death_or_ventilation", "scale_change_sitting"):
        if rule in described.index:
            text += " Labelled without a same-scale score: " + described[rule] + "."
    return text + (
        " Index events still without an outcome are excluded (see the flow diagram); the "
        "remaining outcome data are analysed complete-case."
    )


def tripod_items(f: TripodFacts) -> list[TripodItem]:
    """Return every TRIPOD+AI item with the run's text, or marked for the authors."""
    r = f.run
    n_events = int(f.table_one.loc["index events", "all"]) if "all" in f.table_one else 0
    regions = sorted(set(f.registries.values()))
    auroc = _ci(f.metrics, "auroc") if "auroc" in f.metrics else _ci(f.metrics, "rmse", 2)
    filled: dict[str, tuple[str, str]] = {
        "1": (
            PARTLY,
            f"Development of a {r['model_name']} model predicting {r['target_kind']} "
            "12 months after starting an SMA disease-modifying therapy, with internal "
            "validation. The authors give the final title.",
        ),
        "5a": (
            FILLED,
            f"Registry exports of {len(f.registries)} registries in "
            f"{len(regions)} regions ({', '.join(regions)}): "
            + ", ".join(f"{k} ({v})" for k, v in sorted(f.registries.items()))
            + f"; dataset '{r['dataset']}', CDM digest {r['data_digest'][:16]}.",
        ),
        "5b": (
            PARTLY,
            "The harmonised data hold ages, not calendar dates (dates are not "
            "exported, to protect identity); the authors give the accrual period.",
        ),
        "6a": (PARTLY, f"Disease registries of specialised SMA centres in {', '.join(regions)}."),
        "6b": (
            FILLED,
            "Index event: "
            + str(f.cohort_rules.get("index"))
            + "; "
            + "; ".join(str(d) for d in f.attrition["description"].iloc[1:])
            + ". Counts per step in the flow diagram (item 20a).",
        ),
        "6c": (
            FILLED,
            "Therapy at index: "
            + ", ".join(
                k.removeprefix("therapy ") + " " + v
                for k, v in f.table_one["all"].items()
                if k.startswith("therapy ")
            )
            + ". Therapy is a predictor, not a randomised intervention.",
        ),
        "7": (
            FILLED,
            "Each registry export is harmonised into one common data model with "
            "schema checks; every rejected cell or row is quarantined with its reason "
            "(records in = accepted + corrected + quarantined); duplicate patients "
            "across registries are linked and one record per person is kept.",
        ),
        "8a": (FILLED, _outcome_text(f)),
        "8b": (
            PARTLY,
            "Assessed by the treating centres as part of routine care; assessors "
            "were not blinded to therapy or predictors.",
        ),
        "9a": (
            FILLED,
            f"All {len(f.features)} predictors known at the index date (chosen a "
            "priori from the clinical literature, no data-driven selection): "
            + ", ".join(f.features)
            + ".",
        ),
        "9b": (
            FILLED,
            f"At the index therapy start; scores are the latest within "
            f"{f.cohort_rules.get('baseline_window_days', 180):g} days before it.",
        ),
        "10": _sample_size_item(f),
        "11": _missing_item(f),
        "12a": (FILLED, _partitioning(f)),
        "12b": (
            FILLED,
            "Continuous predictors unchanged (trees) or standardised (logistic "
            "baseline); categorical predictors as categories; missing values kept "
            "as missing (handled natively by the trees, imputed for the baseline).",
        ),
        "12c": (
            FILLED,
            f"{r['model_name']} with settings: "
            + ", ".join(f"{k}={v}" for k, v in sorted(f.model_params.items()) if k != "_target_")
            + f"; comparator: {f.baseline_name or 'none'}. Hyperparameters as "
            "configured (a tuned run reports its search separately).",
        ),
        "12d": (
            FILLED,
            "Performance is given per region and per registry population "
            "(item 23b); leave-one-region-out validation is a separate experiment "
            "(loro_external).",
        ),
        "12e": (
            FILLED,
            "Discrimination (AUROC, AUPRC), calibration (intercept, slope, "
            "calibration plot), Brier score and net benefit (decision curve), with "
            "95 % bootstrap intervals resampling patients."
            if r["task"] == "classification"
            else "RMSE, MAE and R2 with 95 % bootstrap intervals resampling patients.",
        ),
        "12f": (
            FILLED,
            "No updating in development; external validation "
            "(sma-validate) reports recalibration in the large and logistic "
            "recalibration fitted at the validating site.",
        ),
        "12g": (FILLED, "Every figure is computed on held-out predictions only (out of fold)."),
        "13": (
            FILLED,
            "No resampling or reweighting for class balance: "
            + (
                f"{100 * f.metrics.get('prevalence', np.nan):.0f} % of index events are responders."
                if "prevalence" in f.metrics
                else "a continuous outcome."
            ),
        ),
        "14": (
            PARTLY,
            "Performance is reported by region, SMA type, therapy and age band "
            "(item 23b); sex and socioeconomic groups are for the authors to assess.",
        ),
        "15": (
            FILLED,
            "A probability of a meaningful gain (or an expected change) per patient, "
            "with an 80 % group-conditional conformal interval of the change and "
            "SHAP explanations; no decision threshold is applied.",
        ),
        "16": (
            FILLED,
            "Internal validation: the evaluation folds come from the same registries "
            "and regions as the training folds (no temporal or external split).",
        ),
        "18e": (
            PARTLY,
            "Patient-level registry data cannot be shared; the synthetic registry "
            "and the aggregate validation kit can.",
        ),
        "18f": (
            FILLED,
            f"Code: sma-response {r['package_version']}, commit {r['git_sha']}; "
            f"MLflow run {r['run_id']} reproduces with sma-reproduce.",
        ),
        "20a": (FILLED, "See the participant flow diagram below."),
        "20b": (FILLED, "See Table 1 by region below."),
        "20c": (FILLED, "Development and internal evaluation share one population (item 16)."),
        "21": (
            FILLED,
            f"{n_events} index events "
            + (
                f"({int(f.metrics.get('n_events', 0))} with a meaningful gain)"
                if "n_events" in f.metrics
                else ""
            )
            + f" in every analysis; {_partitioning(f)}",
        ),
        "22": (
            PARTLY,
            f"The fitted model is logged with run {r['run_id']} (MLflow pyfunc, "
            "with input signature); a tree ensemble has no closed form to print.",
        ),
        "23a": (FILLED, _performance(f, auroc)),
        "23b": (FILLED, _subgroup_text(f)),
        "24": (FILLED, "No model updating was done."),
        "26": (
            PARTLY,
            "Run-level limitations: " + _limitations(f) + " The authors add the study's own.",
        ),
        "27a": (
            PARTLY,
            "Missing predictors are allowed (item 11); reports flag patients "
            "outside the training range or in rarely seen subgroups.",
        ),
    }
    items = []
    for number, section, topic in TRIPOD_ITEMS:
        status, text = filled.get(number, (AUTHORS, "To be completed by the authors."))
        items.append(TripodItem(number, section, topic, status, text))
    return items


def _partitioning(f: TripodFacts) -> str:
    v = f.validation
    if v.get("kind") == "grouped_kfold":
        return (
            f"{v.get('n_splits')}-fold cross-validation grouped by person (no person in two "
            f"folds), stratified by outcome, {v.get('n_repeats')} repeat(s); features use only "
            "data up to the index date (no leakage from the outcome window)."
        )
    return f"validation '{v.get('kind')}' ({v})."


def _sample_size_item(f: TripodFacts) -> tuple[str, str]:
    s = f.sample_size
    if not s:
        why = f.sample_size_reason or "no figure"
        return PARTLY, f"Minimum sample size criteria (BMJ 2020;368:m441) not estimable: {why}."
    crit = ", ".join(f"criterion {i}: {int(s[f'samplesize/n_criterion_{i}'])}" for i in (1, 2, 3))
    met = "met" if s["samplesize/met"] else "not met"
    return FILLED, (
        "Minimum sample size criteria for prediction models (BMJ 2020;368:m441; "
        f"{int(s['samplesize/parameters'])} candidate parameters, "
        f"held-out R2 {s['samplesize/r2']:.3f}): {crit}; {int(s['samplesize/n_available'])} "
        f"available, {met}; expected shrinkage {s['samplesize/shrinkage_expected']:.2f}."
    )


def _missing_item(f: TripodFacts) -> tuple[str, str]:
    if f.missing.empty:
        return FILLED, "No predictor has missing values."
    top = ", ".join(f"{k} {100 * v:.0f} %" for k, v in f.missing["all"].head(6).items())
    return FILLED, (
        f"{len(f.missing)} predictors have missing values (most: {top}); the table below gives "
        "the share per region. Missing values are not imputed for the trees (native handling) "
        "and median-imputed with missing-value indicators for the logistic baseline; "
        + (
            "index events without an outcome are handled by inverse-probability-of-censoring "
            "weights (a logistic model of being labelled on the predictors, fitted inside each "
            "training part), which weight the model fits and the weighted held-out metrics "
            "(item 8a)."
            if f.weighted.get("ipcw/weighted_fits")
            else "the outcome is analysed complete-case (item 8a)."
        )
    )


def _performance(f: TripodFacts, headline: str) -> str:
    m = f.metrics
    if f.run["task"] == "classification":
        text = (
            f"AUROC {headline}; calibration intercept {_ci(m, 'calibration_intercept', 2)}, "
            f"slope {_ci(m, 'calibration_slope', 2)}; Brier {_ci(m, 'brier')}."
        )
        if f.baseline_metrics:
            text += f" Comparator {f.baseline_name}: AUROC {_ci(f.baseline_metrics, 'auroc')}."
        if f.oracle:
            text += f" Simulator oracle (best possible): AUROC {_ci(f.oracle, 'auroc')}."
        return text + _confirmation(f, "auroc", 3)
    text = f"RMSE {_ci(m, 'rmse', 2)}; MAE {_ci(m, 'mae', 2)}; R2 {_ci(m, 'r2', 2)}."
    return text + _confirmation(f, "rmse", 2)


def _confirmation(f: TripodFacts, key: str, digits: int) -> str:
    """Say the final model's figure on the persons reserved before any fit, fold or tuning."""
    c = {k.removeprefix("confirm/"): v for k, v in f.confirmation.items()}
    if key not in c:
        return ""
    return (
        f" On the {c['n']:.0f} index events of {c['n_persons']:.0f} persons reserved before any "
        f"fit, fold or tuning (held-out confirmation): {key.upper()} {_ci(c, key, digits)}."
    )


def _subgroup_text(f: TripodFacts) -> str:
    if f.subgroups.empty:
        return "No subgroup results."
    sub = f.subgroups.loc[f.subgroups["variable"] != "overall"]
    imprecise = int(sub.get("imprecise", pd.Series(dtype=bool)).sum())
    return (
        f"{len(sub)} subgroups (region, SMA type, therapy, age band) in the table below; "
        f"{imprecise} have fewer than 100 events or non-events and are imprecise."
    )


def _limitations(f: TripodFacts) -> str:
    notes = []
    if f.sample_size and not f.sample_size.get("samplesize/met", 1.0):
        notes.append("the sample falls short of the minimum sample size criteria (item 10)")
    slope = f.metrics.get("calibration_slope")
    if slope is not None and np.isfinite(slope) and slope < 0.9:
        notes.append(f"a calibration slope of {slope:.2f} shows some overfitting")
    notes.append("internal validation only")
    d, w = f.drop_out, f.weighted
    if d:
        handled = (
            "are weighted for in fitting and in the weighted metrics"
            if w.get("ipcw/weighted_fits")
            else "are weighted for in the weighted metrics (the fits are unweighted)"
            if w
            else "are left out of model fitting and validation"
        )
        notes.append(
            f"{d['estimand/n_eligible'] - d['estimand/n_labelled']:.0f} of "
            f"{d['estimand/n_eligible']:.0f} eligible index events have no outcome and "
            f"{handled}; weighting the labelled ones by the inverse of their chance of being "
            "labelled moves the cohort's mean target from "
            f"{d['estimand/complete_case_rate']:.3f} (complete case) to "
            f"{d['estimand/corrected_rate']:.3f}"
        )
    if w and "ipcw/auroc" in w:
        notes.append(
            f"weighted to all eligible index events, the held-out AUROC is {w['ipcw/auroc']:.3f} "
            f"(unweighted {f.metrics.get('auroc', float('nan')):.3f}), calibration intercept "
            f"{w['ipcw/calibration_intercept']:+.2f}, slope {w['ipcw/calibration_slope']:.2f} "
            f"(effective n {w['ipcw/n_effective']:.0f})"
        )
    if not d:
        notes.append("outcome missing for index events without a same-scale 12-month score")
    return "; ".join(notes) + "."


# --------------------------------------------------------------------------- rendering


def _md_table(frame: pd.DataFrame, index_name: str) -> str:
    frame = frame.reset_index().rename(columns={"index": index_name})
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def _subgroup_table(f: TripodFacts) -> pd.DataFrame:
    if f.subgroups.empty:
        return pd.DataFrame()
    key = "auroc" if f.run["task"] == "classification" else "rmse"
    sub = f.subgroups.loc[f.subgroups["variable"] != "overall"]
    return pd.DataFrame(
        {
            "group": sub["variable"].astype(str) + " " + sub["level"].astype(str),
            "n": sub["n"].astype(int),
            key.upper(): [_ci(r, key) for r in sub.to_dict("records")],
            "flag": np.where(
                sub["small"], "small", np.where(sub.get("imprecise", False), "imprecise", "")
            ),
        }
    ).set_index("group")


def render_tripod_markdown(f: TripodFacts, items: Sequence[TripodItem]) -> str:
    """Return the report as Markdown: the items, then the flow, Table 1, missing data, subgroups."""
    lines = [
        f"# TRIPOD+AI report of run {f.run['run_id']}",
        "",
        f"Model {f.run['model_name']}, target {f.run['target_kind']}, created {f.run['created']}. "
        "Items marked *for the authors* are not known to the run.",
        "",
        "| Item | Topic | Filled | Report |",
        "|---|---|---|---|",
    ]
    lines += [f"| {i.number} | {i.topic} | {i.status} | {i.text} |" for i in items]
    lines += ["", "## Participant flow (item 20a)", ""]
    lines += [
        f"- {r.description}: {int(r.n_patients)} patients"
        + (f" ({int(r.excluded_patients)} excluded)" if pd.notna(r.excluded_patients) else "")
        for r in f.attrition.itertuples(index=False)
    ]
    lines += ["", "## Table 1 by region (item 20b)", "", _md_table(f.table_one, "characteristic")]
    if not f.missing.empty:
        lines += ["", "## Missing predictors by region (item 11)", ""]
        lines += [_md_table((100 * f.missing).round(1), "predictor (% missing)")]
    sub = _subgroup_table(f)
    if not sub.empty:
        lines += ["", "## Performance by subgroup (item 23b)", "", _md_table(sub, "group")]
    return "\n".join(lines) + "\n"


def render_tripod_html(f: TripodFacts, items: Sequence[TripodItem]) -> str:
    """Return the report as self-contained HTML (the PDF is rendered from it)."""
    return (
        template_environment()
        .get_template("tripod.html.j2")
        .render(
            f=f,
            items=items,
            flow=flow_svg(f.attrition),
            table_one=f.table_one,
            missing=(100 * f.missing).round(1),
            subgroups=_subgroup_table(f),
            authors=AUTHORS,
        )
    )


def tripod_report(
    design: Design,
    ev: RunEvaluation,
    *,
    run: Mapping[str, Any],
    cohort_rules: Mapping[str, Any],
    validation: Mapping[str, Any],
    model_params: Mapping[str, Any],
    baseline_name: str | None,
) -> tuple[str, str]:
    """Return the TRIPOD+AI report of a training run as Markdown and as HTML."""
    cohort, task = design.cohort, str(run["task"])
    y = pd.Series(design.y, index=design.X.index) if design.y is not None else pd.Series()
    size = ev.sample_size
    facts = TripodFacts(
        run=dict(run),
        cohort_rules=dict(cohort_rules),
        validation=dict(validation),
        model_params=dict(model_params),
        features=[str(c) for c in design.X.columns],
        attrition=design.attrition,
        table_one=table_one(cohort, design.X, y, task=task),
        missing=missing_by_region(cohort, design.X),
        metrics=ev.metrics,
        baseline_metrics=ev.baseline_metrics,
        baseline_name=baseline_name,
        oracle=ev.oracle,
        subgroups=ev.subgroups,
        sample_size=size.metrics() if isinstance(size, SampleSize) else {},
        sample_size_reason=size if isinstance(size, str) else "",
        registries=dict(
            cohort[["registry", "region"]].astype(str).drop_duplicates().itertuples(index=False)
        ),
        drop_out=ev.estimand.metrics() if ev.estimand is not None else {},
        weighted=ev.weighted,
        confirmation=ev.confirmation,
    )
    items = tripod_items(facts)
    return render_tripod_markdown(facts, items), render_tripod_html(facts, items)
