from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.features.design import Design, split_confirmation
from sma_response.models import ValidationSpec, assign_splits, loro_regions
from sma_response.models.split import reserve_confirmation
from sma_response.schemas import Splits


def _linked_side(cohort, splits):
    """Fail if a linked person is on both sides of any fold."""
    merged = splits.merge(cohort[["index_id", "linked_id"]], on="index_id")
    folds_per_person = merged.groupby(["repeat", "linked_id"])["fold"].nunique()
    assert (folds_per_person == 1).all()


def _with_linked_duplicates(cohort):
    """Make every third person share a linked id with the next row (as shared patients do)."""
    linked = cohort["linked_id"].to_numpy().copy()
    linked[1::3] = linked[0:-1:3][: len(linked[1::3])]
    return cohort.assign(linked_id=linked)


@pytest.mark.parametrize("n_repeats", [1, 3])
def test_grouped_kfold_keeps_people_on_one_side(modelling, n_repeats):
    cohort, targets, _, _ = modelling
    cohort = _with_linked_duplicates(cohort)
    spec = ValidationSpec(n_splits=5, n_repeats=n_repeats)
    splits = assign_splits(cohort, targets, spec=spec, seed=1)
    Splits.validate(splits)
    assert list(splits.columns) == ["index_id", "repeat", "fold"]
    assert len(splits) == n_repeats * len(targets)
    assert set(splits["fold"]) == set(range(5))
    _linked_side(cohort, splits)
    for _, part in splits.groupby("repeat"):
        assert sorted(part["index_id"]) == sorted(targets["index_id"])


def test_folds_are_stratified(modelling):
    cohort, targets, _, _ = modelling
    splits = assign_splits(cohort, targets, spec=ValidationSpec(), seed=0)
    rate = splits.merge(targets, on="index_id").groupby("fold")["target"].mean()
    assert (rate - targets["target"].mean()).abs().max() < 0.15


def test_same_seed_same_splits_and_repeats_differ(modelling):
    cohort, targets, _, _ = modelling
    spec = ValidationSpec(n_repeats=2)
    a = assign_splits(cohort, targets, spec=spec, seed=7)
    pd.testing.assert_frame_equal(a, assign_splits(cohort, targets, spec=spec, seed=7))
    assert not a.equals(assign_splits(cohort, targets, spec=spec, seed=8))
    first, second = (part["fold"].to_numpy() for _, part in a.groupby("repeat"))
    assert (first != second).any()
    # Prefix-stable: one repeat equals the first of two.
    one = assign_splits(cohort, targets, spec=ValidationSpec(n_repeats=1), seed=7)
    pd.testing.assert_frame_equal(one, a.loc[a["repeat"] == 0].reset_index(drop=True))


def test_leave_one_region_out(modelling):
    cohort, targets, _, _ = modelling
    # A person with records in two regions must land in one region's fold only.
    moved = cohort.copy()
    moved.loc[moved.index[1], "linked_id"] = moved.loc[moved.index[0], "linked_id"]
    moved.loc[moved.index[1], "region"] = "ZZ"
    splits = assign_splits(moved, targets, spec=ValidationSpec(kind="loro"), seed=0)
    regions = loro_regions(moved)
    merged = splits.merge(moved[["index_id", "region", "linked_id"]], on="index_id")
    assert (splits["repeat"] == 0).all()
    honest = merged.loc[merged.index[2:]]
    assert (honest["fold"].map(dict(enumerate(regions))) == honest["region"]).all()
    _linked_side(moved, splits)
    assert merged["fold"].iloc[0] == merged["fold"].iloc[1]


def test_holdout(modelling):
    cohort, targets, _, _ = modelling
    cohort = _with_linked_duplicates(cohort)
    splits = assign_splits(cohort, targets, spec=ValidationSpec(kind="holdout"), seed=0)
    assert set(splits["fold"]) == {-1, 0}
    assert abs((splits["fold"] == 0).mean() - 0.2) < 0.08
    _linked_side(cohort, splits)


def test_continuous_targets_are_stratified_by_quantiles(modelling):
    cohort, targets, _, _ = modelling
    rng = np.random.default_rng(0)
    continuous = targets.assign(target=rng.normal(size=len(targets)))
    splits = assign_splits(cohort, continuous, spec=ValidationSpec(), seed=0)
    assert set(splits["fold"]) == set(range(5))


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"kind": "kfold"}, "validation.kind"),
        ({"n_splits": 1}, "validation.n_splits"),
        ({"n_repeats": 0}, "validation.n_repeats"),
        ({"test_fraction": 1.5}, "validation.test_fraction"),
    ],
)
def test_invalid_spec_names_the_key(modelling, change, key):
    cohort, targets, _, _ = modelling
    with pytest.raises(ValueError, match=key):
        assign_splits(cohort, targets, spec=ValidationSpec(**change), seed=0)


def test_the_confirmation_set_is_whole_persons_stratified_and_fixed_by_the_seed(modelling):
    cohort, targets, X, y = modelling
    cohort = _with_linked_duplicates(cohort)
    labelled = cohort.loc[cohort["index_id"].isin(targets["index_id"])]
    held = reserve_confirmation(cohort, targets, fraction=0.2, seed=0)
    share = len(held) / labelled["linked_id"].nunique()
    assert 0.15 < share < 0.25
    assert held.equals(reserve_confirmation(cohort, targets, fraction=0.2, seed=0))
    assert not held.equals(reserve_confirmation(cohort, targets, fraction=0.2, seed=1))
    assert reserve_confirmation(cohort, targets, fraction=0.0, seed=0).empty
    smaller = reserve_confirmation(cohort, targets, fraction=0.1, seed=0)
    larger = reserve_confirmation(cohort, targets, fraction=0.7, seed=0)
    assert set(smaller) < set(held) < set(larger)  # nested: a learning curve's sizes
    assert 0.65 < len(larger) / labelled["linked_id"].nunique() < 0.75
    rate = targets.merge(cohort[["index_id", "linked_id"]], on="index_id")
    in_held = rate["linked_id"].isin(held)
    assert abs(rate.loc[in_held, "target"].mean() - rate["target"].mean()) < 0.08
    # Split off, the persons are gone from the design with all their index events.
    ids = labelled["index_id"]
    design = Design(
        cohort=labelled.reset_index(drop=True), attrition=pd.DataFrame(), X=X.loc[ids],
        targets=targets, y=y.loc[ids],
    )  # fmt: skip
    dev, confirm = split_confirmation(design, held)
    assert set(dev.cohort["linked_id"]).isdisjoint(held)
    assert set(confirm.cohort["linked_id"]) == set(held)
    assert len(dev.X) + len(confirm.X) == len(design.X)
    assert dev.attrition["rule"].iloc[-1] == "confirmation"
    assert dev.attrition["excluded"].iloc[-1] == len(confirm.X)
