"""Cross-validated and final fits of ``Pipeline(preprocess, estimator)``.

Preprocessing (encoding, imputation, scaling) is part of the pipeline, so in cross-validation it
is fitted on the training folds only (STYLE rule 11). Estimators arrive unfitted and fully
configured (``random_state`` and ``n_jobs`` set by the caller); they are cloned, never changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.pipeline import Pipeline

from sma_response.features.preprocess import make_preprocessor
from sma_response.models.spec import TASKS, ValidationSpec
from sma_response.models.split import assign_splits

__all__ = [
    "PREDICTION_COLUMNS",
    "CVResult",
    "RunFits",
    "fit_cv",
    "fit_final",
    "fit_internal_external",
    "fit_run",
    "make_pipeline",
    "predict",
]

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = ("index_id", "repeat", "fold", "y_true", "y_pred")


@dataclass
class CVResult:
    """Out-of-fold predictions of a cross-validated fit.

    Attributes
    ----------
    predictions
        ``index_id, repeat, fold, y_true, y_pred`` (schema
        :class:`~sma_response.schemas.Predictions`): one row per held-out index event and
        repeat; ``y_pred`` is the probability of class 1 for classification.
    models
        ``{(repeat, fold): fitted Pipeline}`` when ``keep_models`` was set, else empty.
    fit_seconds
        Wall time of all fits and predictions.
    """

    predictions: pd.DataFrame
    models: dict[tuple[int, int], Pipeline] = field(default_factory=dict)
    fit_seconds: float = 0.0


def _check_task(estimator: BaseEstimator, task: str) -> None:
    if task not in TASKS:
        msg = f"task: unknown task {task!r}; expected one of {list(TASKS)}"
        raise ValueError(msg)
    if task == "classification" and not is_classifier(estimator):
        msg = f"task: 'classification' needs a classifier, got {type(estimator).__name__}"
        raise ValueError(msg)
    if task == "regression" and not is_regressor(estimator):
        msg = f"task: 'regression' needs a regressor, got {type(estimator).__name__}"
        raise ValueError(msg)


def _labels(y: pd.Series, task: str) -> pd.Series:
    if task == "classification":
        values = y.to_numpy(dtype=float)
        if not np.isin(values, (0.0, 1.0)).all():
            msg = "task: 'classification' needs a 0/1 target"
            raise ValueError(msg)
        return y.astype(np.int64)
    return y.astype(float)


def make_pipeline(dtypes: pd.Series, *, estimator: BaseEstimator, preprocess_kind: str) -> Pipeline:
    """Return an unfitted ``Pipeline([("preprocess", ...), ("model", clone(estimator))])``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"age": [1.0, 2.0]})
    >>> list(make_pipeline(X.dtypes, estimator=LogisticRegression(),
    ...                    preprocess_kind="linear").named_steps)
    ['preprocess', 'model']
    """
    return Pipeline(
        [
            ("preprocess", make_preprocessor(dtypes, kind=preprocess_kind)),
            ("model", clone(estimator)),
        ]
    )


def predict(model: Pipeline, X: pd.DataFrame, *, task: str) -> np.ndarray:
    """Predicted probability of class 1 (classification) or predicted value (regression).

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X, y = pd.DataFrame({"x": [0.0, 1.0, 2.0]}), pd.Series([0.0, 2.0, 4.0])
    >>> m = fit_final(X, y, estimator=LinearRegression(), preprocess_kind="tree")
    >>> predict(m, X, task="regression").round(6).tolist()
    [0.0, 2.0, 4.0]
    """
    if task == "classification":
        proba = model.predict_proba(X)
        positive = list(model.classes_).index(1)
        return np.asarray(proba[:, positive], dtype=float)
    return np.asarray(model.predict(X), dtype=float)


def _aligned(X: pd.DataFrame, y: pd.Series) -> pd.Series:
    y = pd.Series(y)
    if not y.index.equals(X.index):
        y = y.reindex(X.index)
    if y.isna().any():
        msg = f"y: {int(y.isna().sum())} index events of X have no target"
        raise ValueError(msg)
    return y


def fit_cv(
    X: pd.DataFrame,
    y: pd.Series,
    splits: pd.DataFrame,
    *,
    estimator: BaseEstimator,
    preprocess_kind: str,
    task: str,
    keep_models: bool = False,
    sample_weight: Mapping[tuple[int, int], pd.Series] | None = None,
) -> CVResult:
    """Fit one pipeline per repeat and fold, predict the held-out rows.

    Parameters
    ----------
    X
        Feature frame indexed by ``index_id`` (may hold unlabelled index events too).
    y
        Target indexed by ``index_id``; every row of ``X`` that is in ``splits`` needs one.
    splits
        ``index_id, repeat, fold`` from :func:`~sma_response.models.split.assign_splits`;
        rows of ``X`` not in ``splits`` are not used. Rows with ``fold == -1`` only train.
    estimator
        Unfitted scikit-learn-compatible estimator (cloned per fold).
    preprocess_kind
        ``tree`` or ``linear`` (see :func:`~sma_response.features.preprocess.make_preprocessor`).
    task
        ``classification`` (binary, 0/1 target) or ``regression``.
    keep_models
        Keep every fitted fold pipeline in the result.
    sample_weight
        ``{(repeat, fold): weights by index_id}`` of each fold's training rows (the
        estimator's ``sample_weight``; e.g. IPC weights fitted inside that training part);
        ``None``: unweighted.

    Returns
    -------
    CVResult
        Out-of-fold predictions, ordered by repeat, fold and then as in ``splits``.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"x": np.arange(6.0)}, index=[f"p{i}#1" for i in range(6)])
    >>> y = pd.Series(2 * X["x"], index=X.index)
    >>> splits = pd.DataFrame({"index_id": X.index, "repeat": 0, "fold": [0, 1, 2] * 2})
    >>> cv = fit_cv(X, y, splits, estimator=LinearRegression(), preprocess_kind="tree",
    ...             task="regression")
    >>> bool(np.allclose(cv.predictions["y_pred"], cv.predictions["y_true"]))
    True
    """
    _check_task(estimator, task)
    X = X.loc[X.index.isin(splits["index_id"])]  # rows outside the splits are not used
    y = _labels(_aligned(X, y), task)
    splits = splits.loc[splits["index_id"].isin(X.index)]
    position = pd.Series(np.arange(len(X)), index=X.index)
    frames = []
    models: dict[tuple[int, int], Pipeline] = {}
    start = time.perf_counter()
    for repeat, part in splits.groupby("repeat", sort=True):
        folds = sorted(f for f in part["fold"].unique() if f >= 0)
        for fold in folds:
            test_ids = part.loc[part["fold"] == fold, "index_id"]
            train_ids = part.loc[part["fold"] != fold, "index_id"]
            train = position[train_ids].to_numpy()
            test = position[test_ids].to_numpy()
            model = make_pipeline(X.dtypes, estimator=estimator, preprocess_kind=preprocess_kind)
            weights = None if sample_weight is None else sample_weight[(int(repeat), int(fold))]
            model.fit(X.iloc[train], y.iloc[train], **_weight_param(weights, X.index[train]))
            frames.append(
                pd.DataFrame(
                    {
                        "index_id": X.index[test].astype(str),
                        "repeat": int(repeat),
                        "fold": int(fold),
                        "y_true": y.iloc[test].to_numpy(dtype=float),
                        "y_pred": predict(model, X.iloc[test], task=task),
                    }
                )
            )
            if keep_models:
                models[(int(repeat), int(fold))] = model
    seconds = time.perf_counter() - start
    predictions = pd.concat(frames, ignore_index=True)
    predictions = predictions.assign(
        repeat=predictions["repeat"].astype(np.int64), fold=predictions["fold"].astype(np.int64)
    )
    log.info(
        "fit_cv: %s with %s preprocessing, %d fits, %d out-of-fold predictions in %.1f s",
        type(estimator).__name__,
        preprocess_kind,
        len(frames),
        len(predictions),
        seconds,
    )
    return CVResult(predictions=predictions, models=models, fit_seconds=seconds)


def _weight_param(weights: pd.Series | None, rows: pd.Index) -> dict[str, np.ndarray]:
    """Return the ``fit`` keyword that hands ``weights`` (by index id) to the estimator."""
    if weights is None:
        return {}
    w = weights.reindex(rows)
    if w.isna().any():
        msg = f"sample_weight: {int(w.isna().sum())} training rows have no weight"
        raise ValueError(msg)
    return {"model__sample_weight": w.to_numpy(dtype=float)}


def fit_final(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    estimator: BaseEstimator,
    preprocess_kind: str,
    sample_weight: pd.Series | None = None,
) -> Pipeline:
    """Fit the pipeline on every row (the model to ship; evaluate it with :func:`fit_cv`).

    Parameters
    ----------
    X
        Feature frame indexed by ``index_id``.
    y
        Target aligned to ``X`` by index; a 0/1 target of a classifier is cast to integers.
    estimator
        Unfitted estimator (cloned).
    preprocess_kind
        ``tree`` or ``linear``.
    sample_weight
        Weight of each row by index id (``None``: unweighted).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted ``Pipeline([("preprocess", ...), ("model", ...)])``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> m = fit_final(X, pd.Series([0, 0, 1, 1]), estimator=LogisticRegression(),
    ...               preprocess_kind="linear")
    >>> m.predict(X).tolist()
    [0, 0, 1, 1]
    """
    task = "classification" if is_classifier(estimator) else "regression"
    target = _labels(_aligned(X, y), task)
    model = make_pipeline(X.dtypes, estimator=estimator, preprocess_kind=preprocess_kind)
    return model.fit(X, target, **_weight_param(sample_weight, X.index))


@dataclass
class RunFits:
    """The fitted models of a training run: cross-validated, final, and the comparator's."""

    splits: pd.DataFrame
    cv: CVResult
    final: Pipeline
    baseline_cv: CVResult | None
    fit_seconds: float  # cross-validation and final fit of the run's model
    baseline_seconds: float
    internal_external: CVResult | str | None = None  # leave-one-region-out, or why not


def fit_run(
    X: pd.DataFrame,
    y: pd.Series,
    splits: pd.DataFrame,
    *,
    estimator: BaseEstimator,
    preprocess_kind: str,
    task: str,
    keep_models: bool,
    baseline: tuple[BaseEstimator, str] | None = None,
    weights: tuple[Mapping[tuple[int, int], pd.Series], pd.Series] | None = None,
) -> RunFits:
    """Cross-validate and refit the run's model; cross-validate the comparator on the same folds.

    ``baseline`` is the comparator's estimator and preprocessing (``None``: no comparator);
    ``keep_models`` keeps the fold models (SHAP of every out-of-fold prediction); ``weights``
    are each fold's training weights and the final model's (both models use them).
    """
    fold_w, final_w = weights if weights is not None else (None, None)
    t = time.perf_counter()
    cv = fit_cv(
        X, y, splits, estimator=estimator, preprocess_kind=preprocess_kind, task=task,
        keep_models=keep_models, sample_weight=fold_w,
    )  # fmt: skip
    final = fit_final(
        X, y, estimator=estimator, preprocess_kind=preprocess_kind, sample_weight=final_w
    )
    fit_seconds = time.perf_counter() - t
    t = time.perf_counter()
    baseline_cv = None
    if baseline is not None:
        base_est, base_kind = baseline
        baseline_cv = fit_cv(
            X, y, splits, estimator=base_est, preprocess_kind=base_kind, task=task,
            sample_weight=fold_w,
        )  # fmt: skip
    return RunFits(splits, cv, final, baseline_cv, fit_seconds, time.perf_counter() - t)


def fit_internal_external(
    X: pd.DataFrame,
    y: pd.Series,
    cohort: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    estimator: BaseEstimator,
    preprocess_kind: str,
    task: str,
) -> CVResult | str | None:
    """Leave-one-region-out predictions beside the run's own validation (internal-external).

    Each region is held out in turn (fold ``k`` is the ``k``-th region in sorted order): what
    a consortium member validating the model at a new site should compare against, more than
    the patient-grouped k-fold estimate. ``None`` when the cohort has a single region; the
    reason, as text, when the estimator cannot be fitted on some region's complement
    (scikit-learn's HistGradientBoosting on the small test registry: "window shape cannot be
    larger than input array shape" while binning).
    """
    labelled = cohort.loc[cohort["index_id"].isin(targets["index_id"])]
    if labelled["region"].nunique() < 2:
        return None
    splits = assign_splits(cohort, targets, spec=ValidationSpec(kind="loro"), seed=0)
    try:
        return fit_cv(
            X, y, splits, estimator=clone(estimator), preprocess_kind=preprocess_kind, task=task
        )
    except ValueError as err:
        reason = f"the leave-one-region-out fit failed: {str(err).splitlines()[0]}"
        log.warning("%s", reason)
        return reason
