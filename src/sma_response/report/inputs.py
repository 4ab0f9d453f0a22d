"""Per-patient report inputs: outcome frames, predictions under each therapy, report rows.

What a report shows for a patient comes from here, for the run's own cohort (held-out fold
models, :func:`held_out_inputs`) and for new patients (final models, :func:`score_patients`):
the probability of a meaningful gain, the expected change with its interval, the estimate
under each therapy option and the SHAP values. Keyed by pseudonymous ``index_id`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from sma_response.evaluate.conformal import (
    ConformalQuantiles,
    conformal_interval,
    gain_probability,
    interval_cells,
)
from sma_response.explain.shap_values import explain
from sma_response.explain.spec import ExplainSpec
from sma_response.models.fit import predict
from sma_response.report.basis import ReportBasis, age_bands_of_months
from sma_response.report.options import meaningful_change, reconcile, therapy_option_rows
from sma_response.report.spec import INTERVAL_GROUPS, ReportError
from sma_response.schemas import SCALE_RANGES

__all__ = [
    "NEW_PATIENT_OPTIONS",
    "NO_EFFECTS_OPTIONS",
    "N_MILESTONES",
    "ReportInputs",
    "cells",
    "current_therapy",
    "example_ids",
    "held_out_patients",
    "outcome_frame",
    "outcome_interval",
    "performance_rows",
    "score_patients",
    "select_patients",
    "skipped_patients",
    "therapy_options",
]

#: Why a new patient's report has no per-therapy differences (a key of ``options.REASONS``).
NEW_PATIENT_OPTIONS = "new_patient"
#: Why a run without the effects stage has none.
NO_EFFECTS_OPTIONS = "no_effects"

#: Number of motor milestones (the range of a milestone-gain "scale").
N_MILESTONES = 4.0


@dataclass
class ReportInputs:
    """Per-patient inputs of reports (keyed by pseudonymous ``index_id`` only).

    Attributes
    ----------
    patients
        ``index_id, patient_id, region, scale, baseline_score, probability, expected_change,
        lower, upper, interval_key, source, reconciled`` (:func:`~sma_response.report.options.
        reconcile`-d).
    alternatives
        :func:`~sma_response.report.options.therapy_option_rows`.
    shap
        Long SHAP values (``ShapValues``) of the predictions in ``patients``.
    """

    patients: pd.DataFrame
    alternatives: pd.DataFrame
    shap: pd.DataFrame


def outcome_frame(
    features: pd.DataFrame, *, target_kind: str, target_scale: str | None
) -> pd.DataFrame:
    """Outcome scale, baseline score and the change the scale allows, per index event.

    The scale is the target's (``delta`` with a fixed scale) or the primary scale chosen by
    function at baseline (``baseline_primary_scale``); limits are the scale's floor and
    ceiling minus the baseline score.

    Examples
    --------
    >>> X = pd.DataFrame({"baseline_primary_scale": ["hfmse"], "baseline_primary_score": [60.0]})
    >>> row = outcome_frame(X, target_kind="responder", target_scale=None).iloc[0]
    >>> row["scale"], *(float(row[c]) for c in ("baseline_score", "lower_limit", "upper_limit"))
    ('hfmse', 60.0, -60.0, 6.0)
    """
    n = len(features)
    if target_kind == "delta" and target_scale not in (None, "primary"):
        scale = pd.Series([target_scale] * n, index=features.index, dtype=object)
        col = f"baseline_{target_scale}"
        base = features[col] if col in features else pd.Series(np.nan, index=features.index)
    elif "baseline_primary_scale" in features:
        scale = (
            features["baseline_primary_scale"]
            .astype(object)
            .where(features["baseline_primary_scale"].notna(), None)
        )
        base = features.get("baseline_primary_score", pd.Series(np.nan, index=features.index))
    else:
        scale = pd.Series([None] * n, index=features.index, dtype=object)
        base = pd.Series(np.nan, index=features.index)
    if target_kind == "milestone_gain":
        scale = pd.Series(["milestones"] * n, index=features.index, dtype=object)
        base = pd.Series(np.nan, index=features.index)
    ranges = {**SCALE_RANGES, "milestones": (0.0, N_MILESTONES)}
    base = pd.to_numeric(base, errors="coerce").astype(float)
    lo = np.array([ranges.get(s, (np.nan, np.nan))[0] if s else np.nan for s in scale], dtype=float)
    hi = np.array([ranges.get(s, (np.nan, np.nan))[1] if s else np.nan for s in scale], dtype=float)
    return pd.DataFrame(
        {
            "scale": scale.to_numpy(dtype=object),
            "baseline_score": base.to_numpy(),
            "lower_limit": np.where(np.isfinite(base), lo - base, -np.inf),
            "upper_limit": np.where(np.isfinite(base), hi - base, np.inf),
            **_interval_groups(features),
        },
        index=features.index,
    )


def _interval_groups(features: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return each row's value of every group an interval cell may use (:data:`INTERVAL_GROUPS`)."""
    out = {g: np.full(len(features), None, dtype=object) for g in INTERVAL_GROUPS}
    if "age_at_index_months" in features:
        out["age_band"] = age_bands_of_months(features["age_at_index_months"].to_numpy(float))
    for group in ("therapy", "sma_type"):
        if group in features:
            out[group] = features[group].to_numpy(dtype=object)
    return out


def cells(outcome: pd.DataFrame, quantiles: ConformalQuantiles) -> np.ndarray:
    """Return each row's interval cell under the run's quantiles (their ``groups``)."""
    return interval_cells(outcome["scale"], outcome, quantiles.groups)


def outcome_interval(
    change: np.ndarray, outcome: pd.DataFrame, *, quantiles: ConformalQuantiles
) -> pd.DataFrame:
    """Conformal interval of each predicted change, within what its scale allows.

    ``outcome`` is the rows' :func:`outcome_frame`; returns ``lower, upper, key``.
    """
    return conformal_interval(
        change,
        cells(outcome, quantiles),
        quantiles=quantiles,
        lower_limit=outcome["lower_limit"].to_numpy(),
        upper_limit=outcome["upper_limit"].to_numpy(),
    )


def therapy_options(X: pd.DataFrame) -> list[str]:
    """Therapy options of the model's categorical ``therapy`` feature (none without one).

    Examples
    --------
    >>> X = pd.DataFrame({"therapy": pd.Categorical(["a"], categories=["a", "b"])})
    >>> therapy_options(X), therapy_options(pd.DataFrame({"x": [1]}))
    (['a', 'b'], [])
    """
    if "therapy" not in X or not isinstance(X["therapy"].dtype, pd.CategoricalDtype):
        return []
    return [str(c) for c in X["therapy"].cat.categories]


def current_therapy(X: pd.DataFrame) -> pd.Series:
    """Each index event's therapy (``unknown`` without a therapy feature)."""
    if "therapy" not in X:
        return pd.Series("unknown", index=X.index.astype(str))
    return pd.Series(X["therapy"].astype(str).to_numpy(), index=X.index.astype(str))


def _gain_probability(
    change: np.ndarray, outcome: pd.DataFrame, *, quantiles: ConformalQuantiles
) -> np.ndarray:
    """Probability that the change reaches its scale's meaningful threshold (change models)."""
    thresholds = meaningful_change(outcome["scale"])
    return gain_probability(change, cells(outcome, quantiles), thresholds, quantiles=quantiles)


def predict_outcome(
    model: Pipeline,
    change_model: Pipeline,
    X: pd.DataFrame,
    outcome: pd.DataFrame,
    *,
    task: str,
    quantiles: ConformalQuantiles,
) -> tuple[np.ndarray, np.ndarray]:
    """Probability of a meaningful gain and expected change of each row."""
    change = predict(change_model, X, task="regression")
    if task == "classification":
        prob = predict(model, X, task="classification")
    else:
        prob = _gain_probability(change, outcome, quantiles=quantiles)
    return prob, change


def _patient_frame(
    ids: pd.Index,
    cohort: pd.DataFrame,
    outcome: pd.DataFrame,
    *,
    probability: np.ndarray,
    change: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    keys: Sequence[str],
    source: str,
) -> pd.DataFrame:
    cohort_i = cohort.set_index(cohort["index_id"].astype(str)).reindex(ids.astype(str))
    frame = pd.DataFrame(
        {
            "index_id": ids.astype(str),
            "patient_id": cohort_i["patient_id"].astype(str).to_numpy(),
            "region": cohort_i["region"].astype(str).to_numpy(),
            "scale": outcome.loc[ids, "scale"].to_numpy(dtype=object),
            "baseline_score": outcome.loc[ids, "baseline_score"].to_numpy(dtype=float),
            "probability": probability,
            "expected_change": change,
            "lower": lower,
            "upper": upper,
            "interval_key": list(keys),
            "source": source,
        }
    )
    return reconcile(frame)  # the chance and the change never contradict each other


def held_out_patients(
    main: pd.DataFrame,
    change: pd.DataFrame,
    intervals: pd.DataFrame,
    cohort: pd.DataFrame,
    outcome: pd.DataFrame,
    *,
    task: str,
    quantiles: ConformalQuantiles,
) -> pd.DataFrame:
    """Report rows of the run's own cohort, from held-out predictions only.

    Parameters
    ----------
    main
        Held-out predictions of the run's model (one repeat), indexed by ``index_id``.
    change
        Held-out predicted change (``y_pred``) per ``index_id`` (the run's model for a change
        target, the companion change model otherwise).
    intervals
        :func:`~sma_response.evaluate.conformal.cross_conformal` intervals.
    cohort, outcome
        Cohort rows and :func:`outcome_frame` of the index events.
    task, quantiles
        The run's task and its interval quantiles.
    """
    ids = main.index
    change_pred = change.set_index("index_id")["y_pred"]
    iv = intervals.set_index("index_id")
    if task == "classification":
        prob = main["y_pred"]
    else:
        prob = pd.Series(
            _gain_probability(
                change_pred.reindex(ids).to_numpy(), outcome.loc[ids], quantiles=quantiles
            ),
            index=ids,
        )
    return _patient_frame(
        ids,
        cohort,
        outcome,
        probability=prob.reindex(ids).to_numpy(dtype=float),
        change=change_pred.reindex(ids).to_numpy(dtype=float),
        lower=iv["lower"].reindex(ids).to_numpy(dtype=float),
        upper=iv["upper"].reindex(ids).to_numpy(dtype=float),
        keys=[quantiles.key(c) for c in cells(outcome.loc[ids], quantiles)],
        source="held_out",
    )


def performance_rows(
    subgroups: pd.DataFrame, predictions: pd.DataFrame, groups: pd.DataFrame
) -> list[dict[str, Any]]:
    """Subgroup metric rows with the mean predicted and observed outcome of each subgroup.

    ``predictions`` are one repeat's held-out ``index_id, y_true, y_pred``; ``groups`` the
    subgroup variables indexed by ``index_id``.
    """
    per = predictions.set_index("index_id")[["y_true", "y_pred"]]
    g = groups.reindex(per.index)
    means: dict[tuple[str, str], tuple[float, float]] = {
        ("overall", "all"): (float(per["y_pred"].mean()), float(per["y_true"].mean()))
    }
    for var in g.columns:
        for level, part in per.groupby(g[var].astype(str).to_numpy()):
            means[(str(var), str(level))] = (
                float(part["y_pred"].mean()),
                float(part["y_true"].mean()),
            )
    rows = []
    for r in subgroups.to_dict("records"):
        pred, obs = means.get((str(r["variable"]), str(r["level"])), (np.nan, np.nan))
        clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        clean.update(
            {
                "level": str(r["level"]),
                "n_events": None if pd.isna(r.get("n_events")) else int(r["n_events"]),
                "small": bool(r["small"]),
                "imprecise": bool(r.get("imprecise", False)),
                "mean_predicted": pred,
                "mean_observed": obs,
            }
        )
        rows.append(clean)
    return rows


def example_ids(patients: pd.DataFrame, *, n: int, task: str) -> list[str]:
    """Index ids of ``n`` example patients: lowest, middle, highest prediction and evenly between.

    Examples
    --------
    >>> p = pd.DataFrame({"index_id": list("abcde"), "probability": [0.5, 0.1, 0.9, 0.3, 0.7],
    ...                   "expected_change": 0.0})
    >>> example_ids(p, n=3, task="classification")
    ['b', 'a', 'c']
    """
    column = "probability" if task == "classification" else "expected_change"
    ordered = patients.sort_values([column, "index_id"], kind="stable")["index_id"].tolist()
    if not ordered or n <= 0:
        return []
    picks = np.unique(np.round(np.linspace(0, len(ordered) - 1, min(n, len(ordered)))).astype(int))
    return [ordered[i] for i in picks]


def score_patients(
    X: pd.DataFrame,
    cohort: pd.DataFrame,
    *,
    model: Pipeline,
    change_model: Pipeline,
    basis: ReportBasis,
) -> ReportInputs:
    """Predictions, intervals, alternatives and SHAP values of new patients (final models).

    Parameters
    ----------
    X
        Feature frame of the new index events (training dtypes), indexed by ``index_id``.
    cohort
        Their cohort rows (``index_id, patient_id, region``).
    model, change_model
        The run's final model and the model of the change (the same for a regression run).
    basis
        The run's aggregates (interval quantiles, target, SHAP settings).

    Returns
    -------
    ReportInputs
        With ``source="new"``.
    """
    quantiles = ConformalQuantiles.from_dict(basis.interval)
    outcome = outcome_frame(X, target_kind=basis.target_kind, target_scale=basis.target_scale)
    prob, change = predict_outcome(
        model, change_model, X, outcome, task=basis.task, quantiles=quantiles
    )
    iv = outcome_interval(change, outcome, quantiles=quantiles)
    keys = {f.name for f in fields(ExplainSpec)}
    spec = ExplainSpec(**{k: v for k, v in basis.explain.items() if k in keys})
    patients = _patient_frame(
        X.index,
        cohort,
        outcome,
        probability=prob,
        change=change,
        lower=iv["lower"].to_numpy(),
        upper=iv["upper"].to_numpy(),
        keys=iv["key"].to_numpy(),
        source="new",
    )
    return ReportInputs(
        patients=patients,
        alternatives=therapy_option_rows(
            patients, current_therapy(X), None, unavailable=NEW_PATIENT_OPTIONS
        ),
        shap=explain(model, X, spec=spec),
    )


def select_patients(patients: pd.DataFrame, wanted: Sequence[str]) -> list[str]:
    """Return the index ids for the requested ids (index ids ``<hex>#<n>`` or patient ids).

    Raises
    ------
    ReportError
        For ids in neither column (the first five are named).
    """
    chosen: list[str] = []
    unknown = []
    for item in (str(w) for w in wanted):
        hits = patients.loc[
            (patients["index_id"] == item) | (patients["patient_id"] == item), "index_id"
        ].tolist()
        if not hits:
            unknown.append(item)
        chosen.extend(h for h in hits if h not in chosen)
    if unknown:
        msg = (
            f"patients: {len(unknown)} id(s) not in the run's cohort or export: "
            f"{unknown[:5]} (use pseudonymous patient ids or index ids)"
        )
        raise ReportError(msg)
    return chosen


def skipped_patients(
    exclusions: pd.DataFrame, rejects: pd.DataFrame, patients: pd.DataFrame
) -> pd.DataFrame:
    """Every patient of an export who gets no report, with the reason (pseudonymous ids).

    Parameters
    ----------
    exclusions
        ``patient_id, rule, reason`` of the CDM patients left without an index event
        (:func:`sma_response.cohort.build.cohort_exclusions`).
    rejects
        The harmonisation's quarantined cells and rows (``patient_id, table, rule, reason``):
        a patient named there but absent from the CDM lost their record in harmonisation.
    patients
        The CDM patients table.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, rule, reason``, sorted by ``patient_id``.

    Examples
    --------
    >>> ex = pd.DataFrame({"patient_id": ["b"], "rule": ["baseline_score"],
    ...                    "reason": ["a motor score within 180 days before index"]})
    >>> rej = pd.DataFrame({"patient_id": ["c", None], "table": ["patients", "treatments"],
    ...                     "rule": ["invalid_date", "unknown_code"],
    ...                     "reason": ["birth date is not a date", "unknown therapy code"]})
    >>> skipped_patients(ex, rej, pd.DataFrame({"patient_id": ["a", "b"]})).patient_id.tolist()
    ['b', 'c']
    """
    known = set(patients["patient_id"].astype(str))
    lost = rejects.loc[rejects["patient_id"].notna()].copy()
    lost["patient_id"] = lost["patient_id"].astype(str)
    lost = lost.loc[~lost["patient_id"].isin(known)].drop_duplicates("patient_id")
    lost = lost.assign(
        reason=lambda d: "record quarantined in harmonisation (" + d["table"].astype(str)
        + "): " + d["reason"].astype(str)
    )[["patient_id", "rule", "reason"]]  # fmt: skip
    out = pd.concat([exclusions[["patient_id", "rule", "reason"]], lost], ignore_index=True)
    return out.sort_values("patient_id", kind="stable").reset_index(drop=True)
