"""Report inputs of a training run: the change model, its intervals and the report basis.

What the explain step of ``sma-train`` hands to the reports, computed from the run's design,
folds and models (no I/O, no tracking):

1. :func:`change_intervals`: the predicted change on the outcome scale (the run's model for a
   ``delta`` target, a companion regressor of the same family otherwise) with cross-conformal
   intervals whose held-out coverage is measured per region and per scale
   (:mod:`sma_response.evaluate.conformal`);
2. :func:`report_inputs`: the held-out report rows (probability, change and interval, and the
   estimate under each therapy option, :mod:`sma_response.report.inputs`) and the
   :class:`~sma_response.report.basis.ReportBasis` (aggregates only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from sma_response.effects import EffectsResult
from sma_response.evaluate.conformal import (
    QUINTILE_VARIABLE,
    ConformalQuantiles,
    coverage_table,
    cross_conformal,
    fit_conformal,
    interval_cells,
    predicted_quintiles,
)
from sma_response.features.design import Design, observed_change
from sma_response.models.fit import CVResult, fit_cv, fit_final
from sma_response.report.basis import ReportBasis, cohort_profile, subgroup_counts
from sma_response.report.inputs import (
    NO_EFFECTS_OPTIONS,
    ReportInputs,
    current_therapy,
    held_out_patients,
    performance_rows,
    therapy_options,
)
from sma_response.report.options import therapy_option_rows
from sma_response.report.spec import INTERVAL_GROUPS, ReportSpec

__all__ = [
    "ChangeIntervals",
    "RunToExplain",
    "change_intervals",
    "effects_basis",
    "report_inputs",
]


@dataclass
class RunToExplain:
    """What the training run hands to the explain step.

    Attributes
    ----------
    design
        The run's cohort, labels and feature frame (indexed by ``index_id``).
    groups, splits
        Subgroup variables (indexed by ``index_id``) and validation folds.
    cv, final
        Cross-validation result with the fold models (``keep_models=True``) and the final
        pipeline.
    subgroups
        Subgroup metrics of the run (``evaluate.subgroup_metrics``).
    change_estimator
        Unfitted regressor of the same family, fitted on the change for a classification run
        (``None`` for a regression run: the run's model predicts the change itself).
    preprocess_kind
        Preprocessing of the run's model.
    task, target_kind, target_scale, model_name
        What the run predicts, with which model.
    estimand
        The target's estimand (``target.estimand``).
    effects
        The run's per-therapy contrasts (``None``: not estimated); the reports' therapy options.
    """

    design: Design
    groups: pd.DataFrame
    splits: pd.DataFrame
    cv: CVResult
    final: Pipeline
    subgroups: pd.DataFrame
    change_estimator: BaseEstimator | None
    preprocess_kind: str
    task: str
    target_kind: str
    target_scale: str | None
    model_name: str
    estimand: str = "while_alive"
    effects: EffectsResult | None = None

    @property
    def first_repeat(self) -> int:
        """The repeat whose held-out predictions the reports and metrics use."""
        return int(self.cv.predictions["repeat"].min())


@dataclass
class ChangeIntervals:
    """The change models of a run, their held-out predictions and conformal intervals."""

    change_cv: CVResult
    change_final: Pipeline
    held: pd.DataFrame  # held-out change predictions (first repeat) with the outcome frame
    intervals: pd.DataFrame
    quantiles: ConformalQuantiles
    coverage: pd.DataFrame
    fit_seconds: float


def _change_models(run: RunToExplain) -> tuple[CVResult, Pipeline, float]:
    """Models of the change on the outcome scale (the run's own for a regression run)."""
    if run.task != "classification":
        return run.cv, run.final, 0.0
    if run.change_estimator is None:
        msg = "explain: a classification run needs a change_estimator for the expected change"
        raise ValueError(msg)
    if run.design.targets is None:
        msg = "explain: a classification run needs its targets for the expected change"
        raise ValueError(msg)
    started = time.perf_counter()
    X, kind, est = run.design.X, run.preprocess_kind, run.change_estimator
    change = observed_change(run.design.targets, X.index)
    # The change on the scale exists only where an outcome score was seen (not for a label set
    # by a death or a scale change): the change model is that of the change while alive.
    seen = change.notna()
    X, change = X.loc[seen.to_numpy()], change.loc[seen]
    splits = run.splits.loc[run.splits["index_id"].isin(X.index)]
    change_cv = fit_cv(
        X, change, splits, estimator=est, preprocess_kind=kind, task="regression",
        keep_models=True,
    )  # fmt: skip
    change_final = fit_final(X, change, estimator=est, preprocess_kind=kind)
    return change_cv, change_final, time.perf_counter() - started


def change_intervals(
    run: RunToExplain, outcome: pd.DataFrame, *, spec: ReportSpec
) -> ChangeIntervals:
    """Fit the change models and their cross-conformal intervals; measure held-out coverage.

    ``outcome`` is :func:`~sma_response.report.inputs.outcome_frame` of the run's features.
    """
    change_cv, change_final, fit_seconds = _change_models(run)
    held = change_cv.predictions.loc[change_cv.predictions["repeat"] == run.first_repeat]
    held = held.join(outcome, on="index_id")
    level, min_n, groups = spec.interval_level, spec.interval_min_n, list(spec.interval_groups)
    unknown = sorted(set(groups) - set(INTERVAL_GROUPS))
    if unknown:
        msg = f"report.interval_groups: unknown {unknown}; choose from {list(INTERVAL_GROUPS)}"
        raise ValueError(msg)
    intervals = cross_conformal(held, level=level, min_n=min_n, groups=groups)
    quantiles = fit_conformal(
        (held["y_true"] - held["y_pred"]).to_numpy(),
        interval_cells(held["scale"], held, groups),
        level=level,
        min_n=min_n,
        groups=groups,
    )
    cov_groups = run.groups[["region", "sma_type", "therapy", "age_band"]].join(
        outcome[["scale"]].astype(object).fillna("unknown")
    )
    # where the intervals fail is often where the prediction is extreme: by predicted change too
    quintiles = predicted_quintiles(held.set_index("index_id")["y_pred"])
    cov_groups = cov_groups.join(quintiles.rename(QUINTILE_VARIABLE))
    return ChangeIntervals(
        change_cv=change_cv,
        change_final=change_final,
        held=held,
        intervals=intervals,
        quantiles=quantiles,
        coverage=coverage_table(intervals, cov_groups),
        fit_seconds=fit_seconds,
    )


def effects_basis(effects: EffectsResult | None) -> dict[str, Any]:
    """Summarise the per-therapy contrasts for the reports: adjusted for, level, coverage.

    ``coverage`` is the measured coverage of the contrast intervals against the simulator's
    truth (synthetic data only; empty otherwise).
    """
    if effects is None:
        return {}
    return {
        "estimator": effects.spec.estimator,
        "level": effects.spec.interval_level,
        "min_propensity": effects.spec.min_propensity,
        "adjusted_for": list(effects.adjusted_for),  # feature names: labelled per language
        "coverage": {
            k.removeprefix("effects/").removesuffix("/coverage"): v
            for k, v in sorted(effects.metrics.items())
            if k.endswith("/coverage")
        },
    }


def report_inputs(
    run: RunToExplain,
    outcome: pd.DataFrame,
    iv: ChangeIntervals,
    shap_first: pd.DataFrame,
    importance: pd.DataFrame,
    explain_info: dict[str, Any],
    *,
    provenance: dict[str, Any],
) -> tuple[ReportInputs, ReportBasis]:
    """Return the held-out report rows, the estimate under each therapy and the report basis."""
    X, task = run.design.X, run.task
    preds = run.cv.predictions
    main_first = preds.loc[preds["repeat"] == run.first_repeat].set_index("index_id")
    patients = held_out_patients(
        main_first, iv.held, iv.intervals, run.design.cohort, outcome, task=task,
        quantiles=iv.quantiles,
    )  # fmt: skip
    alternatives = therapy_option_rows(
        patients, current_therapy(X), run.effects, unavailable=NO_EFFECTS_OPTIONS
    )
    basis = ReportBasis(
        task=task,
        target_kind=run.target_kind,
        target_scale=run.target_scale,
        model_name=run.model_name,
        estimand=run.estimand,
        provenance={**provenance, "model_name": run.model_name},
        explain=explain_info,
        interval=iv.quantiles.to_dict(),
        coverage=iv.coverage.to_dict("records"),
        profile=cohort_profile(X),
        counts=subgroup_counts(run.groups.reindex(X.index)),
        performance=performance_rows(run.subgroups, main_first.reset_index(), run.groups),
        importance=importance.to_dict("records"),
        therapies=therapy_options(X),
        effects=effects_basis(run.effects),
    )
    return ReportInputs(patients=patients, alternatives=alternatives, shap=shap_first), basis
