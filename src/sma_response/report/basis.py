"""What a run knows that every patient's report needs: aggregates only, saved as one JSON.

A :class:`ReportBasis` is built once per training run and logged (``report/basis.json``); a
report for any patient, from the run's cohort or new, is then built from it and the patient's
own rows. It holds no patient-level rows: quantiles of each feature, counts per category and
subgroup, subgroup performance, interval quantiles and their measured coverage, provenance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sma_response._utils.jsonable import to_jsonable
from sma_response.evaluate.subgroups import age_band

__all__ = [
    "PROFILE_QUANTILES",
    "ReportBasis",
    "age_band_of_months",
    "age_bands_of_months",
    "cohort_profile",
    "missing_basis_reason",
    "subgroup_counts",
]

#: Quantiles of each numeric feature kept in the profile (0 and 1: the training range).
PROFILE_QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
_DAYS_PER_MONTH = 365.25 / 12.0


@dataclass
class ReportBasis:
    """Aggregates of one run that every patient report draws on.

    Attributes
    ----------
    task
        ``classification`` (probability of a meaningful gain) or ``regression`` (change).
    target_kind, target_scale
        The run's target (``responder``/``delta``/...; the delta scale or ``None``).
    model_name
        Model option (e.g. ``xgboost``).
    provenance
        ``run_id, model_uri, model_version, data_digest, git_sha, package_version, created``.
    explain
        The SHAP settings used (method, feature_perturbation, model_output).
    interval
        :class:`~sma_response.evaluate.conformal.ConformalQuantiles` as a dict.
    coverage
        Rows of the held-out coverage table (``variable, level, n, coverage, mean_width``).
    profile
        :func:`cohort_profile` of the training features.
    counts
        :func:`subgroup_counts` of the training cohort.
    performance
        Subgroup metrics rows (``variable, level, n, small, ...``) with mean predicted and
        observed outcome.
    importance
        Global importance rows (``feature, mean_abs_shap, rank``) from held-out SHAP values.
    therapies
        Therapy options of the model's ``therapy`` feature.
    estimand
        ``composite`` (death or permanent ventilation in the window is no gain) or
        ``while_alive``; a basis logged before the key existed reads ``while_alive``.
    effects
        :func:`~sma_response.report.training.effects_basis`: the per-therapy contrasts'
        estimator, interval level, what they adjust for and their measured coverage (empty:
        not estimated).
    """

    task: str
    target_kind: str
    target_scale: str | None
    model_name: str
    provenance: dict[str, Any] = field(default_factory=dict)
    explain: dict[str, Any] = field(default_factory=dict)
    interval: dict[str, Any] = field(default_factory=dict)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    performance: list[dict[str, Any]] = field(default_factory=list)
    importance: list[dict[str, Any]] = field(default_factory=list)
    therapies: list[str] = field(default_factory=list)
    estimand: str = "while_alive"
    effects: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise (NaN becomes null)."""
        return json.dumps(to_jsonable(asdict(self)), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReportBasis:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def cohort_profile(X: pd.DataFrame) -> dict[str, Any]:
    """Distribution of every training feature: quantiles (numeric) or counts (categorical).

    Examples
    --------
    >>> X = pd.DataFrame({"age": [1.0, 2.0, np.nan], "sex": pd.Categorical(["F", "M", "F"])})
    >>> p = cohort_profile(X)
    >>> p["numeric"]["age"]["quantiles"]["0.5"], p["numeric"]["age"]["n_missing"]
    (1.5, 1)
    >>> p["categorical"]["sex"]
    {'F': 2, 'M': 1}
    """
    numeric: dict[str, Any] = {}
    categorical: dict[str, Any] = {}
    for col in X.columns:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
            counts = s.astype(object).where(s.notna(), "missing").value_counts()
            categorical[str(col)] = {str(k): int(v) for k, v in sorted(counts.items())}
            continue
        values = s.to_numpy(dtype=float)
        seen = values[np.isfinite(values)]
        qs = (
            np.quantile(seen, PROFILE_QUANTILES) if len(seen) else [np.nan] * len(PROFILE_QUANTILES)
        )
        numeric[str(col)] = {
            "quantiles": {f"{q:g}": float(v) for q, v in zip(PROFILE_QUANTILES, qs, strict=True)},
            "n": len(seen),
            "n_missing": int(len(values) - len(seen)),
        }
    return {"numeric": numeric, "categorical": categorical, "n": len(X)}


def subgroup_counts(groups: pd.DataFrame) -> dict[str, Any]:
    """Training counts per subgroup level and per combination that reports flag as rare.

    Parameters
    ----------
    groups
        ``region, sma_type, therapy, age_band`` per index event
        (:func:`~sma_response.evaluate.subgroups.make_subgroups`).

    Returns
    -------
    dict
        ``{"levels": {variable: {level: n}}, "type_therapy_age": {"type|therapy|band": n},
        "therapy_age": {"therapy|band": n}}``.

    Examples
    --------
    >>> g = pd.DataFrame({"region": ["DE", "DE"], "sma_type": ["1", "2"],
    ...                   "therapy": ["risdiplam"] * 2, "age_band": ["0-6 mo", "2-12 y"]})
    >>> subgroup_counts(g)["therapy_age"]
    {'risdiplam|0-6 mo': 1, 'risdiplam|2-12 y': 1}
    """
    g = groups.astype(str)
    levels = {
        c: {str(k): int(v) for k, v in sorted(g[c].value_counts().items())} for c in g.columns
    }

    def combos(cols: Sequence[str]) -> dict[str, int]:
        keys = g[cols[0]].str.cat([g[c] for c in cols[1:]], sep="|")  # vectorised join
        return {str(k): int(v) for k, v in sorted(keys.value_counts().items())}

    return {
        "levels": levels,
        "type_therapy_age": combos(["sma_type", "therapy", "age_band"]),
        "therapy_age": combos(["therapy", "age_band"]),
    }


def age_band_of_months(months: float) -> str:
    """Age band label (as in subgroup metrics) of an age in months.

    Examples
    --------
    >>> age_band_of_months(8.0)
    '6-24 mo'
    """
    return str(age_bands_of_months(np.array([months]))[0])


def age_bands_of_months(months: np.ndarray) -> np.ndarray:
    """Age band label of every age in months (NaN where the age is missing).

    Examples
    --------
    >>> age_bands_of_months(np.array([1.0, 30.0])).tolist()
    ['0-6 mo', '2-12 y']
    """
    days = np.asarray(months, dtype=float) * _DAYS_PER_MONTH
    return np.asarray(age_band(days), dtype=object)


def missing_basis_reason(run: Mapping[str, Any]) -> str:
    """Say why a logged run has no ``report/basis.json`` (``run``: its info, params and tags).

    Examples
    --------
    >>> missing_basis_reason({"run_id": "r1", "status": "FINISHED", "params": {},
    ...                       "tags": {"explain.skipped": "not a tree ensemble"}}).split(": ")[0]
    'run r1 has no patient reports'
    >>> missing_basis_reason({"run_id": "r2", "status": "KILLED", "params": {}, "tags": {}})
    'run r2 did not finish (status KILLED): it has no report basis'
    """
    run_id, tags, params = run["run_id"], run.get("tags", {}), run.get("params", {})
    if tags.get("explain.skipped"):
        return (
            f"run {run_id} has no patient reports: its model could not be explained "
            f"({tags['explain.skipped']}); train a tree model (e.g. model=xgboost) for reports"
        )
    if str(params.get("explain.enabled", "")).lower() == "false":
        return f"run {run_id} was trained with explain.enabled=false, so it has no patient reports"
    if run.get("status") != "FINISHED":
        return f"run {run_id} did not finish (status {run.get('status')}): it has no report basis"
    return (
        f"run {run_id} has no report/basis.json: it was logged before patient reports existed "
        "(re-train it, or reproduce it with sma-reproduce)"
    )
