"""Recalibration of a model at a new site: in the large (intercept) and logistic/linear (slope too).

A validating site fits the update on its own data (Steyerberg's "model updating" ladder):

* ``in_the_large``: shift the predictions so their mean matches the site's outcome rate
  (``logit p' = a + logit p`` for probabilities, ``y' = a + y`` for a predicted change);
* ``logistic`` (probabilities) or ``linear`` (a predicted change): shift and scale
  (``logit p' = a + b logit p``, ``y' = a + b y``).

The coefficients are aggregates and are safe to share; performance after recalibration is
apparent (fitted and measured on the same data), which the report says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import expit

from sma_response.evaluate.metrics import _fit_intercept, _fit_line, _logit

__all__ = ["RECALIBRATION_METHODS", "Recalibration", "fit_recalibration"]

#: Methods per task, simplest first.
RECALIBRATION_METHODS: dict[str, tuple[str, ...]] = {
    "classification": ("in_the_large", "logistic"),
    "regression": ("in_the_large", "linear"),
}


@dataclass(frozen=True)
class Recalibration:
    """A fitted recalibration: ``link(p') = intercept + slope * link(p)``.

    Attributes
    ----------
    method
        ``in_the_large``, ``logistic`` or ``linear``.
    task
        ``classification`` (link = logit) or ``regression`` (identity).
    intercept, slope
        The coefficients (``slope`` is 1 for ``in_the_large``); NaN when the fit does not exist.
    """

    method: str
    task: str
    intercept: float
    slope: float

    def apply(self, y_pred: np.ndarray) -> np.ndarray:
        """Recalibrated predictions.

        Examples
        --------
        >>> Recalibration("linear", "regression", 1.0, 0.5).apply(np.array([2.0, 4.0]))
        array([2., 3.])
        """
        p = np.asarray(y_pred, dtype=float)
        if self.task == "classification":
            return expit(self.intercept + self.slope * _logit(p))
        return self.intercept + self.slope * p

    def to_dict(self) -> dict[str, float | str]:
        """Plain dict."""
        return asdict(self)


def fit_recalibration(
    y_true: np.ndarray, y_pred: np.ndarray, *, task: str, method: str
) -> Recalibration:
    """Fit a recalibration of ``y_pred`` to the observed ``y_true``.

    Parameters
    ----------
    y_true
        Observed outcome (0/1 for classification).
    y_pred
        The model's predictions (probabilities, or predicted change).
    task
        ``classification`` or ``regression``.
    method
        One of :data:`RECALIBRATION_METHODS` for the task.

    Returns
    -------
    Recalibration

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.1, 0.9, 5000)
    >>> y = rng.random(5000) < expit(0.5 + _logit(p))      # the model is 0.5 too low
    >>> r = fit_recalibration(y, p, task="classification", method="in_the_large")
    >>> round(r.intercept, 1), r.slope
    (0.5, 1.0)
    """
    if method not in RECALIBRATION_METHODS.get(task, ()):
        allowed = RECALIBRATION_METHODS.get(task)
        msg = f"recalibration method {method!r} is not one of {allowed} for task {task!r}"
        raise ValueError(msg)
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if task == "classification":
        lp = _logit(p)
        if method == "in_the_large":
            return Recalibration(method, task, float(_fit_intercept(y, lp)), 1.0)
        a, b = _fit_line(y, lp)
        return Recalibration(method, task, float(a), float(b))
    if method == "in_the_large":
        return Recalibration(method, task, float(np.mean(y - p)), 1.0)
    var_p = float(np.sum((p - p.mean()) ** 2))
    slope = float(np.sum((p - p.mean()) * (y - y.mean())) / var_p) if var_p > 0 else float("nan")
    return Recalibration(method, task, float(y.mean() - slope * p.mean()), slope)
