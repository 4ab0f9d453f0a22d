"""A run's held-out evaluation in one call: metrics, baseline comparison, oracle, subgroups."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from sma_response.evaluate.dropout import EstimandBias
from sma_response.evaluate.metrics import (
    compare_models,
    compute_metrics,
    model_vs_oracle,
    not_estimable,
    oracle_metrics,
)
from sma_response.evaluate.samplesize import SampleSize, run_sample_size
from sma_response.evaluate.subgroups import subgroup_metrics
from sma_response.evaluate.uncertainty import patient_clusters
from sma_response.features.design import Design
from sma_response.models.fit import predict

__all__ = [
    "InternalExternal",
    "RunEvaluation",
    "confirmation_metrics",
    "evaluate_run",
    "first_repeat",
    "held_out_regions",
    "internal_external",
]

#: Metrics of the internal-external (leave-one-region-out) estimate, per held-out region.
INTERNAL_EXTERNAL_KEYS = {
    "classification": ("auroc", "auprc", "brier", "calibration_intercept", "calibration_slope"),
    "regression": ("rmse", "mae", "r2", "calibration_intercept", "calibration_slope"),
}


@dataclass
class InternalExternal:
    """Leave-one-region-out performance: pooled over the held-out regions, and per region.

    The point estimates only (no bootstrap: a second set of intervals would double the
    evaluation time); the spread across held-out regions is the figure to read, since a new
    site is one more region.
    """

    pooled: dict[str, float]
    regions: pd.DataFrame  # region, n, n_events, one column per key

    def metrics(self) -> dict[str, float]:
        """``loro/<key>`` pooled, ``loro/<key>_min`` and ``_max`` across held-out regions."""
        out = {f"loro/{k}": float(v) for k, v in self.pooled.items()}
        out["loro/n_regions"] = float(len(self.regions))
        for key in self.pooled:
            values = self.regions[key].to_numpy(dtype=float)
            if np.isfinite(values).any():
                out[f"loro/{key}_min"] = float(np.nanmin(values))
                out[f"loro/{key}_max"] = float(np.nanmax(values))
        return out


def internal_external(
    predictions: pd.DataFrame, regions: pd.Series, *, task: str
) -> InternalExternal:
    """Score leave-one-region-out predictions pooled and per held-out region.

    Parameters
    ----------
    predictions
        ``index_id, y_true, y_pred`` of a leave-one-region-out fit
        (:func:`sma_response.models.fit.fit_internal_external`).
    regions
        The region of each ``index_id`` (indexed by it).
    task
        ``classification`` or ``regression``.

    Examples
    --------
    >>> pred = pd.DataFrame({"index_id": list("abcdef"), "y_true": [0, 1, 0, 1, 0, 1.0],
    ...                      "y_pred": [0.2, 0.9, 0.1, 0.7, 0.6, 0.4]})
    >>> region = pd.Series(list("XXXYYY"), index=list("abcdef"))
    >>> ie = internal_external(pred, region, task="classification")
    >>> ie.regions[["region", "n", "auroc"]].values.tolist()
    [['X', 3, 1.0], ['Y', 3, 0.5]]
    """
    keys = INTERNAL_EXTERNAL_KEYS[task]
    rng = np.random.default_rng(0)  # unused: no bootstrap
    y, p = predictions["y_true"].to_numpy(float), predictions["y_pred"].to_numpy(float)
    pooled = compute_metrics(y, p, task=task, rng=rng, n_boot=0)
    held_out = regions.reindex(predictions["index_id"]).astype(str).to_numpy()
    rows = []
    for region in sorted(set(held_out)):
        mask = held_out == region
        m = compute_metrics(y[mask], p[mask], task=task, rng=rng, n_boot=0)
        events = int(y[mask].sum()) if task == "classification" else None
        rows.append({"region": region, "n": int(mask.sum()), "n_events": events})
        rows[-1].update({k: m[k] for k in keys})
    return InternalExternal(pooled={k: pooled[k] for k in keys}, regions=pd.DataFrame(rows))


@dataclass
class RunEvaluation:
    """Held-out performance of a run (every interval a bootstrap interval)."""

    metrics: dict[str, float]
    subgroups: pd.DataFrame
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    comparison: dict[str, float] = field(default_factory=dict)  # model minus baseline, paired
    oracle: dict[str, float] = field(default_factory=dict)
    sample_size: SampleSize | str | None = None  # Riley's criteria, or why not computed
    not_estimable: dict[str, str] = field(default_factory=dict)  # NaN figure -> why
    estimand: EstimandBias | None = None  # the cohort's rate under drop-out (evaluate.drop_out)
    internal_external: InternalExternal | None = None  # leave-one-region-out, beside cv/
    weighted: dict[str, float] = field(default_factory=dict)  # ipcw/*: weighted to the eligible
    confirmation: dict[str, float] = field(default_factory=dict)  # confirm/*: reserved persons

    def logged_metrics(self) -> dict[str, float]:
        """Return the metrics to log (cv/, baseline/, comparison/, oracle/, estimand/, ipcw/...)."""
        blocks = {
            "cv": self.metrics,
            "baseline": self.baseline_metrics,
            "comparison": self.comparison,  # model minus baseline
            "oracle": self.oracle,
        }
        out = {
            f"{prefix}/{k}": v
            for prefix, block in blocks.items()
            for k, v in block.items()
            if isinstance(v, int | float)
        }
        if isinstance(self.sample_size, SampleSize):
            out.update(self.sample_size.metrics())
        if self.estimand is not None:
            out.update(self.estimand.metrics())
        if self.internal_external is not None:
            out.update(self.internal_external.metrics())
        out.update(self.weighted)
        out.update(self.confirmation)
        return out


def first_repeat(predictions: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of the first repeat of (repeated) cross-validation.

    Examples
    --------
    >>> p = pd.DataFrame({"repeat": [1, 0, 1], "y_pred": [0.1, 0.2, 0.3]})
    >>> first_repeat(p)["y_pred"].tolist()
    [0.2]
    """
    return predictions.loc[predictions["repeat"] == predictions["repeat"].min()]


def _oracle_block(
    first: pd.DataFrame, oracle: pd.Series, *, task: str, rng: np.random.Generator, n_boot: int
) -> dict[str, float]:
    rows = (
        first.set_index("index_id")
        .join(oracle.rename("oracle"), how="inner")
        .dropna(subset=["oracle"])
    )
    out = oracle_metrics(
        rows["y_true"].to_numpy(), rows["oracle"].to_numpy(), task=task, rng=rng, n_boot=n_boot,
        clusters=patient_clusters(rows.index),
    )  # fmt: skip
    same_rows = compute_metrics(
        rows["y_true"].to_numpy(), rows["y_pred"].to_numpy(), task=task, rng=rng, n_boot=0
    )
    out.update(
        {
            f"model_same_rows_{k}": v
            for k, v in same_rows.items()
            if not k.endswith(("_low", "_high"))
        }
    )
    out.update(model_vs_oracle(same_rows, out))
    out["coverage"] = len(rows) / max(len(first), 1)
    return out


def evaluate_run(
    predictions: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    task: str,
    seed: int,
    n_boot: int,
    min_subgroup_n: int,
    imprecise_events: int = 100,
    baseline: pd.DataFrame | None = None,
    oracle: pd.Series | None = None,
    features: pd.DataFrame | None = None,
) -> RunEvaluation:
    """Evaluate a run's first-repeat held-out predictions.

    Parameters
    ----------
    predictions
        Out-of-fold predictions of the run's model (``index_id, repeat, y_true, y_pred``).
    groups
        Subgroup variables indexed by ``index_id`` (``evaluate.make_subgroups``).
    task, seed, n_boot, min_subgroup_n, imprecise_events
        Task, bootstrap seed and size, smallest subgroup with its own interval, fewest events
        or non-events of a subgroup not flagged imprecise.
    baseline
        Out-of-fold predictions of the comparator on the same folds (paired comparison).
    oracle
        The oracle's prediction per ``index_id`` (``evaluate.oracle.join_oracle``).
    features
        The run's feature frame: with it, Riley's minimum sample size criteria
        (:mod:`sma_response.evaluate.samplesize`) from the held-out predictions.

    Returns
    -------
    RunEvaluation
        One random stream (``seed``) drawn in a fixed order, so the result is reproducible.
    """
    rng = np.random.default_rng(seed)
    first = first_repeat(predictions)
    y, p = first["y_true"].to_numpy(), first["y_pred"].to_numpy()
    clusters = patient_clusters(first["index_id"])  # resample patients, not index events
    result = RunEvaluation(
        metrics=compute_metrics(y, p, task=task, rng=rng, n_boot=n_boot, clusters=clusters),
        subgroups=pd.DataFrame(),
    )
    reasons = {f"cv/{k}": v for k, v in not_estimable(result.metrics, y, p, task=task).items()}
    if baseline is not None:
        b = first_repeat(baseline)
        yb, pb = b["y_true"].to_numpy(), b["y_pred"].to_numpy()
        result.baseline_metrics = compute_metrics(
            yb, pb, task=task, rng=rng, n_boot=n_boot, clusters=patient_clusters(b["index_id"])
        )
        base_reasons = not_estimable(result.baseline_metrics, yb, pb, task=task)
        reasons.update({f"baseline/{k}": v for k, v in base_reasons.items()})
        # Model minus baseline on the same held-out rows and bootstrap resamples (paired).
        paired = first.merge(b[["index_id", "y_pred"]], on="index_id", suffixes=("", "_base"))
        result.comparison = compare_models(
            paired["y_true"].to_numpy(),
            paired["y_pred"].to_numpy(),
            paired["y_pred_base"].to_numpy(),
            task=task,
            rng=rng,
            n_boot=n_boot,
            clusters=patient_clusters(paired["index_id"]),
        )
    if oracle is not None and len(oracle) > 0:
        result.oracle = _oracle_block(first, oracle, task=task, rng=rng, n_boot=n_boot)
    result.subgroups = subgroup_metrics(
        first, groups, task=task, rng=rng, min_n=min_subgroup_n, n_boot=n_boot,
        imprecise_events=imprecise_events, overall=result.metrics,
    )  # fmt: skip
    if features is not None:
        result.sample_size = run_sample_size(features, y, p, task=task)
    result.not_estimable = reasons
    return result


def confirmation_metrics(
    final: Pipeline, held: Design, *, task: str, seed: int, n_boot: int
) -> tuple[dict[str, float], dict[str, str]]:
    """Score the final model once on the reserved confirmation set (``confirm/*`` metrics).

    The persons of ``held`` were reserved before any split (``validation.confirmation``):
    neither the folds, the final model nor a sweep's selection saw them, so for a tuned model
    this is the held-out confirmation beside the folds' (selected-on) figures. Intervals
    resample whole patients. Returns the metrics and the reasons of those not estimable.
    """
    if held.y is None or len(held.X) == 0:
        return {}, {"confirm": "no index event was reserved"}
    y = held.y.to_numpy(dtype=float)
    p = predict(final, held.X, task=task)
    clusters = patient_clusters(held.X.index)
    rng = np.random.default_rng(seed)
    found = compute_metrics(y, p, task=task, rng=rng, n_boot=n_boot, clusters=clusters)
    metrics = {f"confirm/{k}": v for k, v in found.items()}
    metrics["confirm/n_persons"] = float(held.cohort["linked_id"].nunique())
    reasons = {f"confirm/{k}": v for k, v in not_estimable(found, y, p, task=task).items()}
    return metrics, reasons


def held_out_regions(ev: RunEvaluation, *, task: str, loro: bool) -> pd.DataFrame | None:
    """Each region's figure when it was held out: ``region, n, <key>[, _ci_low, _ci_high]``.

    With leave-one-region-out validation (``loro``) the run's own subgroup rows of the region
    (with their bootstrap intervals); otherwise the internal-external fit beside it (point
    estimates); ``None`` when the run has neither. ``<key>`` is ``auroc`` or ``rmse``.
    """
    key = "auroc" if task == "classification" else "rmse"
    if loro and not ev.subgroups.empty:
        rows = ev.subgroups.loc[ev.subgroups["variable"] == "region"]
        cols = ["level", "n", key, f"{key}_ci_low", f"{key}_ci_high"]
        return rows[[c for c in cols if c in rows]].rename(columns={"level": "region"})
    if ev.internal_external is not None:
        return ev.internal_external.regions[["region", "n", key]]
    return None
