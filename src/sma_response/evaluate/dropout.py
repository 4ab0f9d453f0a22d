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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from sma_response.features.design import EligibleEvents
from sma_response.features.preprocess import make_preprocessor

__all__ = [
    "DROP_OUT_METHODS",
    "EstimandBias",
    "censoring_weights",
    "drop_out_estimate",
    "estimand_bias",
]

#: ``ipcw``: weights fitted by logistic regression inside folds; ``none``: complete case only.
DROP_OUT_METHODS = ("ipcw", "none")
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
    chance = np.full(len(X), np.nan)
    y = labelled.to_numpy()
    for train, test in folds.split(X, y, groups=patients.reindex(X.index).to_numpy()):
        model = Pipeline(
            [
                ("preprocess", make_preprocessor(X.dtypes, kind="linear")),
                ("model", LogisticRegression(max_iter=2000)),
            ]
        )
        model.fit(X.iloc[train], y[train])
        chance[test] = model.predict_proba(X.iloc[test])[:, 1]
    chance = np.clip(chance, MIN_LABELLED_PROBABILITY, 1.0)
    return weights.where(~labelled, 1.0 / pd.Series(chance, index=X.index))


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
