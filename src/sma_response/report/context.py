"""Pure step one of a report: everything a patient's report says, as a dataclass.

:func:`build_patient_context` turns a patient's prediction, SHAP values and therapy
alternatives plus the run's :class:`~sma_response.report.basis.ReportBasis` into a
:class:`PatientReport`; :mod:`sma_response.report.render` turns that into HTML and PDF. Nothing
here reads or writes files, and nothing holds a direct identifier: the patient is known by
pseudonymous id only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from sma_response.cohort.spec import MEANINGFUL_CHANGE
from sma_response.evaluate.conformal import CELL_SEP, POOLED
from sma_response.features.labels import LEVEL_LABELS, feature_unit
from sma_response.report.basis import ReportBasis, age_band_of_months
from sma_response.report.i18n import N_, current_format, current_language, gettext
from sma_response.report.options import reason_text
from sma_response.report.spec import ReportSpec
from sma_response.report.wording import (
    describe_value,
    factor_sentence,
    format_change,
    label,
    scale_name,
    unit_text,
)

__all__ = [
    "Alternative",
    "Factor",
    "PatientReport",
    "PerformanceRow",
    "Position",
    "build_patient_context",
    "options_caveat",
    "report_id",
]

#: Numeric features placed against the training cohort (the patient's scale is added).
POSITION_FEATURES = ("age_at_index_months", "disease_duration_months", "primary_slope_per_year")


@dataclass
class Factor:
    """One feature's push on the prediction."""

    feature: str
    label: str
    value: str
    shap: float
    direction: str
    sentence: str


@dataclass
class Position:
    """Where a patient's value sits in the training cohort."""

    feature: str
    label: str
    value_text: str
    value: float
    percentile: float | None
    quantiles: dict[str, float]
    flag: str | None


@dataclass
class PerformanceRow:
    """The model's measured performance in one group the patient belongs to."""

    group: str
    n: int
    small: bool
    discrimination: str
    calibration: str
    imprecise: bool = False  # fewer than evaluate.imprecise_events events or non-events


@dataclass
class Alternative:
    """One therapy option: its estimate, or why there is none (``report.options``)."""

    therapy: str
    label: str
    status: str  # current | estimated | not_estimable | not_an_option
    reason: str
    probability: float | None
    probability_interval: tuple[float, float] | None
    expected_change: float | None
    change_interval: tuple[float, float] | None
    diff_probability: float | None
    diff_probability_interval: tuple[float, float] | None
    diff_change: float | None
    diff_change_interval: tuple[float, float] | None
    n_similar: int
    rare: bool

    @property
    def actual(self) -> bool:
        """The therapy the patient started."""
        return self.status == "current"


def _pair(row: Any, low: str, high: str) -> tuple[float, float] | None:
    lo, hi = _num(getattr(row, low, None)), _num(getattr(row, high, None))
    return None if lo is None or hi is None else (lo, hi)


def _alternative(row: Any, *, n_similar: int, rare: bool, current: str | None) -> Alternative:
    return Alternative(
        therapy=str(row.therapy),
        label=_therapy(str(row.therapy)),
        status=str(row.status),
        reason=reason_text(
            str(getattr(row, "reason_key", "") or ""),
            str(row.therapy),
            str(current or ""),
            str(row.reason or ""),
        ),
        probability=_num(row.probability),
        probability_interval=_pair(row, "probability_lower", "probability_upper"),
        expected_change=_num(row.expected_change),
        change_interval=_pair(row, "change_lower", "change_upper"),
        diff_probability=_num(row.diff_probability),
        diff_probability_interval=_pair(row, "diff_probability_lower", "diff_probability_upper"),
        diff_change=_num(row.diff_change),
        diff_change_interval=_pair(row, "diff_change_lower", "diff_change_upper"),
        n_similar=n_similar,
        rare=rare,
    )


#: Shown under a headline whose expected change was moved (``report.options.reconcile``).
RECONCILED_NOTE = N_(
    "The chance and the expected change come from two models that disagreed for this patient; "
    "the expected change and its range were moved to the meaningful-change threshold so that "
    "the two do not contradict each other. Read both as close to the threshold."
)


def _lower_first(text: str) -> str:
    """Lower-case a label's first letter for use mid-sentence, unless it starts an acronym."""
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


def options_caveat(effects: Mapping[str, Any]) -> str:
    """One plain caveat for the therapy options: observational data, what was adjusted for.

    ``effects["adjusted_for"]`` holds feature names (labelled in the report's language).

    Examples
    --------
    >>> text = options_caveat({"adjusted_for": ["age_at_index_months", "sma_type"],
    ...                        "level": 0.8,
    ...                        "coverage": {"change/a_vs_b": 0.5, "response/a_vs_b": 0.6}})
    >>> "adjust for age at treatment start, SMA type and" in text
    True
    >>> text.endswith("for 50-60% of patients: read them as too narrow.")
    True
    """
    if not effects:
        return ""
    adjusted = ", ".join(_lower_first(label(str(a))) for a in effects.get("adjusted_for", []))
    text = gettext(
        "These differences are estimated from registry data, not from a trial: doctors chose "
        "each therapy for reasons that also shape outcomes (confounding by indication). The "
        "estimates adjust for %(features)s and for nothing else, so anything not recorded can "
        "bias them."
    ) % {"features": adjusted or gettext("nothing")}
    coverage = [float(v) for v in effects.get("coverage", {}).values() if v is not None]
    level = float(effects.get("level", 0.8))
    if coverage:
        fmt = current_format()
        low, high = min(coverage), max(coverage)
        span = (
            fmt.percent(low)
            if round(100 * low) == round(100 * high)
            else f"{fmt.number(100 * low, 0)}-{fmt.percent(high)}"
        )
        message = (
            N_(
                "On synthetic data with a known truth, the %(level)s intervals of these "
                "differences covered the true difference for %(share)s of patients: read them "
                "as too narrow."
            )
            if low < level - 0.1
            else N_(
                "On synthetic data with a known truth, the %(level)s intervals of these "
                "differences covered the true difference for %(share)s of patients: about right."
            )
        )
        text += " " + gettext(message) % {"level": fmt.percent(level), "share": span}
    return text


@dataclass
class PatientReport:
    """Everything one patient's report shows (pure data; rendered by ``report.render``)."""

    report_id: str
    patient_id: str
    index_id: str
    source: str
    task: str
    scale: str | None
    scale_name: str
    unit: str
    meaningful_change: float | None
    baseline_score: float | None
    probability: float | None
    expected_change: float | None
    lower: float | None
    upper: float | None
    level: float
    interval_note: str
    facts: list[tuple[str, str]]
    factors_up: list[Factor]
    factors_down: list[Factor]
    positions: list[Position]
    flags: list[str]
    performance: list[PerformanceRow]
    coverage_text: str
    alternatives: list[Alternative]
    provenance: dict[str, Any]
    explain: dict[str, Any]
    headline: str = ""
    estimand: str = "while_alive"
    estimand_note: str = ""
    missing_note: str = ""
    reconciled_note: str = ""
    options_caveat: str = ""
    interval_pooled: bool = False  # the interval's errors come from all scales together
    options_level: float = 0.8
    unit_text: str = "points"
    language: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)


def report_id(index_id: str) -> str:
    """File stem of a report: the pseudonymous patient id (``-<line>`` after a first line).

    Examples
    --------
    >>> report_id("0123456789abcdef#1"), report_id("0123456789abcdef#2")
    ('0123456789abcdef', '0123456789abcdef-2')
    """
    patient, _sep, line = str(index_id).partition("#")
    return patient if line in ("", "1") else f"{patient}-{line}"


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _percentile(value: float, quantiles: Mapping[str, float]) -> float | None:
    qs = sorted((float(k), float(v)) for k, v in quantiles.items() if v is not None)
    if not qs:
        return None
    probs, vals = zip(*qs, strict=True)
    return float(np.interp(value, vals, probs)) * 100.0


def _positions(
    values: Mapping[str, str | None], basis: ReportBasis, scale: str | None
) -> list[Position]:
    numeric = basis.profile.get("numeric", {})
    wanted = list(POSITION_FEATURES)
    if scale is not None and f"baseline_{scale}" in numeric:
        wanted.insert(1, f"baseline_{scale}")
    out = []
    for feature in wanted:
        x = _num(values.get(feature))
        if feature not in numeric or x is None:
            continue
        q = numeric[feature]["quantiles"]
        out.append(
            Position(
                feature=feature,
                label=label(feature),
                value_text=describe_value(feature, values.get(feature)),
                value=x,
                percentile=_percentile(x, q),
                quantiles={k: float(v) for k, v in q.items() if v is not None},
                flag=_range_flag(x, q),
            )
        )
    return out


def _range_flag(x: float, q: Mapping[str, float | None]) -> str | None:
    lo, hi = q.get("0"), q.get("1")
    if lo is not None and hi is not None and (x < lo or x > hi):
        return "outside"
    p01, p99 = q.get("0.01"), q.get("0.99")
    if p01 is not None and p99 is not None and (x < p01 or x > p99):
        return "edge"
    return None


def _flags(
    values: Mapping[str, str | None],
    basis: ReportBasis,
    subgroup: Mapping[str, str],
    min_n: int,
) -> list[str]:
    flags = []
    for feature, stats in basis.profile.get("numeric", {}).items():
        x = _num(values.get(feature))
        if x is None or _range_flag(x, stats["quantiles"]) != "outside":
            continue
        lo, hi = stats["quantiles"]["0"], stats["quantiles"]["1"]
        flags.append(
            gettext(
                "%(feature)s (%(value)s) is outside the range seen in training (%(low)s to "
                "%(high)s): the prediction is an extrapolation."
            )
            % {
                "feature": label(feature),
                "value": describe_value(feature, values.get(feature)),
                "low": describe_value(feature, f"{lo:g}"),
                "high": describe_value(feature, f"{hi:g}"),
            }
        )
    for feature, counts in basis.profile.get("categorical", {}).items():
        level = values.get(feature)
        if level is None or feature == "therapy":
            continue
        n = int(counts.get(str(level), 0))
        if n < min_n:
            flags.append(
                gettext("%(feature)s '%(value)s' was rare in training (%(n)s patients).")
                % {"feature": label(feature), "value": describe_value(feature, level), "n": n}
            )
    n = similar_patients(basis, subgroup, subgroup["therapy"])
    if n < min_n:
        flags.append(
            gettext(
                "The model saw few patients like this: %(n)s with SMA type %(type)s starting "
                "%(therapy)s aged %(age)s."
            )
            % {
                "n": n,
                "type": subgroup["sma_type"],
                "therapy": _therapy(subgroup["therapy"]),
                "age": subgroup["age_band"],
            }
        )
    region_n = int(basis.counts.get("levels", {}).get("region", {}).get(subgroup["region"], 0))
    if region_n < min_n:
        flags.append(
            gettext(
                "Region %(region)s contributed %(n)s patients to training: performance there "
                "is not well measured."
            )
            % {"region": subgroup["region"], "n": region_n}
        )
    flags.extend(_miscalibrated_groups(basis, subgroup))
    return flags


def similar_patients(basis: ReportBasis, subgroup: Mapping[str, str], therapy: str) -> int:
    """Count the training patients like this one on ``therapy``: same SMA type and age band.

    The one definition of "similar patients" in a report (the therapy table and the caution
    about few similar patients both use it).

    Examples
    --------
    >>> b = ReportBasis(task="classification", target_kind="responder", target_scale=None,
    ...     model_name="xgboost", counts={"type_therapy_age": {"1|risdiplam|0-6 mo": 3}})
    >>> similar_patients(b, {"sma_type": "1", "age_band": "0-6 mo"}, "risdiplam")
    3
    """
    key = "|".join([subgroup["sma_type"], therapy, subgroup["age_band"]])
    return int(basis.counts.get("type_therapy_age", {}).get(key, 0))


#: Subgroups whose calibration a report checks (the patient's own level of each).
_GROUP_LABELS = {
    "region": N_("Region"),
    "sma_type": N_("SMA type"),
    "therapy": N_("Therapy"),
    "age_band": N_("Age at start"),
}
#: A subgroup is flagged when its mean predicted chance is this far from the observed share
#: and a binomial test of the observed responders against that chance gives p < 0.05.
_MISCALIBRATION_GAP = 0.10


def _miscalibrated_groups(basis: ReportBasis, subgroup: Mapping[str, str]) -> list[str]:
    """Cautions for the patient's own subgroups that the model predicts badly (chance only)."""
    if basis.task != "classification":
        return []
    out = []
    for row in basis.performance:
        variable, level = str(row.get("variable")), str(row.get("level"))
        if variable not in _GROUP_LABELS or subgroup.get(variable) != level:
            continue
        n, events = row.get("n"), row.get("n_events")
        predicted, observed = row.get("mean_predicted"), row.get("mean_observed")
        if not n or events is None or predicted is None or observed is None:
            continue
        if abs(predicted - observed) < _MISCALIBRATION_GAP:
            continue
        p = float(np.clip(predicted, 1e-9, 1 - 1e-9))
        if binomtest(int(events), int(n), p).pvalue >= 0.05:
            continue
        fmt = current_format()
        value = _therapy(level) if variable == "therapy" else level
        out.append(
            gettext(
                "In training, the model gave patients of this group (%(group)s) a %(predicted)s "
                "chance on average, but %(observed)s of them improved (%(n)s patients): it is "
                "off for this group, so read this patient's chance with care."
            )
            % {
                "group": f"{gettext(_GROUP_LABELS[variable])} {value}",
                "predicted": fmt.percent(predicted),
                "observed": fmt.percent(observed),
                "n": int(n),
            }
        )
    return out


def _therapy(code: str) -> str:
    return LEVEL_LABELS["therapy"].get(code, code)


def _interval_note(key: str, groups: Sequence[str]) -> str:
    """Say whose held-out errors the interval comes from (its conformal cell, in words).

    Examples
    --------
    >>> _interval_note("chop_intend|0-6 mo|risdiplam", ["age_band", "therapy"])
    'from held-out patients measured on CHOP INTEND, aged 0-6 mo at the start, on risdiplam'
    >>> _interval_note("_pooled", [])
    'from held-out patients on all scales together (too few on this scale alone)'
    """
    if key == POOLED:
        return gettext(
            "from held-out patients on all scales together (too few on this scale alone)"
        )
    scale, *values = key.split(CELL_SEP)
    words = {
        "age_band": lambda v: gettext("aged %(age)s at the start") % {"age": v},
        "therapy": lambda v: gettext("on %(therapy)s") % {"therapy": _therapy(v)},
        "sma_type": lambda v: gettext("with SMA type %(type)s") % {"type": v},
    }
    parts = [words.get(g, lambda v: v)(v) for g, v in zip(groups, values, strict=False)]
    first = gettext("from held-out patients measured on %(scale)s") % {"scale": scale_name(scale)}
    return ", ".join([first, *parts])


def _fmt(x: Any, spec: str) -> str:
    """Format a figure the language's way (``n/a`` when missing)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return gettext("n/a")
    fmt = current_format()
    if spec == ".0%":
        return fmt.percent(float(x))
    if spec.startswith("+"):
        return fmt.signed(float(x), int(spec[2]))
    return fmt.number(float(x), int(spec[1]))


def _performance(basis: ReportBasis, subgroup: Mapping[str, str]) -> list[PerformanceRow]:
    wanted = [("overall", "all", gettext("All patients"))] + [
        (var, subgroup[var], f"{gettext(name)} {subgroup[var]}")
        for var, name in (
            ("region", N_("Region")),
            ("sma_type", N_("SMA type")),
            ("therapy", N_("Therapy")),
            ("age_band", N_("Age at start")),
        )
    ]
    rows = {(r["variable"], str(r["level"])): r for r in basis.performance}
    out = []
    for var, level, name in wanted:
        r = rows.get((var, level))
        if r is None:
            out.append(
                PerformanceRow(
                    name,
                    0,
                    small=True,
                    discrimination=gettext("not measured (no such patients)"),
                    calibration="",
                )
            )
            continue
        if basis.task == "classification":
            disc = gettext("AUROC %(auroc)s (95%% CI %(low)s to %(high)s)") % {
                "auroc": _fmt(r.get("auroc"), ".2f"),
                "low": _fmt(r.get("auroc_ci_low"), ".2f"),
                "high": _fmt(r.get("auroc_ci_high"), ".2f"),
            }
            cal = gettext(
                "predicted %(predicted)s on average, observed %(observed)s; calibration slope "
                "%(slope)s"
            ) % {
                "predicted": _fmt(r.get("mean_predicted"), ".0%"),
                "observed": _fmt(r.get("mean_observed"), ".0%"),
                "slope": _fmt(r.get("calibration_slope"), ".2f"),
            }
        else:
            disc = gettext("mean absolute error %(mae)s points") % {
                "mae": _fmt(r.get("mae"), ".1f")
            }
            cal = gettext("predicted change %(predicted)s on average, observed %(observed)s") % {
                "predicted": _fmt(r.get("mean_predicted"), "+.1f"),
                "observed": _fmt(r.get("mean_observed"), "+.1f"),
            }
        imprecise = bool(r.get("imprecise", False))
        out.append(PerformanceRow(name, int(r["n"]), bool(r["small"]), disc, cal, imprecise))
    return out


def _coverage_text(basis: ReportBasis, region: str, level: float) -> str:
    rows = {(r["variable"], str(r["level"])): r for r in basis.coverage}
    parts = []
    fmt = current_format()
    for key, name in (
        (("region", region), gettext("region %(region)s") % {"region": region}),
        (("overall", "all"), gettext("all regions")),
    ):
        r = rows.get(key)
        if r and r.get("coverage") is not None:
            parts.append(
                gettext("%(coverage)s in %(group)s (n=%(n)s)")
                % {"coverage": fmt.percent(float(r["coverage"])), "group": name, "n": r["n"]}
            )
    if not parts:
        return gettext("Coverage of the interval has not been measured for this region.")
    return gettext(
        "Checked on held-out patients, the %(level)s interval contained the observed change "
        "%(figures)s."
    ) % {"level": fmt.percent(level), "figures": gettext(" and ").join(parts)}


def merge_repeated_measurement(rows: pd.DataFrame) -> pd.DataFrame:
    """Fold the main motor score into the scale it was measured on: one factor, not two.

    ``baseline_primary_score`` is the baseline score on the primary scale, which is also
    recorded as ``baseline_<scale>``. The model credits the one measurement partly to each, so a
    report could say the same 9 CHOP INTEND points both raise and lower the chance; their SHAP
    values are summed into ``baseline_<scale>`` (the sum of all values is unchanged).

    Examples
    --------
    >>> rows = pd.DataFrame({"feature": ["baseline_primary_scale", "baseline_primary_score",
    ...                                  "baseline_chop_intend", "age_at_index_months"],
    ...                      "value": ["chop_intend", "9", "9", "5"],
    ...                      "shap": [0.1, 0.5, -0.25, 1.0], "base_value": 0.0})
    >>> merge_repeated_measurement(rows)[["feature", "shap"]].values.tolist()
    [['baseline_primary_scale', 0.1], ['baseline_chop_intend', 0.25], ['age_at_index_months', 1.0]]
    """
    by_feature = rows.set_index("feature")
    if not {"baseline_primary_scale", "baseline_primary_score"} <= set(by_feature.index):
        return rows
    scale = by_feature.loc["baseline_primary_scale", "value"]
    twin = f"baseline_{scale}"
    if pd.isna(scale) or twin not in by_feature.index:
        return rows
    if by_feature.loc[twin, "value"] != by_feature.loc["baseline_primary_score", "value"]:
        return rows
    total = float(by_feature.loc[twin, "shap"] + by_feature.loc["baseline_primary_score", "shap"])
    merged = rows.loc[rows["feature"] != "baseline_primary_score"].copy()
    merged.loc[merged["feature"] == twin, "shap"] = total
    return merged.reset_index(drop=True)


def _missing_note(rows: pd.DataFrame) -> str:
    """Say once which factors were not recorded (a missing value is no clinical finding)."""
    rows = merge_repeated_measurement(rows)
    missing = rows.loc[rows["value"].isna() & (rows["shap"].abs() > 0)]
    if missing.empty:
        return ""
    labels = [label(str(f)) for f in missing.sort_values("shap", key=abs, ascending=False)[
        "feature"
    ]]  # fmt: skip
    shown = ", ".join(labels[:4])
    if len(labels) > 4:
        shown += gettext(" and %(n)s more") % {"n": len(labels) - 4}
    return gettext(
        "Not measured or not recorded: %(factors)s. They are not listed as factors: the model "
        "uses the absence of a value, which says nothing about the child's condition."
    ) % {"factors": shown}


def _factors(rows: pd.DataFrame, *, task: str, k: int) -> tuple[list[Factor], list[Factor]]:
    """Return the ``k`` largest contributions each way, among the factors that have a value."""
    rows = merge_repeated_measurement(rows)
    total = float(rows["shap"].abs().sum()) or 1.0
    rows = rows.loc[rows["value"].notna()]  # a missing value is not a clinical factor
    out: dict[str, list[Factor]] = {"up": [], "down": []}
    for direction, part in (
        ("up", rows.loc[rows["shap"] > 0].nlargest(k, "shap")),
        ("down", rows.loc[rows["shap"] < 0].nsmallest(k, "shap")),
    ):
        for r in part.itertuples(index=False):
            value = None if pd.isna(r.value) else str(r.value)
            out[direction].append(
                Factor(
                    feature=str(r.feature),
                    label=label(str(r.feature)),
                    value=describe_value(str(r.feature), value),
                    shap=float(r.shap),
                    direction=direction,
                    sentence=factor_sentence(
                        str(r.feature),
                        value,
                        direction=direction,
                        share=abs(float(r.shap)) / total,
                        task=task,
                    ),
                )
            )
    return out["up"], out["down"]


#: What the chance of a gain includes, by estimand (shown under the probability).
ESTIMAND_NOTES = {
    "composite": N_(
        "A child who dies or needs permanent ventilation within the 12 months counts as no "
        "gain: the chance is that of a gain while alive and free of permanent ventilation."
    ),
    "while_alive": N_(
        "Estimated from children assessed at 12 months: the chance does not include the risk "
        "of death or permanent ventilation before then."
    ),
}
#: The headline's chance, by (threshold known, composite estimand).
_HEADLINE_CHANCE = {
    (True, True): N_(
        "%(chance)s chance of a gain of at least %(points)s %(unit)s on %(scale)s, alive and "
        "without permanent ventilation, at 12 months"
    ),
    (True, False): N_(
        "%(chance)s chance of a gain of at least %(points)s %(unit)s on %(scale)s at 12 months"
    ),
    (False, True): N_(
        "%(chance)s chance of a meaningful gain on %(scale)s, alive and without permanent "
        "ventilation, at 12 months"
    ),
    (False, False): N_("%(chance)s chance of a meaningful gain on %(scale)s at 12 months"),
}


def _headline(
    task: str,
    probability: float | None,
    change: float | None,
    scale_name: str,
    unit: str,
    mcid: float | None,
    estimand: str = "while_alive",
) -> str:
    parts = []
    fmt = current_format()
    if probability is not None:
        message = _HEADLINE_CHANCE[(mcid is not None, estimand == "composite")]
        parts.append(
            gettext(message)
            % {
                "chance": fmt.percent(probability),
                "points": "" if mcid is None else fmt.number(mcid, 0 if mcid.is_integer() else 1),
                "unit": unit_text(unit),
                "scale": scale_name,
            }
        )
    if change is not None:
        parts.append(
            gettext("expected change %(change)s") % {"change": format_change(change, unit)}
        )
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] if text else gettext("No prediction")


def build_patient_context(
    shap_rows: pd.DataFrame,
    *,
    patient: Mapping[str, Any],
    alternatives: pd.DataFrame,
    basis: ReportBasis,
    spec: ReportSpec,
    created: str,
) -> PatientReport:
    """Build the report context of one index event (pure).

    Parameters
    ----------
    shap_rows
        The event's SHAP rows (``feature, value, shap, base_value``; schema ``ShapValues``).
    patient
        ``index_id, patient_id, region, scale, baseline_score, probability, expected_change,
        lower, upper, interval_key, source`` (``held_out``: predicted by a model that never saw
        the patient; ``new``: a new patient scored by the final model).
    alternatives
        ``therapy, probability, expected_change``: the model's estimate under each option.
    basis
        The run's aggregates.
    spec
        Report settings (``top_k``, ``min_subgroup_n``, ``interval_level``).
    created
        Date the report is made (ISO, no time).

    Returns
    -------
    PatientReport

    Examples
    --------
    >>> basis = ReportBasis(task="classification", target_kind="responder", target_scale=None,
    ...                     model_name="xgboost", provenance={"run_id": "r1"})
    >>> rows = pd.DataFrame({"feature": ["age_at_index_months", "therapy"],
    ...                      "value": ["8", "risdiplam"], "shap": [0.9, -0.1], "base_value": 0.0})
    >>> patient = {"index_id": "0123456789abcdef#1", "patient_id": "0123456789abcdef",
    ...            "region": "DE", "scale": "chop_intend", "baseline_score": 30.0,
    ...            "probability": 0.7, "expected_change": 5.0, "lower": 1.0, "upper": 9.0,
    ...            "interval_key": "chop_intend", "source": "held_out"}
    >>> ctx = build_patient_context(rows, patient=patient, alternatives=pd.DataFrame(),
    ...                             basis=basis, spec=ReportSpec(), created="2026-01-01")
    >>> ctx.report_id
    '0123456789abcdef'
    >>> ctx.factors_up[0].sentence
    'Age at treatment start (8 months) strongly raises the chance of a meaningful gain.'
    """
    values = {
        str(f): (None if pd.isna(v) else str(v))
        for f, v in zip(shap_rows["feature"], shap_rows["value"], strict=True)
    }
    scale = patient.get("scale")
    scale = None if scale is None or pd.isna(scale) else str(scale)
    unit = feature_unit(f"baseline_{scale}") if scale else "points"
    unit = unit or "points"
    mcid = MEANINGFUL_CHANGE.get(scale) if scale else None
    if scale == "milestones":
        mcid, unit = 1.0, "milestones"
    age = _num(values.get("age_at_index_months"))
    subgroup = {
        "region": str(patient.get("region", "unknown")),
        "sma_type": values.get("sma_type") or "unknown",
        "therapy": values.get("therapy") or "unknown",
        "age_band": age_band_of_months(age) if age is not None else "unknown",
    }
    probability = _num(patient.get("probability"))
    change = _num(patient.get("expected_change"))
    lower, upper = _num(patient.get("lower")), _num(patient.get("upper"))
    up, down = _factors(shap_rows, task=basis.task, k=spec.top_k)
    missing_note = _missing_note(shap_rows)
    interval_note = _interval_note(
        str(patient.get("interval_key") or POOLED), basis.interval.get("groups", [])
    )
    facts = [
        (label(f), describe_value(f, values.get(f)))
        for f in (
            "age_at_index_months",
            "therapy",
            "sma_type",
            "smn2_copies",
            "function_at_baseline",
            "presymptomatic",
        )
        if f in values
    ]
    facts.insert(0, (gettext("Region"), subgroup["region"]))
    if scale is not None and patient.get("baseline_score") is not None:
        base = _num(patient.get("baseline_score"))
        if base is not None:
            shown = current_format().number(base, 0 if base.is_integer() else 1)
            facts.append(
                (
                    gettext("%(scale)s at start") % {"scale": scale_name(scale)},
                    f"{shown} {unit_text(unit)}",
                )
            )
    similar = {  # one definition of "similar patients" for the table and the cautions
        str(a.therapy): similar_patients(basis, subgroup, str(a.therapy))
        for a in alternatives.itertuples(index=False)
    }
    alts = [
        _alternative(a, n_similar=similar[str(a.therapy)],
                     rare=similar[str(a.therapy)] < spec.min_subgroup_n,
                     current=values.get("therapy"))
        for a in alternatives.itertuples(index=False)
    ]  # fmt: skip
    shown_scale = scale_name(scale) if scale else gettext("the primary motor scale")
    return PatientReport(
        report_id=report_id(str(patient["index_id"])),
        patient_id=str(patient["patient_id"]),
        index_id=str(patient["index_id"]),
        source=str(patient.get("source", "held_out")),
        task=basis.task,
        scale=scale,
        scale_name=shown_scale,
        unit=unit,
        unit_text=unit_text(unit),
        meaningful_change=mcid,
        baseline_score=_num(patient.get("baseline_score")),
        probability=probability,
        expected_change=change,
        lower=lower,
        upper=upper,
        level=float(basis.interval.get("level", spec.interval_level)),
        interval_note=interval_note,
        interval_pooled=str(patient.get("interval_key") or POOLED) == POOLED,
        facts=facts,
        factors_up=up,
        factors_down=down,
        positions=_positions(values, basis, scale),
        flags=_flags(values, basis, subgroup, spec.min_subgroup_n),
        performance=_performance(basis, subgroup),
        coverage_text=_coverage_text(
            basis, subgroup["region"], float(basis.interval.get("level", spec.interval_level))
        ),
        alternatives=alts,
        provenance={**basis.provenance, "created": created},
        explain=dict(basis.explain),
        headline=_headline(
            basis.task, probability, change, shown_scale, unit, mcid, basis.estimand
        ),
        estimand=basis.estimand,
        estimand_note=gettext(ESTIMAND_NOTES.get(basis.estimand, ""))
        if probability is not None and basis.estimand in ESTIMAND_NOTES
        else "",
        missing_note=missing_note,
        reconciled_note=gettext(RECONCILED_NOTE) if bool(patient.get("reconciled", False)) else "",
        options_caveat=options_caveat(basis.effects),
        options_level=float(basis.effects.get("level", 0.8)),
        language=current_language(),
        extra={"subgroup": subgroup, "min_subgroup_n": spec.min_subgroup_n},
    )
