"""Feature frame: one row per index event, from data dated at or before the index only.

Everything is computed for all index events at once with merges and ``merge_asof`` look-ups.
The guard against look-ahead is structural: every dated table is cut at the index (per event)
before anything is read from it, and the static patient facts that are really dated (onset age)
are blanked when they lie after the index.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sma_response.cohort.lookup import (
    as_float,
    baseline_function,
    baseline_milestones,
    baseline_scores,
    latest_within,
    primary_scale,
    score_on,
)
from sma_response.cohort.spec import FUNCTION_LEVELS
from sma_response.features.spec import ALL_FEATURES, FeatureSpec
from sma_response.schemas import MAX_AGE_DAYS, SCALE_CODES, SMA_TYPE_CODES, THERAPY_CODES

__all__ = ["CATEGORIES", "DAYS_PER_MONTH", "check_feature_spec", "make_features"]

log = logging.getLogger(__name__)

DAYS_PER_MONTH = 365.25 / 12.0
DAYS_PER_YEAR = 365.25
#: Fixed string categories of every categorical feature, so every fold and the final model see
#: the same levels (and xgboost never meets float categories).
CATEGORIES: dict[str, list[str]] = {
    "sma_type": list(SMA_TYPE_CODES),
    "sex": ["F", "M"],
    "therapy": list(THERAPY_CODES),
    "prior_therapy": ["none", *THERAPY_CODES],
    "baseline_primary_scale": list(SCALE_CODES),
    "function_at_baseline": list(FUNCTION_LEVELS),
}
#: Hours per day assumed under permanent ventilation when no status gives the hours.
_PERMANENT_VENTILATION_HOURS = 16.0


def check_feature_spec(spec: FeatureSpec) -> None:
    """Raise ``ValueError`` naming the offending key if ``spec`` is invalid.

    Examples
    --------
    >>> check_feature_spec(FeatureSpec(features=["sma_type"])) is None
    True
    """
    unknown = [f for f in spec.features if f not in ALL_FEATURES]
    if unknown:
        msg = (
            f"features.features: unknown features {unknown}; expected some of {list(ALL_FEATURES)}"
        )
        raise ValueError(msg)
    if len(set(spec.features)) != len(spec.features):
        msg = f"features.features: duplicated names in {spec.features}"
        raise ValueError(msg)
    if not spec.features and not spec.include_region:
        msg = "features.features: no feature selected"
        raise ValueError(msg)


def _category(values: object, name: str, index: pd.Index, categories: list[str]) -> pd.Series:
    series = pd.Series(np.asarray(values, dtype=object), index=index, name=name)
    series = series.where(series.notna(), None)
    return series.astype(pd.CategoricalDtype([str(c) for c in categories]))


def _latest_status(
    events: pd.DataFrame, status: pd.DataFrame, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Latest non-missing ``column`` at or before each index, and its age (NaN when none)."""
    rows = status.loc[status[column].notna(), ["patient_id", "age_days"]].assign(
        value=as_float(status.loc[status[column].notna(), column]),
        seen_age=status.loc[status[column].notna(), "age_days"].astype(float),
    )
    found = latest_within(events, rows, window_days=MAX_AGE_DAYS)
    return found["value"].to_numpy(dtype=float), found["seen_age"].to_numpy(dtype=float)


def _event_before(events: pd.DataFrame, table: pd.DataFrame, event: str) -> np.ndarray:
    """Whether ``event`` happened at or before each index."""
    first = table.loc[table["event"] == event].groupby("patient_id")["age_days"].min()
    age = events["patient_id"].map(first).astype(float).to_numpy()
    return age <= events["index_age_days"].to_numpy(dtype=float)


def _slope(
    events: pd.DataFrame,
    assessments: pd.DataFrame,
    scale: np.ndarray,
    *,
    window_days: float,
    min_span_days: float,
) -> np.ndarray:
    """Least-squares slope (points/year) of the primary scale over the look-back window."""
    probe = events[["index_id", "patient_id", "index_age_days"]].assign(scale=scale)
    probe = probe.loc[probe["scale"].notna()]
    rows = probe.merge(
        assessments[["patient_id", "scale", "age_days", "score"]].assign(
            patient_id=lambda d: d["patient_id"].astype(str), scale=lambda d: d["scale"].astype(str)
        ),
        on=["patient_id", "scale"],
        how="inner",
    )
    lag = rows["index_age_days"] - rows["age_days"]
    rows = rows.loc[(lag >= 0) & (lag <= window_days)]
    t = rows["age_days"].astype(float) / DAYS_PER_YEAR
    y = rows["score"].astype(float)
    g = rows["index_id"]
    t_c = t - t.groupby(g).transform("mean")
    y_c = y - y.groupby(g).transform("mean")
    stats = (
        pd.DataFrame({"g": g, "txy": t_c * y_c, "txx": t_c * t_c, "t": t})
        .groupby("g")
        .agg(
            txy=("txy", "sum"),
            txx=("txx", "sum"),
            n=("t", "size"),
            lo=("t", "min"),
            hi=("t", "max"),
        )
    )
    stats["span"] = stats["hi"] - stats["lo"]
    ok = (stats["n"] >= 2) & (stats["span"] * DAYS_PER_YEAR >= min_span_days) & (stats["txx"] > 0)
    slope = (stats["txy"] / stats["txx"]).where(ok)
    return events["index_id"].map(slope).astype(float).to_numpy()


def make_features(
    cdm: Mapping[str, pd.DataFrame], cohort: pd.DataFrame, *, spec: FeatureSpec
) -> pd.DataFrame:
    """Build the feature frame of the cohort from data dated at or before each index.

    Parameters
    ----------
    cdm
        CDM tables (all six are read).
    cohort
        From :func:`~sma_response.cohort.build.build_cohort`.
    spec
        Which features, and the look-back windows.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``index_id`` in cohort order; columns ``spec.features`` (then ``region`` when
        ``spec.include_region``). Numeric features are float64 with NaN for missing (booleans
        as 0/1); categorical features are pandas categoricals with fixed string categories
        (:data:`CATEGORIES`). Ages and durations are in months, slopes in points per year.

    Examples
    --------
    >>> from sma_response.schemas import CDM_SCHEMAS
    >>> cdm = {k: pd.DataFrame(columns=list(m.to_schema().columns)) for k, m in CDM_SCHEMAS.items()}
    >>> cdm["patients"] = pd.DataFrame({"patient_id": ["a"], "onset_age_days": [300.0]})
    >>> cdm["assessments"] = pd.DataFrame({"patient_id": ["a"], "age_days": [900.0],
    ...                                    "scale": ["hfmse"], "score": [20.0]})
    >>> cohort = pd.DataFrame({"index_id": ["a#1"], "patient_id": ["a"],
    ...                        "index_age_days": [913.125]})
    >>> spec = FeatureSpec(features=["age_at_index_months", "disease_duration_months",
    ...                              "baseline_hfmse"])
    >>> make_features(cdm, cohort, spec=spec).round(1).to_dict("records")
    [{'age_at_index_months': 30.0, 'disease_duration_months': 20.1, 'baseline_hfmse': 20.0}]
    """
    check_feature_spec(spec)
    events = cohort[["index_id", "patient_id", "index_age_days"]].assign(
        index_id=lambda d: d["index_id"].astype(str),
        patient_id=lambda d: d["patient_id"].astype(str),
        index_age_days=lambda d: d["index_age_days"].astype(float),
    )
    events = events.reset_index(drop=True)
    index = pd.Index(events["index_id"], name="index_id")
    age = events["index_age_days"].to_numpy()
    pats = cdm["patients"].assign(patient_id=lambda d: d["patient_id"].astype(str))
    pats = pats.drop_duplicates("patient_id").set_index("patient_id").reindex(events["patient_id"])
    onset = as_float(pats["onset_age_days"])
    onset = np.where(onset <= age, onset, np.nan)  # an onset after the index is not known yet

    out: dict[str, object] = {}
    wanted = set(spec.features)
    out["age_at_index_months"] = age / DAYS_PER_MONTH
    out["onset_age_months"] = onset / DAYS_PER_MONTH
    out["disease_duration_months"] = (age - onset) / DAYS_PER_MONTH
    for name, source in (("sma_type", "sma_type"), ("sex", "sex")):
        if name in wanted:
            out[name] = _category(
                pats[source].to_numpy(dtype=object), name, index, CATEGORIES[name]
            )
    if "smn2_copies" in wanted:
        out["smn2_copies"] = as_float(pats["smn2_copies"])
    if "presymptomatic" in wanted:
        out["presymptomatic"] = as_float(pats["presymptomatic"])
    for name in ("therapy", "prior_therapy"):
        if name in wanted:
            out[name] = _category(
                cohort[name].to_numpy(dtype=object), name, index, CATEGORIES[name]
            )
    if "line" in wanted:
        out["line"] = cohort["line"].to_numpy(dtype=float)

    needs_baseline = wanted & {
        *(f"baseline_{s}" for s in SCALE_CODES),
        "baseline_primary_scale",
        "baseline_primary_score",
        "function_at_baseline",
        "primary_slope_per_year",
    }
    if needs_baseline:
        base = baseline_scores(events, cdm["assessments"], window_days=spec.baseline_window_days)
        for scale in SCALE_CODES:
            out[f"baseline_{scale}"] = base[scale].to_numpy(dtype=float)
        miles = baseline_milestones(
            events, cdm["milestones"], window_days=spec.baseline_window_days
        )
        function = baseline_function(miles, base, events.set_index("index_id")["index_age_days"])
        scale = primary_scale(function, base, primary_scales=spec.primary_scales)
        scale_arr = scale.to_numpy(dtype=object, na_value=None)
        out["baseline_primary_score"] = score_on(base, scale_arr)
        out["baseline_primary_scale"] = _category(
            scale_arr, "baseline_primary_scale", index, CATEGORIES["baseline_primary_scale"]
        )
        out["function_at_baseline"] = _category(
            function.astype(object).to_numpy(),
            "function_at_baseline",
            index,
            CATEGORIES["function_at_baseline"],
        )
        if "primary_slope_per_year" in wanted:
            out["primary_slope_per_year"] = _slope(
                events,
                cdm["assessments"],
                scale_arr,
                window_days=spec.slope_window_days,
                min_span_days=spec.slope_min_span_days,
            )

    status = cdm["clinical_status"]
    if "ventilation_hours_per_day" in wanted:
        hours, _ = _latest_status(events, status, "ventilation_hours_per_day")
        permanent = _event_before(events, cdm["events"], "permanent_ventilation")
        out["ventilation_hours_per_day"] = np.where(
            permanent & ~(hours >= _PERMANENT_VENTILATION_HOURS),
            _PERMANENT_VENTILATION_HOURS,
            hours,
        )
    for name in ("feeding_tube", "scoliosis_surgery"):
        if name in wanted:
            value, _ = _latest_status(events, status, name)
            # Both are lasting: an event at or before the index settles it.
            out[name] = np.where(_event_before(events, cdm["events"], name), 1.0, value)

    columns = list(spec.features)
    if spec.include_region:
        regions = sorted(cohort["region"].astype(str).unique())
        out["region"] = _category(cohort["region"].to_numpy(dtype=object), "region", index, regions)
        columns.append("region")
    frame = pd.DataFrame(
        {name: _as_column(out[name], index) for name in columns}, index=index, columns=columns
    )
    log.info("make_features: %d index events x %d features", len(frame), frame.shape[1])
    return frame


def _as_column(values: object, index: pd.Index) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.set_axis(index)
    return pd.Series(np.asarray(values, dtype=float), index=index)
