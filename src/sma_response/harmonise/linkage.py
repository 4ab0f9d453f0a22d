"""Link records of one person found in several registries (probabilistic record linkage).

Registries share patients (families join a patient-reported registry as well as their clinic's),
each under its own local id. Records are compared on quasi-identifiers only, never on names or
record numbers: birth year and month and sex (exact, used as blocking keys), then the day of
birth, SMN2 copies, SMA type, onset and diagnosis age and the first therapy with its start age,
each adding or subtracting agreement points (Fellegi-Sunter style weights, fixed by hand).
Pairs from two
different registries scoring at least ``threshold`` are candidates; each record keeps its best
candidate per other registry (a person is enrolled once per registry), mutual best matches are
linked, and linked records share a ``linked_id``: the smallest ``patient_id`` of the group.

:func:`linkage_quality` measures precision and recall of the links (pairs) against a known
truth (the simulator's), for evaluation only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["LinkageSpec", "apply_links", "link_patients", "linkage_quality", "score_pairs"]

log = logging.getLogger(__name__)


@dataclass
class LinkageSpec:
    """Weights and tolerances of duplicate linkage.

    Ages are compared within their precision: two ages agree when they differ by at most the
    sum of their largest errors (0 for a full date, 16 days for a partial date completed to
    mid-month, 1.5 days for an age exported in months with one decimal) plus ``slack_days``.
    Agreement within a narrow window (at most ``precise_days``) earns the full weight, within a
    wider one half of it; a near miss (within ``near_days`` more: a date entered a few days
    off) scores nothing; a larger difference costs the weight.

    Attributes
    ----------
    slack_days
        Added to the combined precision of two ages (rounding).
    near_days
        Margin beyond the comparison window that counts as a near miss rather than a
        disagreement.
    precise_days
        Widest comparison window that still counts as a precise agreement.
    threshold
        Minimum total score of a linked pair.
    w_birth_day
        Same day of birth. Records are blocked on birth year, month and sex, and on the day of
        birth where both dates are complete, so two records with different days are never
        compared; the weight counts when one of them has a partial birth date (then 0).
    w_copies, w_type
        SMN2 copies and SMA type agree (disagreement costs twice the weight).
    w_onset, w_diagnosis
        Onset and diagnosis age agree.
    w_therapy
        Same first therapy, started at the same age (a different therapy or start costs half).
    max_block
        Most candidate pairs held in memory at once (blocks are compared in chunks).
    """

    slack_days: float = 0.5
    near_days: float = 3.0
    precise_days: float = 6.0
    threshold: float = 8.0
    w_birth_day: float = 5.0
    w_copies: float = 2.0
    w_type: float = 1.0
    w_onset: float = 3.0
    w_diagnosis: float = 3.0
    w_therapy: float = 5.0
    max_block: int = 1_000_000


#: Type codes that can describe the same person (a registry may not record the subtype).
_TYPE_GROUP = {"0": "0", "1": "1", "2": "2", "3": "3", "3a": "3", "3b": "3", "4": "4"}


def _age_agreement(
    pairs: pd.DataFrame, col: str, err: str, spec: LinkageSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``known, points`` per pair: +1 precise, +0.5 loose, 0 near miss, -1 disagreement."""
    x, y = pairs[f"{col}_a"].to_numpy(dtype=float), pairs[f"{col}_b"].to_numpy(dtype=float)
    ex = pairs[f"{err}_a"].to_numpy(dtype=float) if f"{err}_a" in pairs else np.zeros(len(pairs))
    ey = pairs[f"{err}_b"].to_numpy(dtype=float) if f"{err}_b" in pairs else np.zeros(len(pairs))
    window = np.nan_to_num(ex, nan=0.0) + np.nan_to_num(ey, nan=0.0) + spec.slack_days
    known = ~np.isnan(x) & ~np.isnan(y)
    gap = np.abs(x - y)
    points = np.where(
        gap <= window,
        np.where(window <= spec.precise_days, 1.0, 0.5),
        np.where(gap <= window + spec.near_days, 0.0, -1.0),
    )
    return known, np.where(known, points, 0.0)


def score_pairs(pairs: pd.DataFrame, *, spec: LinkageSpec) -> np.ndarray:
    """Agreement score of candidate pairs (columns suffixed ``_a`` and ``_b``).

    Parameters
    ----------
    pairs
        One row per pair with each quasi-identifier of both records (and the ``*_err``
        precision of each age, 0.5 day when absent).
    spec
        Weights and tolerances.

    Returns
    -------
    numpy.ndarray
        Score per pair.

    Examples
    --------
    >>> pairs = pd.DataFrame({"smn2_copies_a": [2, 2], "smn2_copies_b": [2, 3],
    ...     "sma_type_a": ["1", "1"], "sma_type_b": ["1", "2"], "onset_age_days_a": [60.0, 60.0],
    ...     "onset_age_days_b": [60.0, 300.0]})
    >>> score_pairs(pairs, spec=LinkageSpec()).tolist()
    [6.0, -9.0]
    """
    score = np.zeros(len(pairs))
    if "birth_day_a" in pairs:
        a = pairs["birth_day_a"].astype("Float64")
        b = pairs["birth_day_b"].astype("Float64")
        known = (a.notna() & b.notna()).to_numpy(dtype=bool)
        same = (a == b).fillna(value=False).to_numpy(dtype=bool)
        score += np.where(known, np.where(same, spec.w_birth_day, -spec.w_birth_day), 0.0)
    if "smn2_copies_a" in pairs:
        a = pairs["smn2_copies_a"].astype("Float64")
        b = pairs["smn2_copies_b"].astype("Float64")
        known = (a.notna() & b.notna()).to_numpy(dtype=bool)
        same = (a == b).fillna(value=False).to_numpy(dtype=bool)
        score += np.where(known, np.where(same, spec.w_copies, -2 * spec.w_copies), 0.0)
    if "sma_type_a" in pairs:
        a = pairs["sma_type_a"].astype("string").map(_TYPE_GROUP)
        b = pairs["sma_type_b"].astype("string").map(_TYPE_GROUP)
        known = (a.notna() & b.notna()).to_numpy(dtype=bool)
        same = (a == b).fillna(value=False).to_numpy(dtype=bool)
        score += np.where(known, np.where(same, spec.w_type, -2 * spec.w_type), 0.0)
    for col, err, weight in (
        ("onset_age_days", "onset_err", spec.w_onset),
        ("diagnosis_age_days", "diagnosis_err", spec.w_diagnosis),
    ):
        if f"{col}_a" in pairs:
            score += weight * _age_agreement(pairs, col, err, spec)[1]
    if "first_therapy_a" in pairs:
        a, b = pairs["first_therapy_a"].astype("string"), pairs["first_therapy_b"].astype("string")
        known = (a.notna() & b.notna()).to_numpy(dtype=bool)
        same = (a == b).fillna(value=False).to_numpy(dtype=bool)
        _, start = _age_agreement(pairs, "first_start_age_days", "first_start_err", spec)
        points = np.where(same & (start > 0), start, -0.5)
        score += np.where(known, spec.w_therapy * points, 0.0)
    return score


_PAIR_COLUMNS = ["patient_id_a", "registry_a", "patient_id_b", "registry_b", "score"]


def _block_pairs(
    left: pd.DataFrame, right: pd.DataFrame, on: list[str], spec: LinkageSpec
) -> list[pd.DataFrame]:
    """Scored pairs of ``left`` x ``right`` agreeing on ``on``, in chunks of bounded size."""
    if left.empty or right.empty:
        return []
    sizes = (
        left.groupby(on)
        .size()
        .rename("n_a")
        .to_frame()
        .join(right.groupby(on).size().rename("n_b"), how="inner")
    )
    if sizes.empty:
        return []
    chunk = np.cumsum((sizes["n_a"] * sizes["n_b"]).to_numpy()) // max(spec.max_block, 1)
    months = sizes.index.get_level_values("birth_month").to_numpy()
    kept = []
    for c in np.unique(chunk):
        lo, hi = months[chunk == c].min(), months[chunk == c].max()
        pairs = left.loc[left["birth_month"].between(lo, hi)].merge(
            right.loc[right["birth_month"].between(lo, hi)], on=on, suffixes=("_a", "_b")
        )
        pairs = pairs.assign(score=score_pairs(pairs, spec=spec))
        kept.append(pairs.loc[pairs["score"] >= spec.threshold, _PAIR_COLUMNS])
    return kept


def _scored_candidates(keys: pd.DataFrame, spec: LinkageSpec) -> pd.DataFrame:
    """Pairs from two registries with the same birth date and sex, scored and thresholded.

    Blocking: records with a full birth date are compared with records born the same day;
    a record with a partial birth date (month only) with every record born that month.
    """
    day = keys["birth_day"] if "birth_day" in keys else pd.Series(pd.NA, index=keys.index)
    usable = keys.loc[keys["birth_month"].notna()].assign(
        sex=keys["sex"].astype("string").fillna("?"), _day=day.astype("Float64").fillna(-1.0)
    )
    kept: list[pd.DataFrame] = []
    registries = sorted(usable["registry"].unique())
    for i, reg_a in enumerate(registries):
        left = usable.loc[usable["registry"] == reg_a]
        for reg_b in registries[i + 1 :]:
            right = usable.loc[usable["registry"] == reg_b]
            day_a, day_b = left["_day"] >= 0, right["_day"] >= 0
            kept += _block_pairs(left[day_a], right[day_b], ["birth_month", "sex", "_day"], spec)
            kept += _block_pairs(
                left[~day_a], right.drop(columns="_day"), ["birth_month", "sex"], spec
            )
            kept += _block_pairs(
                left[day_a].drop(columns="_day"),
                right[~day_b].drop(columns="_day"),
                ["birth_month", "sex"],
                spec,
            )
    if not kept:
        return pd.DataFrame(columns=_PAIR_COLUMNS)
    return pd.concat(kept, ignore_index=True)


def link_patients(keys: pd.DataFrame, *, spec: LinkageSpec | None = None) -> pd.DataFrame:
    """Link records of the same person across registries.

    Parameters
    ----------
    keys
        Quasi-identifiers per record (``patient_id, registry, birth_month, sex, smn2_copies,
        sma_type, onset_age_days, diagnosis_age_days, first_therapy, first_start_age_days``).
    spec
        Weights and tolerances (defaults when ``None``).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, linked_id`` for every record (``linked_id == patient_id`` when unlinked),
        sorted by ``patient_id``.

    Examples
    --------
    >>> keys = pd.DataFrame({"patient_id": ["b", "a", "c"], "registry": ["x", "y", "y"],
    ...     "birth_month": [24000] * 3, "birth_day": [9] * 3, "sex": ["F"] * 3,
    ...     "smn2_copies": [2, 2, 3],
    ...     "sma_type": ["1", "1", "2"], "onset_age_days": [60.0, 60.0, 400.0],
    ...     "diagnosis_age_days": [90.0, 90.0, 500.0]})
    >>> link_patients(keys)["linked_id"].tolist()
    ['a', 'a', 'c']
    """
    spec = spec or LinkageSpec()
    keys = keys.sort_values("patient_id", kind="stable").reset_index(drop=True)
    ids = keys["patient_id"].astype("string").to_numpy()
    out = pd.DataFrame({"patient_id": ids, "linked_id": ids})
    pairs = _scored_candidates(keys, spec)
    if pairs.empty:
        return out
    # One record per registry per person: keep mutual best candidates (ties: smaller id).
    pairs = pairs.sort_values(
        ["score", "patient_id_a", "patient_id_b"], ascending=[False, True, True], kind="stable"
    )
    best_a = pairs.drop_duplicates(["patient_id_a", "registry_b"])
    best_b = pairs.drop_duplicates(["patient_id_b", "registry_a"])
    mutual = best_a.merge(
        best_b[["patient_id_a", "patient_id_b"]], on=["patient_id_a", "patient_id_b"]
    )
    index = pd.Index(ids)
    ia = index.get_indexer(mutual["patient_id_a"].astype("string"))
    ib = index.get_indexer(mutual["patient_id_b"].astype("string"))
    # ids are sorted, so the smallest index in a group is its smallest patient_id
    first = _components(len(ids), ia, ib)
    out["linked_id"] = ids[first]
    log.info(
        "linkage: %d candidate pairs above threshold, %d links, %d linked groups",
        len(pairs),
        len(mutual),
        int((pd.Series(first).value_counts() > 1).sum()),
    )
    return out


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest node index of each node's connected component (edges ``a[i] - b[i]``).

    Label propagation with pointer jumping, vectorised over the edges (links are few).

    Examples
    --------
    >>> _components(5, np.array([0, 3]), np.array([2, 4])).tolist()
    [0, 1, 0, 3, 3]
    """
    label = np.arange(n)
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # pointer jumping
        if np.array_equal(new, label):
            return label
        label = new


def apply_links(patients: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Set ``patients.linked_id`` from :func:`link_patients` output (a new frame).

    Examples
    --------
    >>> p = pd.DataFrame({"patient_id": ["a", "b"], "linked_id": ["a", "b"]})
    >>> links = pd.DataFrame({"patient_id": ["b"], "linked_id": ["a"]})
    >>> apply_links(p, links)["linked_id"].tolist()
    ['a', 'a']
    """
    mapping = pd.Series(links["linked_id"].to_numpy(), index=links["patient_id"].to_numpy())
    linked = patients["patient_id"].map(mapping)
    return patients.assign(
        linked_id=linked.fillna(patients["patient_id"]).astype(patients["linked_id"].dtype)
    )


def linkage_quality(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Pairwise precision and recall of links against the truth.

    Parameters
    ----------
    links
        ``patient_id, linked_id`` per record.
    truth
        ``patient_id, person_id`` per record (records missing from ``links`` are ignored).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (1.0 when there is nothing to find or claim) and the
        pair counts ``n_true_pairs``, ``n_linked_pairs``, ``n_correct_pairs``.

    Examples
    --------
    >>> links = pd.DataFrame({"patient_id": list("abcd"), "linked_id": list("aacc")})
    >>> truth = pd.DataFrame({"patient_id": list("abcd"), "person_id": [1, 1, 2, 3]})
    >>> q = linkage_quality(links, truth)
    >>> q["precision"], q["recall"]
    (0.5, 1.0)
    """
    both = links.merge(truth, on="patient_id", how="inner")

    def n_pairs(counts: pd.Series) -> int:
        c = counts.to_numpy(dtype=np.int64)
        return int((c * (c - 1) // 2).sum())

    n_linked = n_pairs(both.groupby("linked_id").size())
    n_true = n_pairs(both.groupby("person_id").size())
    n_correct = n_pairs(both.groupby(["linked_id", "person_id"]).size())
    precision = n_correct / n_linked if n_linked else 1.0
    recall = n_correct / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "n_true_pairs": float(n_true),
        "n_linked_pairs": float(n_linked),
        "n_correct_pairs": float(n_correct),
    }
