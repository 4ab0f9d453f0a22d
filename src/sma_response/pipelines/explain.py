"""Explanations, per-patient intervals and report inputs of a training run (issue #5).

:func:`explain_training_run` is the step ``run_training`` calls inside its MLflow run, after
evaluation. From the fitted fold models and the final model it computes

1. SHAP values of every out-of-fold prediction (each fold model on its held-out rows) and of
   the final model on every row, checked for additivity and against the logged predictions;
2. global and per-region importance, with bar, beeswarm, per-region and dependence plots;
3. the predicted change on the outcome scale (the run's model for a ``delta`` target, a
   companion regressor of the same family for a ``responder`` target) with split-conformal
   intervals whose held-out coverage is measured per region and per scale;
4. the model's estimate under each therapy option (held-out fold models);
5. the :class:`~sma_response.report.basis.ReportBasis` (aggregates only);

logs all of it, and writes example reports. :func:`score_patients` does 3-5 for new patients
with the final models; both feed :mod:`sma_response.pipelines.report`.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from sma_response.cohort.spec import MEANINGFUL_CHANGE
from sma_response.evaluate.conformal import (
    ConformalQuantiles,
    conformal_interval,
    coverage_table,
    cross_conformal,
    fit_conformal,
    gain_probability,
)
from sma_response.explain.plots import (
    plot_beeswarm,
    plot_dependence,
    plot_group_importance,
    plot_importance_bar,
)
from sma_response.explain.shap_values import AdditivityError, explain, resolve_method
from sma_response.explain.spec import ExplainSpec
from sma_response.explain.summarise import global_importance, group_importance
from sma_response.models.fit import CVResult, fit_cv, fit_final, predict
from sma_response.report.basis import ReportBasis, cohort_profile, subgroup_counts
from sma_response.report.spec import ReportSpec
from sma_response.schemas import SCALE_RANGES, ShapValues

__all__ = [
    "ExplainOutcome",
    "ReportInputs",
    "explain_training_run",
    "outcome_frame",
    "score_patients",
]

log = logging.getLogger(__name__)

#: Number of motor milestones (the range of a milestone-gain "scale").
_N_MILESTONES = 4.0
#: Largest gap allowed between SHAP-implied and logged out-of-fold predictions.
_PREDICTION_TOLERANCE = 1e-4


@dataclass
class ReportInputs:
    """Per-patient inputs of reports (keyed by pseudonymous ``index_id`` only).

    Attributes
    ----------
    patients
        ``index_id, patient_id, region, scale, baseline_score, probability, expected_change,
        lower, upper, interval_key, source``.
    alternatives
        ``index_id, therapy, probability, expected_change``.
    shap
        Long SHAP values (``ShapValues``) of the predictions in ``patients``.
    """

    patients: pd.DataFrame
    alternatives: pd.DataFrame
    shap: pd.DataFrame


@dataclass
class ExplainOutcome:
    """What the training-run step produced."""

    basis: ReportBasis
    inputs: ReportInputs
    importance: pd.DataFrame
    coverage: pd.DataFrame
    report_paths: list[Path]
    seconds: float
    fit_seconds: float = 0.0  # fitting the change model (classification runs)


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
    ranges = {**SCALE_RANGES, "milestones": (0.0, _N_MILESTONES)}
    base = pd.to_numeric(base, errors="coerce").astype(float)
    lo = np.array([ranges.get(s, (np.nan, np.nan))[0] if s else np.nan for s in scale], dtype=float)
    hi = np.array([ranges.get(s, (np.nan, np.nan))[1] if s else np.nan for s in scale], dtype=float)
    return pd.DataFrame(
        {
            "scale": scale.to_numpy(dtype=object),
            "baseline_score": base.to_numpy(),
            "lower_limit": np.where(np.isfinite(base), lo - base, -np.inf),
            "upper_limit": np.where(np.isfinite(base), hi - base, np.inf),
        },
        index=features.index,
    )


def _meaningful(scales: pd.Series) -> np.ndarray:
    table = {**MEANINGFUL_CHANGE, "milestones": 1.0}
    return np.array([table.get(s, np.nan) if s else np.nan for s in scales], dtype=float)


def _with_therapy(X: pd.DataFrame, therapy: str) -> pd.DataFrame:
    dtype = X["therapy"].dtype
    return X.assign(therapy=pd.Categorical([therapy] * len(X), dtype=dtype))


def _therapies(X: pd.DataFrame) -> list[str]:
    if "therapy" not in X or not isinstance(X["therapy"].dtype, pd.CategoricalDtype):
        return []
    return [str(c) for c in X["therapy"].cat.categories]


def _predict_outcome(
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
        prob = gain_probability(
            change, outcome["scale"].to_numpy(), _meaningful(outcome["scale"]), quantiles=quantiles
        )
    return prob, change


def _alternatives(
    model: Pipeline,
    change_model: Pipeline,
    X: pd.DataFrame,
    outcome: pd.DataFrame,
    *,
    task: str,
    quantiles: ConformalQuantiles,
) -> pd.DataFrame:
    cols = ["index_id", "therapy", "probability", "expected_change"]
    therapies = _therapies(X)
    if not therapies:
        return pd.DataFrame(columns=cols)
    # Every row under every therapy in one frame: one prediction call per model.
    stacked = pd.concat([_with_therapy(X, t) for t in therapies])
    prob, change = _predict_outcome(
        model,
        change_model,
        stacked,
        pd.concat([outcome] * len(therapies)),
        task=task,
        quantiles=quantiles,
    )
    return pd.DataFrame(
        {
            "index_id": np.tile(X.index.astype(str).to_numpy(), len(therapies)),
            "therapy": np.repeat(therapies, len(X)),
            "probability": prob,
            "expected_change": change,
        },
        columns=cols,
    )


def _check_against_predictions(
    shap_oof: pd.DataFrame, predictions: pd.DataFrame, task: str
) -> None:
    """SHAP values of each fold must reproduce that fold's logged out-of-fold prediction."""
    margin = shap_oof.groupby(["repeat", "index_id"], sort=False).agg(
        shap=("shap", "sum"), base=("base_value", "first")
    )
    implied = margin["shap"] + margin["base"]
    implied = expit(implied) if task == "classification" else implied
    logged = predictions.set_index(["repeat", "index_id"])["y_pred"].reindex(implied.index)
    gap = float(np.nanmax(np.abs(implied.to_numpy() - logged.to_numpy()))) if len(implied) else 0.0
    if not np.isfinite(gap) or gap > _PREDICTION_TOLERANCE:
        msg = f"out-of-fold SHAP values do not reproduce the logged predictions (gap {gap:.3g})"
        raise AdditivityError(msg)


def _held_out_rows(splits: pd.DataFrame, repeat: int, fold: int) -> pd.Index:
    rows = splits.loc[(splits["repeat"] == repeat) & (splits["fold"] == fold), "index_id"]
    return pd.Index(rows.astype(str))


def _performance_rows(
    subgroups: pd.DataFrame, first: pd.DataFrame, groups: pd.DataFrame
) -> list[dict[str, Any]]:
    per = first.set_index("index_id")[["y_true", "y_pred"]]
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
                "mean_predicted": pred,
                "mean_observed": obs,
            }
        )
        rows.append(clean)
    return rows


def explain_training_run(
    run: Any,
    *,
    features: pd.DataFrame,
    targets: pd.DataFrame,
    cohort: pd.DataFrame,
    groups: pd.DataFrame,
    splits: pd.DataFrame,
    cv: CVResult,
    final: Pipeline,
    change_estimator: BaseEstimator | None,
    preprocess_kind: str,
    subgroups: pd.DataFrame,
    task: str,
    target_kind: str,
    target_scale: str | None,
    model_name: str,
    explain_spec: ExplainSpec,
    report_spec: ReportSpec,
    provenance: dict[str, Any],
    created: str,
    pip_requirements: list[str],
) -> ExplainOutcome:
    """Explain a training run, measure interval coverage, log everything and example reports.

    Parameters
    ----------
    run
        The open :class:`~sma_response.tracking.run.RunLogger`.
    features, targets, cohort, groups, splits
        The run's feature frame (indexed by ``index_id``), labels, cohort, subgroups and folds.
    cv
        Cross-validation result with the fold models (``keep_models=True``).
    final
        The final pipeline.
    change_estimator
        Unfitted regressor of the same family, fitted on the change for a classification run
        (``None`` for a regression run: the run's model predicts the change itself).
    preprocess_kind
        Preprocessing of the run's model.
    subgroups
        Subgroup metrics of the run (``evaluate.subgroup_metrics``).
    task, target_kind, target_scale, model_name
        What the run predicts, with which model.
    explain_spec, report_spec
        Settings.
    provenance
        ``run_id, model_uri, model_version, data_digest, git_sha, package_version``.
    created
        Date of the run (ISO).
    pip_requirements
        Requirements of the logged change model.

    Returns
    -------
    ExplainOutcome
    """
    from sma_response.pipelines.report import write_reports

    started = time.perf_counter()
    if not cv.models:
        msg = "explain: the cross-validation kept no fold models (fit_cv(keep_models=True))"
        raise ValueError(msg)
    first_repeat = int(cv.predictions["repeat"].min())
    method = resolve_method(final[-1], method=explain_spec.method)
    spec = ExplainSpec(**{**asdict(explain_spec), "method": method})

    # 1. SHAP: every out-of-fold prediction, and the final model on every row.
    shap_parts = []
    for (repeat, fold), model in sorted(cv.models.items()):
        rows = _held_out_rows(splits, repeat, fold)
        shap_parts.append(
            explain(model, features.loc[rows], spec=spec).assign(repeat=repeat, fold=fold)
        )
    shap_oof = ShapValues.validate(pd.concat(shap_parts, ignore_index=True), lazy=True)
    _check_against_predictions(shap_oof, cv.predictions, task)
    shap_final = ShapValues.validate(explain(final, features, spec=spec), lazy=True)
    shap_first = shap_oof.loc[shap_oof["repeat"] == first_repeat]
    t_shap = time.perf_counter() - started

    # 2. Importance and plots (held-out SHAP values, as metrics use held-out predictions).
    importance = global_importance(shap_first)
    by_region = group_importance(shap_first, groups["region"].rename("region"))
    # 3. Change model and conformal intervals.
    outcome = outcome_frame(features, target_kind=target_kind, target_scale=target_scale)
    if task == "classification":
        if change_estimator is None:
            msg = "explain: a classification run needs a change_estimator for the expected change"
            raise ValueError(msg)
        t_fit = time.perf_counter()
        change = (
            targets.set_index("index_id")["outcome_score"]
            - targets.set_index("index_id")["baseline_score"]
        ).reindex(features.index)
        change_cv = fit_cv(
            features,
            change,
            splits,
            estimator=change_estimator,
            preprocess_kind=preprocess_kind,
            task="regression",
            keep_models=True,
        )
        change_final = fit_final(
            features, change, estimator=change_estimator, preprocess_kind=preprocess_kind
        )
        fit_seconds = time.perf_counter() - t_fit
    else:
        fit_seconds = 0.0
        change_cv, change_final = cv, final
    held = change_cv.predictions.loc[change_cv.predictions["repeat"] == first_repeat]
    held = held.join(outcome, on="index_id")
    level, min_n = report_spec.interval_level, report_spec.interval_min_n
    intervals = cross_conformal(held, level=level, min_n=min_n)
    quantiles = fit_conformal(
        (held["y_true"] - held["y_pred"]).to_numpy(),
        held["scale"].to_numpy(dtype=object),
        level=level,
        min_n=min_n,
    )
    cov_groups = groups[["region"]].join(outcome[["scale"]].astype(object).fillna("unknown"))
    coverage = coverage_table(intervals, cov_groups)

    # 4. Held-out probability, change and interval per index event; alternatives per therapy.
    main_first = cv.predictions.loc[cv.predictions["repeat"] == first_repeat].set_index("index_id")
    change_pred = held.set_index("index_id")["y_pred"]
    iv = intervals.set_index("index_id")
    ids = main_first.index
    if task == "classification":
        prob = main_first["y_pred"]
    else:
        prob = pd.Series(
            gain_probability(
                change_pred.reindex(ids).to_numpy(),
                outcome.loc[ids, "scale"].to_numpy(),
                _meaningful(outcome.loc[ids, "scale"]),
                quantiles=quantiles,
            ),
            index=ids,
        )
    cohort_i = cohort.set_index(cohort["index_id"].astype(str))
    patients = pd.DataFrame(
        {
            "index_id": ids.astype(str),
            "patient_id": cohort_i.loc[ids, "patient_id"].astype(str).to_numpy(),
            "region": cohort_i.loc[ids, "region"].astype(str).to_numpy(),
            "scale": outcome.loc[ids, "scale"].to_numpy(dtype=object),
            "baseline_score": outcome.loc[ids, "baseline_score"].to_numpy(dtype=float),
            "probability": prob.reindex(ids).to_numpy(dtype=float),
            "expected_change": change_pred.reindex(ids).to_numpy(dtype=float),
            "lower": iv["lower"].reindex(ids).to_numpy(dtype=float),
            "upper": iv["upper"].reindex(ids).to_numpy(dtype=float),
            "interval_key": [quantiles.key(s) for s in outcome.loc[ids, "scale"]],
            "source": "held_out",
        }
    )
    alt_parts = []
    for (repeat, fold), model in sorted(cv.models.items()):
        if repeat != first_repeat:
            continue
        rows = _held_out_rows(splits, repeat, fold)
        alt_parts.append(
            _alternatives(
                model,
                change_cv.models[(repeat, fold)],
                features.loc[rows],
                outcome.loc[rows],
                task=task,
                quantiles=quantiles,
            )
        )
    alternatives = pd.concat(alt_parts, ignore_index=True)

    # 5. Basis (aggregates only) and logging.
    explain_info = {
        **asdict(explain_spec),
        "method_used": method,
        "background": "none (tree_path_dependent)",
    }
    basis = ReportBasis(
        task=task,
        target_kind=target_kind,
        target_scale=target_scale,
        model_name=model_name,
        provenance={**provenance, "model_name": model_name},
        explain=explain_info,
        interval=quantiles.to_dict(),
        coverage=coverage.to_dict("records"),
        profile=cohort_profile(features),
        counts=subgroup_counts(groups.reindex(features.index)),
        performance=_performance_rows(subgroups, main_first.reset_index(), groups),
        importance=importance.to_dict("records"),
        therapies=_therapies(features),
    )
    inputs = ReportInputs(patients=patients, alternatives=alternatives, shap=shap_first)
    run.log_table(shap_oof, "explain/shap_oof.parquet")
    run.log_table(shap_final, "explain/shap_final.parquet")
    run.log_table(importance, "explain/importance.csv")
    run.log_table(global_importance(shap_final), "explain/importance_final_model.csv")
    run.log_table(by_region.reset_index(), "explain/importance_by_region.csv")
    run.log_dict(explain_info, "explain/spec.json")
    run.set_tags({"explain.method_used": method})
    _log_plots(run, shap_first, features, groups, importance, spec=explain_spec, task=task)
    run.log_table(coverage, "evaluation/interval_coverage.csv")
    run.log_metrics(_coverage_metrics(coverage, level))
    run.log_text(basis.to_json(), "report/basis.json")
    run.log_table(patients, "report/patients.parquet")
    run.log_table(alternatives, "report/alternatives.parquet")
    if task == "classification" and provenance.get("model_uri"):
        run.log_model(
            change_final,
            input_example=features.head(5),
            pip_requirements=pip_requirements,
            metadata={"task": "regression", "target": "change_on_outcome_scale"},
            name="change_model",
            register=False,
        )
    t_reports = time.perf_counter()
    paths: list[Path] = []
    if report_spec.enabled and report_spec.n_examples > 0:
        with tempfile.TemporaryDirectory() as tmp:
            chosen = example_ids(patients, n=report_spec.n_examples, task=task)
            paths = write_reports(
                inputs,
                basis=basis,
                index_ids=chosen,
                folder=Path(tmp),
                spec=report_spec,
                created=created,
            )
            run.log_artifacts(Path(tmp), "reports")
            paths = [Path("reports") / p.name for p in paths]
    seconds = time.perf_counter() - started
    run.log_metrics(
        {
            "timing/shap_seconds": t_shap,
            "timing/example_reports_seconds": time.perf_counter() - t_reports,
            "timing/explain_seconds": seconds,
        }
    )
    log.info(
        "explain: SHAP %.1f s, whole step %.1f s; %d example reports", t_shap, seconds, len(paths)
    )
    return ExplainOutcome(
        basis=basis,
        inputs=inputs,
        importance=importance,
        coverage=coverage,
        report_paths=paths,
        seconds=seconds,
        fit_seconds=fit_seconds,
    )


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


def _coverage_metrics(coverage: pd.DataFrame, level: float) -> dict[str, float]:
    out = {"interval/level": level}
    for r in coverage.itertuples(index=False):
        key = (
            "interval/coverage"
            if r.variable == "overall"
            else f"interval/coverage/{r.variable}/{r.level}"
        )
        out[key] = float(r.coverage)
        if r.variable == "overall":
            out["interval/mean_width"] = float(r.mean_width)
    return out


def _log_plots(
    run: Any,
    shap_first: pd.DataFrame,
    features: pd.DataFrame,
    groups: pd.DataFrame,
    importance: pd.DataFrame,
    *,
    spec: ExplainSpec,
    task: str,
) -> None:
    import matplotlib.pyplot as plt

    figures = {
        "explain/plots/importance_bar.png": plot_importance_bar(
            shap_first, n_top=spec.n_top, task=task
        ),
        "explain/plots/beeswarm.png": plot_beeswarm(
            shap_first, features, n_top=spec.n_top, task=task
        ),
        "explain/plots/importance_by_region.png": plot_group_importance(
            shap_first, groups["region"].rename("region"), n_top=spec.n_top, task=task
        ),
    }
    for feature in importance["feature"].head(spec.n_dependence):
        figures[f"explain/plots/dependence_{feature}.png"] = plot_dependence(
            shap_first, features, feature=str(feature), task=task
        )
    for path, fig in figures.items():
        run.log_figure(fig, path)
        plt.close(fig)


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
    prob, change = _predict_outcome(
        model, change_model, X, outcome, task=basis.task, quantiles=quantiles
    )
    iv = conformal_interval(
        change,
        outcome["scale"].to_numpy(dtype=object),
        quantiles=quantiles,
        lower_limit=outcome["lower_limit"].to_numpy(),
        upper_limit=outcome["upper_limit"].to_numpy(),
    )
    keys = {f.name for f in ExplainSpec.__dataclass_fields__.values()}
    spec = ExplainSpec(**{k: v for k, v in basis.explain.items() if k in keys})
    cohort_i = cohort.set_index(cohort["index_id"].astype(str)).reindex(X.index.astype(str))
    patients = pd.DataFrame(
        {
            "index_id": X.index.astype(str),
            "patient_id": cohort_i["patient_id"].astype(str).to_numpy(),
            "region": cohort_i["region"].astype(str).to_numpy(),
            "scale": outcome["scale"].to_numpy(dtype=object),
            "baseline_score": outcome["baseline_score"].to_numpy(dtype=float),
            "probability": prob,
            "expected_change": change,
            "lower": iv["lower"].to_numpy(),
            "upper": iv["upper"].to_numpy(),
            "interval_key": iv["key"].to_numpy(),
            "source": "new",
        }
    )
    return ReportInputs(
        patients=patients,
        alternatives=_alternatives(
            model, change_model, X, outcome, task=basis.task, quantiles=quantiles
        ),
        shap=explain(model, X, spec=spec),
    )
