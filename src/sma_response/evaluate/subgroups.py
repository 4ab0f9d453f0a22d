"""Metrics per subgroup (region, SMA type, therapy, age band), small groups flagged."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sma_response.evaluate.metrics import compute_metrics
from sma_response.evaluate.uncertainty import patient_clusters

__all__ = ["AGE_BANDS", "age_band", "make_subgroups", "subgroup_metrics"]

log = logging.getLogger(__name__)

_DAYS_PER_YEAR = 365.25
#: Age bands at index: label -> [lower, upper) in days.
AGE_BANDS: dict[str, tuple[float, float]] = {
    "0-6 mo": (0.0, 0.5 * _DAYS_PER_YEAR),
    "6-24 mo": (0.5 * _DAYS_PER_YEAR, 2 * _DAYS_PER_YEAR),
    "2-12 y": (2 * _DAYS_PER_YEAR, 12 * _DAYS_PER_YEAR),
    "12-18 y": (12 * _DAYS_PER_YEAR, 18 * _DAYS_PER_YEAR),
    "adult": (18 * _DAYS_PER_YEAR, np.inf),
}


def age_band(index_age_days: pd.Series | np.ndarray) -> pd.Categorical:
    """Age band at index (:data:`AGE_BANDS`), an ordered categorical.

    Examples
    --------
    >>> age_band(np.array([30.0, 400.0, 3000.0, 5000.0, 9000.0])).tolist()
    ['0-6 mo', '6-24 mo', '2-12 y', '12-18 y', 'adult']
    """
    edges = [lo for lo, _ in AGE_BANDS.values()] + [np.inf]
    return pd.cut(
        np.asarray(index_age_days, dtype=float),
        bins=edges,
        right=False,
        labels=list(AGE_BANDS),
        ordered=True,
    )


def make_subgroups(cohort: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Return the standard subgroups of each index event: region, SMA type, therapy and age band.

    Parameters
    ----------
    cohort
        ``index_id, patient_id, region, therapy, index_age_days``.
    patients
        CDM ``patients`` (gives ``sma_type``; missing type is ``"unknown"``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``index_id``: ``region, sma_type, therapy, age_band`` (categoricals).

    Examples
    --------
    >>> cohort = pd.DataFrame({"index_id": ["a#1"], "patient_id": ["a"], "region": ["DE"],
    ...                        "therapy": ["risdiplam"], "index_age_days": [800.0]})
    >>> patients = pd.DataFrame({"patient_id": ["a"], "sma_type": ["2"]})
    >>> make_subgroups(cohort, patients).iloc[0].tolist()
    ['DE', '2', 'risdiplam', '2-12 y']
    """
    sma_type = (
        cohort["patient_id"]
        .astype(str)
        .map(
            patients.assign(patient_id=patients["patient_id"].astype(str))
            .drop_duplicates("patient_id")
            .set_index("patient_id")["sma_type"]
            .astype(object)
        )
    )
    frame = pd.DataFrame(
        {
            "region": cohort["region"].astype(str).to_numpy(),
            "sma_type": sma_type.fillna("unknown").astype(str).to_numpy(),
            "therapy": cohort["therapy"].astype(str).to_numpy(),
            "age_band": age_band(cohort["index_age_days"]),
        },
        index=pd.Index(cohort["index_id"].astype(str), name="index_id"),
    )
    for col in ("region", "sma_type", "therapy"):
        frame[col] = frame[col].astype(pd.CategoricalDtype(sorted(frame[col].unique())))
    return frame


def _per_event(predictions: pd.DataFrame) -> pd.DataFrame:
    """One prediction per index event: averaged over repeats of repeated cross-validation."""
    repeats = predictions["repeat"] if "repeat" in predictions else pd.Series([0])
    if (repeats != repeats.iloc[0]).any():
        return predictions.groupby("index_id", sort=False).agg(
            y_true=("y_true", "first"), y_pred=("y_pred", "mean")
        )
    return predictions.set_index("index_id")[["y_true", "y_pred"]]


def subgroup_metrics(
    predictions: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    task: str,
    rng: np.random.Generator,
    min_n: int = 20,
    n_boot: int = 200,
    imprecise_events: int = 100,
    overall: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Metrics with bootstrap intervals overall and for every level of every grouping column.

    Parameters
    ----------
    predictions
        ``index_id, y_true, y_pred`` (and optionally ``repeat``: predictions of repeated
        cross-validation are averaged per index event first).
    groups
        Indexed by ``index_id`` (or with an ``index_id`` column); every other column is a
        grouping variable, e.g. from :func:`make_subgroups`.
    task
        ``classification`` or ``regression``.
    rng
        Random generator; each row gets its own child stream (``rng.spawn``), so a row's
        interval does not depend on the other groups.
    min_n
        Groups with fewer index events (or, for classification, fewer than 5 events or
        non-events) are flagged ``small``: their estimates are unstable.
    n_boot
        Bootstrap resamples per group.
    imprecise_events
        Groups with fewer events or non-events than this (classification; index events for
        regression) are flagged ``imprecise``: their intervals are wide and their calibration
        is hardly measured (Riley et al. suggest at least 100 of each for validation).
    overall
        The headline metrics of the same predictions, already computed: the ``overall`` row
        takes them instead of a second bootstrap, so a report shows one interval for one
        number (the other rows keep their own random streams).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``variable, level, n, n_events, small, imprecise`` and every key of
        :func:`~sma_response.evaluate.metrics.compute_metrics`; the first row is
        ``variable="overall", level="all"``. Empty levels are left out.

    Examples
    --------
    >>> pred = pd.DataFrame({"index_id": list("abcdef"), "y_true": [0, 1, 0, 1, 0, 1.0],
    ...                      "y_pred": [0.2, 0.9, 0.1, 0.7, 0.6, 0.4]})
    >>> groups = pd.DataFrame({"region": list("XXXYYY")}, index=pd.Index(list("abcdef"),
    ...                       name="index_id"))
    >>> out = subgroup_metrics(pred, groups, task="classification",
    ...                        rng=np.random.default_rng(0), n_boot=0)
    >>> out[["level", "n", "auroc", "small"]].values.tolist()
    [['all', 6, 0.8888888888888888, True], ['X', 3, 1.0, True], ['Y', 3, 0.5, True]]
    """
    per_event = _per_event(predictions)
    table = groups.set_index("index_id") if "index_id" in groups.columns else groups
    table = table.reindex(per_event.index)
    cells: list[tuple[str, str, np.ndarray]] = [("overall", "all", np.ones(len(per_event), bool))]
    for variable in table.columns:
        column = table[variable]
        levels = (
            list(column.cat.categories)
            if isinstance(column.dtype, pd.CategoricalDtype)
            else sorted(column.dropna().astype(str).unique())
        )
        for level in levels:
            mask = (column.astype(object) == level).to_numpy(dtype=bool)
            if mask.any():
                cells.append((str(variable), str(level), mask))
    y = per_event["y_true"].to_numpy(dtype=float)
    p = per_event["y_pred"].to_numpy(dtype=float)
    patients = per_event.index.astype(str).to_numpy()
    rows = []
    for (variable, level, mask), child in zip(cells, rng.spawn(len(cells)), strict=True):
        if variable == "overall" and overall is not None:
            metrics = dict(overall)
        else:
            metrics = compute_metrics(
                y[mask], p[mask], task=task, rng=child, n_boot=n_boot,
                clusters=patient_clusters(patients[mask]),
            )  # fmt: skip
        n = int(mask.sum())
        if task == "classification":
            n_events = int(y[mask].sum())
            small = n < min_n or min(n_events, n - n_events) < 5
            imprecise = min(n_events, n - n_events) < imprecise_events
        else:
            n_events = None
            small = n < min_n
            imprecise = n < imprecise_events
        rows.append(
            {
                "variable": variable,
                "level": level,
                "n": n,
                "n_events": n_events,
                "small": small,
                "imprecise": imprecise,
                **{k: v for k, v in metrics.items() if k not in ("n", "n_events")},
            }
        )
    out = pd.DataFrame(rows)
    out["n_events"] = out["n_events"].astype("Int64")
    log.info(
        "subgroup_metrics: %d groups, %d flagged small, %d imprecise",
        len(out), int(out["small"].sum()), int(out["imprecise"].sum()),
    )  # fmt: skip
    return out
