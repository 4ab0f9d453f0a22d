"""Informative drop-out: inverse-probability-of-censoring weights and the estimand's bias.

An index event that meets the cohort's rules but has no outcome (no visit in the window, left
the registry, a scale change without a rule) is censored. When the chance of being censored
depends on the patient (it does: infants who leave, clinics that score less), the labelled
events are not a random sample of the eligible ones and a complete-case estimate is biased.
Inverse-probability-of-censoring weights (IPCW) re-weight each labelled event by one over its
estimated chance of being labelled, fitted on the features at the index (known for every
eligible event) and cross-fitted over patient-grouped folds, so no event's weight comes from a
model that saw it.

On synthetic data the simulator's truth of every eligible event gives the target the cohort's
response rate should estimate; :func:`estimand_bias` compares the complete-case and the
weighted estimates with it (``estimand/*`` metrics).

With ``evaluate.drop_out_weights=ipcw`` the weights also enter the model: :func:`fold_weights`
fits the censoring model inside each training part of the run's own folds (so a held-out
event's weight comes from a model that never saw its person), the models are fitted with the
training part's weights, and :func:`weighted_evaluation` reports the held-out performance
weighted to the eligible events (``ipcw/*``), against the truth where there is one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from sma_response.evaluate.metrics import fractional_classification, weighted_metrics
from sma_response.evaluate.uncertainty import patient_clusters
from sma_response.features.design import EligibleEvents
from sma_response.features.preprocess import make_preprocessor
from sma_response.models.fit import CVResult, predict

__all__ = [
    "DROP_OUT_METHODS",
    "DROP_OUT_WEIGHTS",
    "EstimandBias",
    "FoldWeights",
    "censoring_weights",
    "drop_out_estimate",
    "estimand_bias",
    "fold_weights",
    "weighted_evaluation",
]

#: ``ipcw``: weights fitted by logistic regression inside folds; ``none``: complete case only.
DROP_OUT_METHODS = ("ipcw", "none")
#: Where IPC weights enter besides the cohort's rate: ``metrics`` the held-out metrics only,
#: ``ipcw`` the model fits too.
DROP_OUT_WEIGHTS = ("none", "metrics", "ipcw")
#: Smallest estimated chance of being labelled a weight may use (weights at most 20).
MIN_LABELLED_PROBABILITY = 0.05


def censoring_weights(
    X: pd.DataFrame,
    labelled: pd.Series,
    patients: pd.Series,
    *,
    seed: int,
    n_splits: int = 5,
) -> pd.Series:
    """Cross-fitted inverse-probability-of-censoring weights of the labelled events.

    Parameters
    ----------
    X
        Features at the index of every eligible event (indexed by ``index_id``).
    labelled
        Whether each event of ``X`` has an outcome (same index).
    patients
        The patient of each event (same index): folds keep a patient's events together.
    seed
        Fold assignment seed.
    n_splits
        Cross-fitting folds (fewer when there are too few events of a kind).

    Returns
    -------
    pandas.Series
        ``1 / P(labelled | X)`` for the labelled events (probability clipped at
        :data:`MIN_LABELLED_PROBABILITY`), NaN for the others; all 1 when every event (or none)
        is labelled.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.normal(size=200)}, index=[f"p{i}#1" for i in range(200)])
    >>> labelled = pd.Series(rng.random(200) < 1 / (1 + np.exp(-2 * X["age"])), index=X.index)
    >>> w = censoring_weights(X, labelled, pd.Series(X.index, index=X.index), seed=0)
    >>> bool(w[labelled].min() >= 1.0 and w[~labelled].isna().all())
    True
    """
    labelled = labelled.reindex(X.index).astype(bool)
    weights = pd.Series(np.where(labelled, 1.0, np.nan), index=X.index, name="weight")
    n_minority = int(min(labelled.sum(), (~labelled).sum()))
    if n_minority < 2:
        return weights
    folds = StratifiedGroupKFold(
        n_splits=min(n_splits, n_minority), shuffle=True, random_state=seed
    )
    inverse = pd.Series(np.nan, index=X.index)
    y = labelled.to_numpy()
    for train, test in folds.split(X, y, groups=patients.reindex(X.index).to_numpy()):
        model = _censoring_model(X.iloc[train], y[train])
        inverse.iloc[test] = _inverse_chance(model, X.iloc[test]).to_numpy()
    return weights.where(~labelled, inverse)


def _censoring_model(X: pd.DataFrame, labelled: np.ndarray) -> Pipeline:
    """Fit ``P(labelled | features at the index)`` by logistic regression."""
    model = Pipeline(
        [
            ("preprocess", make_preprocessor(X.dtypes, kind="linear")),
            ("model", LogisticRegression(max_iter=2000)),
        ]
    )
    return model.fit(X, labelled)


def _inverse_chance(model: Pipeline | None, X: pd.DataFrame) -> pd.Series:
    """``1 / P(labelled)`` of each row (probability clipped); all 1 without a model."""
    if model is None or len(X) == 0:
        return pd.Series(1.0, index=X.index)
    chance = np.clip(model.predict_proba(X)[:, 1], MIN_LABELLED_PROBABILITY, 1.0)
    return pd.Series(1.0 / chance, index=X.index)


def _fit_or_none(X: pd.DataFrame, labelled: pd.Series) -> Pipeline | None:
    """Fit the censoring model; ``None`` where every event (or none) is labelled."""
    if labelled.nunique() < 2:
        return None
    return _censoring_model(X, labelled.to_numpy(dtype=bool))


@dataclass
class FoldWeights:
    """IPC weights fitted inside the folds of a run's cross-validation.

    Attributes
    ----------
    train
        ``{(repeat, fold): weights}`` of the labelled events that train that fold's model,
        from a censoring model fitted on the training part's eligible events (mean 1).
    test
        ``index_id, repeat, fold, weight``: each held-out labelled event's weight, from the
        censoring model of its fold (which never saw its person).
    final
        Weights of every labelled event for the final model (censoring model on all eligible
        events; mean 1).
    fold_of
        ``index_id -> fold`` (first repeat) of every eligible event whose person has a
        labelled event; events of persons without one are in no fold.
    """

    train: dict[tuple[int, int], pd.Series]
    test: pd.DataFrame
    final: pd.Series
    fold_of: pd.Series = field(default_factory=lambda: pd.Series(dtype=np.int64))


def _mean_one(w: pd.Series) -> pd.Series:
    return w / w.mean() if len(w) else w


def fold_weights(eligible: EligibleEvents, splits: pd.DataFrame) -> FoldWeights:
    """Fit the censoring model inside each training part of ``splits`` and weight its events.

    Parameters
    ----------
    eligible
        Every eligible index event (labelled or censored), with features at the index.
    splits
        The run's ``index_id, repeat, fold`` of its labelled events
        (:func:`~sma_response.models.split.assign_splits`); a person's censored events go with
        the person's fold. A person with no labelled event is never held out: their events
        (which carry no outcome) train every fold's censoring model.

    Returns
    -------
    FoldWeights

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> n = 120
    >>> ids = [f"p{i}#1" for i in range(n)]
    >>> cohort = pd.DataFrame({"index_id": ids, "patient_id": [i[:-2] for i in ids],
    ...                        "linked_id": [i[:-2] for i in ids]})
    >>> X = pd.DataFrame({"age": rng.normal(size=n)}, index=ids)
    >>> seen = rng.random(n) < 1 / (1 + np.exp(-X["age"].to_numpy()))
    >>> labels = pd.DataFrame({"index_id": ids, "target": np.where(seen, 1.0, np.nan)})
    >>> events = EligibleEvents(cohort=cohort, labels=labels, X=X)
    >>> kept = [i for i, s in zip(ids, seen) if s]
    >>> splits = pd.DataFrame({"index_id": kept, "repeat": 0, "fold": np.arange(len(kept)) % 3})
    >>> w = fold_weights(events, splits)
    >>> len(w.train), len(w.test) == len(kept), round(float(w.final.mean()), 6)
    (3, True, 1.0)
    """
    X = eligible.X
    labelled = eligible.labelled.reindex(X.index).fillna(value=False).astype(bool)
    person = eligible.cohort.set_index("index_id")["linked_id"].reindex(X.index)
    train: dict[tuple[int, int], pd.Series] = {}
    test = []
    fold_of = pd.Series(dtype=np.int64)
    for repeat, part in splits.groupby("repeat", sort=True):
        persons = person.reindex(part["index_id"]).to_numpy()
        fold_of_person = pd.Series(part["fold"].to_numpy(), index=persons)
        fold_of_person = fold_of_person[~fold_of_person.index.duplicated()]
        event_fold = person.map(fold_of_person)  # NaN: a person without a labelled event
        if fold_of.empty:
            fold_of = event_fold.dropna().astype(np.int64)
        for fold in sorted(f for f in part["fold"].unique() if f >= 0):
            held_out = (event_fold == fold).to_numpy()
            model = _fit_or_none(X.loc[~held_out], labelled.loc[~held_out])
            train_ids = part.loc[part["fold"] != fold, "index_id"]
            test_ids = part.loc[part["fold"] == fold, "index_id"]
            train[(int(repeat), int(fold))] = _mean_one(_inverse_chance(model, X.loc[train_ids]))
            w = _inverse_chance(model, X.loc[test_ids])
            test.append(
                pd.DataFrame(
                    {"index_id": w.index, "repeat": int(repeat), "fold": int(fold), "weight": w}
                )
            )
    final = _inverse_chance(_fit_or_none(X, labelled), X.loc[labelled.to_numpy()])
    return FoldWeights(
        train=train,
        test=pd.concat(test, ignore_index=True),
        final=_mean_one(final),
        fold_of=fold_of,
    )


@dataclass(frozen=True)
class EstimandBias:
    """The cohort's response rate: complete case, weighted, and (on synthetic data) the truth.

    Attributes
    ----------
    n_eligible, n_labelled
        Eligible index events, and those with an outcome.
    complete_case, corrected
        Mean target of the labelled events, unweighted and IPCW-weighted.
    truth
        Mean true probability over every eligible event with a truth (NaN without one).
    n_truth
        Eligible events with a truth.
    max_weight, effective_n
        Largest weight, and Kish's effective sample size of the weighted labelled events.
    """

    n_eligible: int
    n_labelled: int
    complete_case: float
    corrected: float
    truth: float
    n_truth: int
    max_weight: float
    effective_n: float

    def metrics(self) -> dict[str, float]:
        """Return the ``estimand/*`` metrics (biases only where there is a truth)."""
        out = {
            "estimand/n_eligible": float(self.n_eligible),
            "estimand/n_labelled": float(self.n_labelled),
            "estimand/share_labelled": self.n_labelled / max(self.n_eligible, 1),
            "estimand/complete_case_rate": self.complete_case,
            "estimand/corrected_rate": self.corrected,
            "estimand/max_weight": self.max_weight,
            "estimand/effective_n": self.effective_n,
        }
        if np.isfinite(self.truth):
            out.update(
                {
                    "estimand/truth_rate": self.truth,
                    "estimand/n_truth": float(self.n_truth),
                    "estimand/bias_complete_case": self.complete_case - self.truth,
                    "estimand/bias_corrected": self.corrected - self.truth,
                }
            )
        return out


def estimand_bias(
    target: pd.Series, weights: pd.Series, truth: pd.Series | None = None
) -> EstimandBias:
    """Complete-case and weighted response rates of the eligible events, against the truth.

    Parameters
    ----------
    target
        Label of every eligible event (NaN where censored), indexed by ``index_id``.
    weights
        :func:`censoring_weights` (same index).
    truth
        The simulator's true probability of the events that have one (any subset).

    Examples
    --------
    >>> t = pd.Series([1.0, 0.0, np.nan, np.nan], index=list("abcd"))
    >>> w = pd.Series([3.0, 1.0, np.nan, np.nan], index=list("abcd"))
    >>> b = estimand_bias(t, w, pd.Series([0.8, 0.4, 0.9, 0.7], index=list("abcd")))
    >>> round(b.complete_case, 2), round(b.corrected, 2), round(b.truth, 2)
    (0.5, 0.75, 0.7)
    """
    seen = target.notna()
    y = target[seen].to_numpy(dtype=float)
    w = weights.reindex(target.index)[seen].to_numpy(dtype=float)
    on_truth = truth.reindex(target.index).dropna() if truth is not None else pd.Series(dtype=float)
    return EstimandBias(
        n_eligible=len(target),
        n_labelled=int(seen.sum()),
        complete_case=float(y.mean()) if len(y) else float("nan"),
        corrected=float(np.sum(w * y) / np.sum(w)) if len(y) else float("nan"),
        truth=float(on_truth.mean()) if len(on_truth) else float("nan"),
        n_truth=len(on_truth),
        max_weight=float(w.max()) if len(w) else float("nan"),
        effective_n=float(w.sum() ** 2 / np.sum(w**2)) if len(w) else float("nan"),
    )


def drop_out_estimate(
    eligible: EligibleEvents, truth: pd.Series | None, *, seed: int, n_splits: int = 5
) -> EstimandBias:
    """Weight the labelled events of ``eligible`` (:func:`censoring_weights`) and compare.

    ``truth`` is the simulator's truth of the eligible events (``None`` on real data: then
    only the complete-case and weighted rates are known, not their bias).
    """
    patients = eligible.cohort.set_index("index_id")["patient_id"]
    weights = censoring_weights(
        eligible.X, eligible.labelled, patients, seed=seed, n_splits=n_splits
    )
    return estimand_bias(eligible.labels.set_index("index_id")["target"], weights, truth)


def _eligible_predictions(
    cv: CVResult, eligible: EligibleEvents, fold_of: pd.Series, *, task: str
) -> pd.Series:
    """Out-of-fold prediction of every eligible event (first repeat's fold models).

    An event of a person with a labelled event is predicted by the model of the person's fold
    (which never saw the person); an event of a person without one by the mean of the fold
    models (none was trained on it: it has no outcome).
    """
    first = min(r for r, _ in cv.models)
    models = {f: m for (r, f), m in cv.models.items() if r == first}
    X = eligible.X
    out = pd.Series(np.nan, index=X.index, dtype=float)
    assigned = fold_of.reindex(X.index)
    for fold, model in models.items():
        rows = (assigned == fold).to_numpy()
        if rows.any():
            out[rows] = predict(model, X.loc[rows], task=task)
    rest = assigned.isna().to_numpy()
    if rest.any():
        out[rest] = np.mean([predict(m, X.loc[rest], task=task) for m in models.values()], axis=0)
    return out


def _against_truth(
    p: pd.Series, truth: pd.Series, labelled: pd.Series, weights: pd.Series
) -> dict[str, float]:
    """Score the model's discrimination and calibration against the truth, three ways.

    Over the labelled events unweighted (``complete_case``), weighted (``weighted``) and over
    every eligible event (``eligible``, what the other two estimate), with the truth as the
    outcome (a fractional label: its expectation, free of outcome noise).
    """
    rows = truth.dropna().index.intersection(p.dropna().index)
    t, q = truth[rows].to_numpy(dtype=float), p[rows].to_numpy(dtype=float)
    seen = labelled.reindex(rows).fillna(value=False).to_numpy(dtype=bool)
    w = weights.reindex(rows).fillna(0.0).to_numpy(dtype=float)
    rows_w = np.vstack([seen.astype(float), np.where(seen, w, 0.0), np.ones(len(rows))])
    found = fractional_classification(t, q, rows_w)
    out: dict[str, float] = {}
    for i, name in enumerate(("complete_case", "weighted", "eligible")):
        for metric in ("auroc", "calibration_intercept", "calibration_slope"):
            out[f"ipcw/truth_{name}_{metric}"] = float(found[metric][i])
        share = rows_w[i] / rows_w[i].sum()
        out[f"ipcw/truth_{name}_mean_predicted"] = float(share @ q)
        out[f"ipcw/truth_{name}_mean_truth"] = float(share @ t)
    for metric in ("auroc", "calibration_intercept", "calibration_slope"):
        target = out[f"ipcw/truth_eligible_{metric}"]
        out[f"ipcw/bias_complete_case_{metric}"] = (
            out[f"ipcw/truth_complete_case_{metric}"] - target
        )
        out[f"ipcw/bias_weighted_{metric}"] = out[f"ipcw/truth_weighted_{metric}"] - target
    out["ipcw/n_truth_eligible"] = float(len(rows))
    return out


def weighted_evaluation(
    cv: CVResult,
    weights: FoldWeights,
    eligible: EligibleEvents,
    truth: pd.Series | None,
    *,
    task: str,
    seed: int,
    n_boot: int,
    weighted_fits: bool,
) -> dict[str, float]:
    """Held-out performance weighted to the eligible events (``ipcw/*`` metrics).

    ``ipcw/<metric>`` (with bootstrap intervals, whole patients resampled) weights each
    first-repeat held-out event by its fold's IPC weight. With the simulator's ``truth`` of the
    eligible events (classification), ``ipcw/truth_*`` and ``ipcw/bias_*`` say how far the
    complete-case and the weighted figures are from the figure over every eligible event.
    ``ipcw/weighted_fits`` is 1 when the models were fitted with the weights too.
    """
    first = cv.predictions.loc[cv.predictions["repeat"] == cv.predictions["repeat"].min()]
    w = first.merge(weights.test, on=["index_id", "repeat", "fold"], how="left")["weight"]
    rng = np.random.default_rng(seed)
    metrics = weighted_metrics(
        first["y_true"].to_numpy(), first["y_pred"].to_numpy(), w.fillna(1.0).to_numpy(),
        task=task, rng=rng, n_boot=n_boot, clusters=patient_clusters(first["index_id"]),
    )  # fmt: skip
    out = {f"ipcw/{k}": v for k, v in metrics.items()}
    out["ipcw/max_weight"] = float(w.max())
    out["ipcw/weighted_fits"] = float(weighted_fits)
    if truth is not None and task == "classification" and cv.models:
        p_all = _eligible_predictions(cv, eligible, weights.fold_of, task=task)
        held = pd.Series(w.to_numpy(), index=first["index_id"].to_numpy())
        out.update(_against_truth(p_all, truth, eligible.labelled, held))
    return out
