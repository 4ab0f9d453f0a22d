from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.cohort import CohortSpec, build_cohort
from sma_response.features import FeatureSpec, concept_of, make_features, make_preprocessor


@pytest.fixture(scope="module")
def X(cdm):
    cohort, _ = build_cohort(cdm, spec=CohortSpec())
    return make_features(cdm, cohort, spec=FeatureSpec(include_region=True))


@pytest.mark.parametrize("kind", ["tree", "linear"])
def test_every_output_column_traces_back_to_a_feature(X, kind):
    out = make_preprocessor(X.dtypes, kind=kind).fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(X.index)
    assert {concept_of(c) for c in out.columns} == set(X.columns)
    for name in X.select_dtypes("category").columns:
        levels = [c for c in out.columns if concept_of(c) == name]
        assert levels == [f"{name}__{level}" for level in X[name].cat.categories]


def test_tree_kind_passes_numerics_through_with_their_missing_values(X):
    out = make_preprocessor(X.dtypes, kind="tree").fit_transform(X)
    numeric = X.select_dtypes("number").columns
    pd.testing.assert_frame_equal(out[numeric], X[numeric])
    assert out[numeric].isna().to_numpy().any()


def test_linear_kind_imputes_scales_and_flags_missing(X):
    out = make_preprocessor(X.dtypes, kind="linear").fit_transform(X)
    assert not out.isna().to_numpy().any()
    numeric = X.select_dtypes("number").columns
    np.testing.assert_allclose(out[numeric].mean(), 0.0, atol=1e-9)
    with_missing = [c for c in numeric if X[c].isna().any()]
    assert with_missing
    for c in with_missing:
        assert f"{c}__missing" in out.columns


def test_unknown_levels_at_transform_are_ignored(X):
    pre = make_preprocessor(X.dtypes, kind="tree").fit(X)
    other = X.assign(region=pd.Categorical(["ZZ"] * len(X), categories=["ZZ"]))
    out = pre.transform(other)
    assert (out[[c for c in out.columns if c.startswith("region__")]] == 0).all().all()


def test_missing_category_is_all_zeros(X):
    pre = make_preprocessor(X.dtypes, kind="linear").fit(X)
    one = X.iloc[[0]].copy()
    one["sex"] = pd.Series([np.nan], index=one.index, dtype=X["sex"].dtype)
    out = pre.transform(one)
    assert out[["sex__F", "sex__M"]].to_numpy().tolist() == [[0.0, 0.0]]


def test_unknown_kind_and_bad_names_raise(X):
    with pytest.raises(ValueError, match="preprocess_kind"):
        make_preprocessor(X.dtypes, kind="deep")
    bad = pd.Series({"a__b": np.dtype(float)})
    with pytest.raises(ValueError, match="__"):
        make_preprocessor(bad, kind="tree")


def test_concept_of():
    assert concept_of("baseline_hfmse__missing") == "baseline_hfmse"
    assert concept_of("prior_therapy__none") == "prior_therapy"
    assert concept_of("age_at_index_months") == "age_at_index_months"
