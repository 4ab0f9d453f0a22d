"""Is the cohort large enough for the model? Riley's minimum sample size criteria.

Riley et al. give the smallest development sample for a prediction model with ``p`` candidate
predictor parameters and an anticipated (adjusted) R-squared:

* binary outcome (BMJ 2020;368:m441, and Stat Med 2019;38:1276): (1) expected uniform shrinkage
  of at least 0.9, ``n = p / ((S - 1) ln(1 - R2cs / S))``; (2) a small optimism (0.05) in
  Nagelkerke's R-squared, the same formula at ``S = R2cs / (R2cs + 0.05 max R2cs)`` with
  ``max R2cs = 1 - (phi^phi (1 - phi)^(1 - phi))^2`` (rounded as in the worked examples);
  (3) the overall risk within +-0.05,
  ``n = (1.96 / 0.05)^2 phi (1 - phi)``;
* continuous outcome (Stat Med 2019;38:1262): (1) expected shrinkage of at least 0.9,
  ``S = 1 + (p - 2) / (n ln(1 - R2app))`` with the apparent R-squared
  ``R2app = ((n - p - 1) R2adj + p) / (n - 1)``; (2) optimism in R-squared at most 0.05,
  ``n = 1 + p (1 - R2adj) / 0.05``; (3) the residual standard deviation within a multiplicative
  margin of 10 %, ``n = 234 + p``. Riley's fourth criterion (the mean outcome within a 10 %
  margin) is not used: the mean 12-month change is near zero, so a relative margin means nothing.

The package computes the criteria from the run itself: ``p`` counts the feature frame's
parameters (one per numeric feature, ``k - 1`` per categorical feature with ``k`` levels), and
the anticipated R-squared is the one its out-of-fold predictions reach (held-out, so already
an adjusted value). The expected shrinkage at the cohort's actual size is reported beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

__all__ = [
    "CRITERIA",
    "SampleSize",
    "binary_sample_size",
    "candidate_parameters",
    "continuous_sample_size",
    "cox_snell_r2",
    "run_sample_size",
]

SHRINKAGE = 0.9
DELTA = 0.05
#: What each criterion asks, by outcome (short labels for tables and summaries).
CRITERIA = {
    "binary": ("shrinkage >= 0.9", "Nagelkerke R2 optimism <= 0.05", "overall risk +-0.05"),
    "continuous": ("shrinkage >= 0.9", "R2 optimism <= 0.05", "residual SD within 10 %"),
}


@dataclass(frozen=True)
class SampleSize:
    """Riley's criteria for one run: the sample each needs, and where the cohort stands.

    Attributes
    ----------
    outcome
        ``binary`` or ``continuous``.
    parameters
        Candidate predictor parameters ``p``.
    r2
        Anticipated R-squared (Cox-Snell for a binary outcome) from held-out predictions.
    prevalence
        Outcome proportion (binary; NaN otherwise).
    criteria
        Sample size each criterion needs, in order.
    n_available
        Index events the run has.
    shrinkage_available
        Expected shrinkage at ``n_available`` (criterion 1's formula solved for ``S``; NaN
        when the formula has no solution, i.e. far too few patients).
    """

    outcome: str
    parameters: int
    r2: float
    prevalence: float
    criteria: tuple[int, ...]
    n_available: int
    shrinkage_available: float

    @property
    def n_required(self) -> int:
        """Return the largest sample any criterion needs."""
        return max(self.criteria)

    def table(self) -> pd.DataFrame:
        """Return one row per criterion: what it asks, the sample it needs, whether it is met."""
        return pd.DataFrame(
            {
                "criterion": list(CRITERIA[self.outcome]),
                "n_required": list(self.criteria),
                "n_available": self.n_available,
                "met": [self.n_available >= n for n in self.criteria],
            }
        )

    def metrics(self) -> dict[str, float]:
        """Return the ``samplesize/*`` metrics of a run."""
        out = {
            "samplesize/n_required": float(self.n_required),
            "samplesize/n_available": float(self.n_available),
            "samplesize/parameters": float(self.parameters),
            "samplesize/r2": self.r2,
            "samplesize/shrinkage_expected": self.shrinkage_available,
            "samplesize/met": float(self.n_available >= self.n_required),
        }
        for i, n in enumerate(self.criteria, 1):
            out[f"samplesize/n_criterion_{i}"] = float(n)
        return out


def candidate_parameters(X: pd.DataFrame) -> int:
    """Count the candidate predictor parameters of a feature frame.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [1.0, 2.0, 3.0], "therapy": pd.Categorical(["a", "b", "c"])})
    >>> candidate_parameters(X)
    3
    """
    p = 0
    for column in X.columns:
        values = X[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            p += max(len(values.cat.categories) - 1, 1)
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            p += 1
        else:
            p += max(values.nunique(dropna=True) - 1, 1)
    return p


def cox_snell_r2(y: np.ndarray, p: np.ndarray) -> float:
    """Return Cox-Snell's R-squared of predicted probabilities ``p`` for outcomes ``y``.

    Examples
    --------
    >>> round(cox_snell_r2(np.array([0, 1, 0, 1]), np.array([0.2, 0.8, 0.3, 0.7])), 3)
    0.554
    """
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 1e-12, 1 - 1e-12)
    n, phi = len(y), float(np.mean(y))
    ll_model = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    ll_null = n * (phi * math.log(phi) + (1 - phi) * math.log(1 - phi))
    return 1.0 - math.exp(2.0 * (ll_null - ll_model) / n)


def _shrinkage_n(p: int, r2: float, s: float) -> int:
    return math.ceil(p / ((s - 1.0) * math.log(1.0 - r2 / s)))


def _binary_shrinkage_at(n: int, p: int, r2: float) -> float:
    """Solve ``n = p / ((S - 1) ln(1 - R2/S))`` for the shrinkage ``S`` (NaN: no solution)."""

    def gap(s: float) -> float:
        return (s - 1.0) * math.log(1.0 - r2 / s) - p / n

    low = r2 + 1e-9
    return float(brentq(gap, low, 1.0 - 1e-12)) if gap(low) * gap(1.0 - 1e-12) < 0 else math.nan


def binary_sample_size(
    r2: float, parameters: int, prevalence: float, *, n_available: int = 0
) -> SampleSize:
    """Return Riley's three criteria for a binary outcome.

    Examples
    --------
    The worked example of Riley et al. (BMJ 2020): R2cs 0.288, 24 parameters, prevalence 0.174.

    >>> binary_sample_size(0.288, 24, 0.174).criteria
    (623, 668, 221)
    """
    if not 0.0 < r2 < SHRINKAGE:
        msg = f"sample size: the anticipated R-squared must be in (0, {SHRINKAGE}), got {r2:.3f}"
        raise ValueError(msg)
    phi = prevalence
    # Rounded as in Riley's worked examples (and pmsampsize): max R2 to 2, S to 3 decimals.
    max_r2 = round(1.0 - (phi**phi * (1.0 - phi) ** (1.0 - phi)) ** 2, 2)
    s2 = round(r2 / (r2 + DELTA * max_r2), 3)
    criteria = (
        _shrinkage_n(parameters, r2, SHRINKAGE),
        _shrinkage_n(parameters, r2, s2),
        math.ceil((1.96 / DELTA) ** 2 * phi * (1.0 - phi)),
    )
    shrinkage = _binary_shrinkage_at(n_available, parameters, r2) if n_available else math.nan
    return SampleSize("binary", parameters, r2, prevalence, criteria, n_available, shrinkage)


def _continuous_shrinkage_at(n: int, p: int, r2: float) -> float:
    """Return the expected shrinkage ``1 + (p - 2) / (n ln(1 - R2app))`` at ``n`` (NaN: none)."""
    if n <= p + 1:
        return math.nan
    apparent = (r2 * (n - p - 1) + p) / (n - 1)
    return 1.0 + (p - 2) / (n * math.log(1.0 - apparent)) if apparent < 1.0 else math.nan


def continuous_sample_size(r2: float, parameters: int, *, n_available: int = 0) -> SampleSize:
    """Return Riley's first three criteria for a continuous outcome.

    Examples
    --------
    The worked example of Riley et al. (Stat Med 2019, part I): R2adj 0.2, 25 parameters.

    >>> continuous_sample_size(0.2, 25).criteria
    (918, 401, 259)
    """
    if not 0.0 < r2 < 1.0:
        msg = f"sample size: the anticipated R-squared must be in (0, 1), got {r2:.3f}"
        raise ValueError(msg)
    p = parameters
    n1 = p + 2
    while not (_continuous_shrinkage_at(n1, p, r2) >= SHRINKAGE):  # NaN compares False
        n1 += 1
    criteria = (n1, math.ceil(1.0 + p * (1.0 - r2) / DELTA), 234 + p)
    shrinkage = _continuous_shrinkage_at(n_available, p, r2) if n_available else math.nan
    return SampleSize("continuous", p, r2, math.nan, criteria, n_available, shrinkage)


def run_sample_size(
    X: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, *, task: str
) -> SampleSize | str:
    """Return the criteria for a run from its features and held-out predictions.

    Returns the reason instead when they cannot be computed (the anticipated R-squared is not
    positive: the held-out predictions explain nothing).
    """
    y, pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    p, n = candidate_parameters(X), len(X)
    if task == "classification":
        r2 = cox_snell_r2(y, pred)
        if r2 <= 0.0:
            return f"held-out Cox-Snell R-squared {r2:.3f} is not positive"
        return binary_sample_size(r2, p, float(np.mean(y)), n_available=n)
    r2 = 1.0 - float(np.sum((y - pred) ** 2) / np.sum((y - np.mean(y)) ** 2))
    if r2 <= 0.0:
        return f"held-out R-squared {r2:.3f} is not positive"
    return continuous_sample_size(r2, p, n_available=n)
