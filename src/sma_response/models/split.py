"""Validation splits, grouped by linked person so one person never sits on both sides."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from sma_response._utils.random import spawn_seeds
from sma_response.models.spec import VALIDATION_KINDS, ValidationSpec

__all__ = [
    "SPLIT_COLUMNS",
    "assign_splits",
    "check_validation_spec",
    "loro_regions",
    "reserve_confirmation",
]

log = logging.getLogger(__name__)

SPLIT_COLUMNS = ("index_id", "repeat", "fold")
#: Folds the confirmation set is drawn from (its share comes in steps of 1/20).
_CONFIRMATION_FOLDS = 20
#: Bins of a continuous target used for stratification (quantiles).
_N_STRATA_BINS = 5


def check_validation_spec(spec: ValidationSpec) -> None:
    """Raise ``ValueError`` naming the offending key if ``spec`` is invalid.

    Examples
    --------
    >>> check_validation_spec(ValidationSpec(kind="loro")) is None
    True
    """
    if spec.kind not in VALIDATION_KINDS:
        msg = (
            f"validation.kind: unknown kind {spec.kind!r}; expected one of {list(VALIDATION_KINDS)}"
        )
        raise ValueError(msg)
    if spec.n_splits < 2:
        msg = f"validation.n_splits: must be >= 2, got {spec.n_splits}"
        raise ValueError(msg)
    if spec.n_repeats < 1:
        msg = f"validation.n_repeats: must be >= 1, got {spec.n_repeats}"
        raise ValueError(msg)
    if not 0.0 < spec.test_fraction < 1.0:
        msg = f"validation.test_fraction: must be in (0, 1), got {spec.test_fraction}"
        raise ValueError(msg)
    if not 0.0 <= spec.confirmation <= 0.9:
        msg = f"validation.confirmation: must be in [0, 0.9], got {spec.confirmation}"
        raise ValueError(msg)


def _strata(target: pd.Series) -> np.ndarray:
    """Class labels of a binary target, or quantile bins of a continuous one."""
    values = target.to_numpy(dtype=float)
    if np.isin(values, (0.0, 1.0)).all():
        return values.astype(np.int64)
    bins = pd.qcut(values, q=_N_STRATA_BINS, labels=False, duplicates="drop")
    return np.asarray(bins, dtype=np.int64)


def _person_region(rows: pd.DataFrame) -> pd.Series:
    """One region per linked person: that of the person's home record (else the first row)."""
    home = rows.assign(_home=rows["patient_id"] == rows["linked_id"]).sort_values(
        ["linked_id", "_home"], ascending=[True, False], kind="stable"
    )
    return home.drop_duplicates("linked_id").set_index("linked_id")["region"]


def assign_splits(
    cohort: pd.DataFrame, target: pd.DataFrame, *, spec: ValidationSpec, seed: int
) -> pd.DataFrame:
    """Assign every labelled index event to the fold in which it is held out.

    Parameters
    ----------
    cohort
        ``index_id, patient_id, linked_id, region`` (from ``build_cohort``).
    target
        ``index_id, target`` (from ``define_target``); only these index events are split.
    spec
        Validation design.
    seed
        Seed of the shuffles (``grouped_kfold``, ``holdout``); repeat ``r`` uses the ``r``-th
        child seed, so adding repeats leaves the first ones unchanged.

    Returns
    -------
    pandas.DataFrame
        ``index_id, repeat, fold`` (schema :class:`~sma_response.schemas.Splits`), one row per
        index event and repeat: ``fold`` is where the row is held out; ``-1`` for the training
        part of a hold-out split. For ``loro``, fold ``k`` is the ``k``-th region in sorted
        order (see :func:`loro_regions`). All index events of a linked person share a fold.

    Raises
    ------
    ValueError
        If ``spec`` is invalid, or there are fewer persons (regions) than folds.

    Examples
    --------
    >>> cohort = pd.DataFrame({"index_id": [f"p{i}#1" for i in range(6)],
    ...                        "patient_id": [f"p{i}" for i in range(6)],
    ...                        "linked_id": ["p0", "p0", "p2", "p3", "p4", "p5"],
    ...                        "region": ["DE", "DE", "IT", "IT", "NL", "NL"]})
    >>> target = pd.DataFrame({"index_id": cohort["index_id"], "target": [0, 1, 0, 1, 0, 1.0]})
    >>> assign_splits(cohort, target, spec=ValidationSpec(kind="loro"), seed=0)["fold"].tolist()
    [0, 0, 1, 1, 2, 2]
    """
    check_validation_spec(spec)
    rows = cohort[["index_id", "patient_id", "linked_id", "region"]].astype(str)
    rows = rows.merge(
        target[["index_id", "target"]].assign(index_id=lambda d: d["index_id"].astype(str)),
        on="index_id",
        how="inner",
        validate="one_to_one",
    ).reset_index(drop=True)
    groups = rows["linked_id"].to_numpy()
    n_groups = len(np.unique(groups))
    strata = _strata(rows["target"]) if spec.stratify else None
    frames = []
    if spec.kind == "loro":
        regions = loro_regions(cohort)
        if len(regions) < 2:
            msg = f"validation.kind: 'loro' needs at least 2 regions, found {regions}"
            raise ValueError(msg)
        person_fold = _person_region(rows).map({r: k for k, r in enumerate(regions)})
        fold = rows["linked_id"].map(person_fold).to_numpy(dtype=np.int64)
        frames.append(pd.DataFrame({"index_id": rows["index_id"], "repeat": 0, "fold": fold}))
    else:
        n_folds = (
            spec.n_splits if spec.kind == "grouped_kfold" else max(2, round(1 / spec.test_fraction))
        )
        if n_groups < n_folds:
            msg = f"validation.n_splits: {n_folds} folds need >= {n_folds} persons, got {n_groups}"
            raise ValueError(msg)
        for repeat, child in enumerate(spawn_seeds(seed, spec.n_repeats)):
            if strata is not None:
                splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=child)
            else:
                splitter = GroupKFold(n_folds, shuffle=True, random_state=child)
            fold = np.full(len(rows), -1, dtype=np.int64)
            y = strata if strata is not None else np.zeros(len(rows), dtype=np.int64)
            for k, (_, test) in enumerate(splitter.split(rows, y, groups)):
                fold[test] = k
            if spec.kind == "holdout":
                fold = np.where(fold == 0, 0, -1)
            frames.append(
                pd.DataFrame({"index_id": rows["index_id"], "repeat": repeat, "fold": fold})
            )
    out = pd.concat(frames, ignore_index=True)
    out = out.assign(repeat=out["repeat"].astype(np.int64), fold=out["fold"].astype(np.int64))
    log.info(
        "assign_splits: %s, %d index events of %d persons, %d repeat(s), folds %s",
        spec.kind,
        len(rows),
        n_groups,
        out["repeat"].nunique(),
        sorted(out["fold"].unique().tolist()),
    )
    return out[list(SPLIT_COLUMNS)]


def reserve_confirmation(
    cohort: pd.DataFrame, target: pd.DataFrame, *, fraction: float, seed: int
) -> pd.Index:
    """Return the persons (``linked_id``) reserved for the confirmation set.

    About ``fraction`` of the labelled persons (in steps of 5 %: that many of the 20 folds of a
    stratified grouped split), with its own seed stream (not the folds' streams), so the
    reservation depends on the data and ``seed`` only: the same persons in every run of a sweep
    over model settings, and a larger fraction holds the persons of a smaller one.

    Examples
    --------
    >>> ids = [f"p{i}#1" for i in range(40)]
    >>> cohort = pd.DataFrame({"index_id": ids, "patient_id": [i[:-2] for i in ids],
    ...                        "linked_id": [i[:-2] for i in ids], "region": "DE"})
    >>> target = pd.DataFrame({"index_id": ids, "target": [0.0, 1.0] * 20})
    >>> held = reserve_confirmation(cohort, target, fraction=0.25, seed=0)
    >>> len(held), held.equals(reserve_confirmation(cohort, target, fraction=0.25, seed=0))
    (10, True)
    """
    if fraction <= 0:
        return pd.Index([], dtype=object, name="linked_id")
    rows = (
        cohort[["index_id", "linked_id"]]
        .astype(str)
        .merge(
            target[["index_id", "target"]].assign(index_id=lambda d: d["index_id"].astype(str)),
            on="index_id",
        )
    )
    n_groups = rows["linked_id"].nunique()
    n_folds = min(_CONFIRMATION_FOLDS, n_groups)
    take = min(max(1, round(fraction * n_folds)), n_folds - 1)
    stream = int(np.random.SeedSequence([seed, 0xC0F1]).generate_state(1)[0])
    splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=stream)
    folds = splitter.split(rows, _strata(rows["target"]), rows["linked_id"])
    held = np.concatenate([test for _, (_, test) in zip(range(take), folds, strict=False)])
    return pd.Index(sorted(rows["linked_id"].iloc[held].unique()), name="linked_id")


def loro_regions(cohort: pd.DataFrame) -> list[str]:
    """Regions in fold order for leave-one-region-out (fold ``k`` holds out ``regions[k]``).

    Examples
    --------
    >>> loro_regions(pd.DataFrame({"region": ["US", "DE", "US"]}))
    ['DE', 'US']
    """
    return sorted(cohort["region"].astype(str).unique().tolist())
