from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._fixtures.cdm import copy_cdm
from tests._fixtures.tiny import tiny_cdm

from sma_response.cohort import CohortSpec, build_cohort
from sma_response.features import FeatureSpec, make_features
from sma_response.features.engineer import CATEGORIES
from sma_response.features.spec import ALL_FEATURES
from sma_response.schemas import EVENT_CODES, SCALE_CODES, SCALE_RANGES, THERAPY_CODES

# ----------------------------------------------------------------------------- look-ahead guard


def perturb_after(
    cdm: dict[str, pd.DataFrame], cutoff: pd.Series, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Randomly change, drop and add every row dated strictly after each patient's cutoff.

    ``cutoff`` maps patient_id -> age (days); patients without one are perturbed entirely.
    """
    out = copy_cdm(cdm)

    def after(table: pd.DataFrame, col: str = "age_days") -> np.ndarray:
        cut = table["patient_id"].map(cutoff).astype(float).fillna(-1.0)
        return (table[col].astype(float) > cut).to_numpy()

    def cut_of(table: pd.DataFrame) -> np.ndarray:
        return table["patient_id"].map(cutoff).astype(float).fillna(-1.0).to_numpy()

    def add_rows(table: pd.DataFrame, n: int, make) -> pd.DataFrame:
        who = rng.choice(np.asarray(cutoff.index), size=n)
        ages = cutoff.loc[who].to_numpy(dtype=float) + rng.uniform(1, 900, size=n)
        new = make(pd.Series(who, dtype=table["patient_id"].dtype), ages)
        return pd.concat([table, new.astype(table.dtypes.to_dict())], ignore_index=True)

    def drop_some(table: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
        gone = mask & (rng.random(len(table)) < 0.3)
        return table.loc[~gone].reset_index(drop=True)

    # Assessments: new scores within range, some dropped, new ones added.
    a = out["assessments"]
    m = after(a)
    hi = a["scale"].map({k: v[1] for k, v in SCALE_RANGES.items()}).to_numpy(dtype=float)
    a.loc[m, "score"] = np.round(rng.uniform(0, 1, m.sum()) * hi[m])
    a = drop_some(a, m)
    a = add_rows(
        a,
        200,
        lambda who, ages: pd.DataFrame(
            {
                "patient_id": who,
                "age_days": ages,
                "scale": rng.choice(list(SCALE_CODES), size=len(who)),
                "score": rng.integers(0, 26, size=len(who)).astype(float),
            }
        ),
    )
    out["assessments"] = a
    # Milestones and clinical status: random values after the cutoff.
    mi = out["milestones"]
    m = after(mi)
    for col in ("able", "ever"):
        mi.loc[m, col] = pd.array(rng.random(m.sum()) < 0.5, dtype="boolean")
    out["milestones"] = drop_some(mi, m)
    cs = out["clinical_status"]
    m = after(cs)
    cs.loc[m, "ventilation_hours_per_day"] = rng.integers(0, 25, m.sum()).astype(float)
    for col in ("feeding_tube", "scoliosis_surgery", "ambulant"):
        cs.loc[m, col] = pd.array(rng.random(m.sum()) < 0.5, dtype="boolean")
    cs = drop_some(cs, m)
    out["clinical_status"] = add_rows(
        cs,
        200,
        lambda who, ages: pd.DataFrame(
            {
                "patient_id": who,
                "age_days": ages,
                "ventilation_hours_per_day": 24.0,
                "feeding_tube": True,
                "scoliosis_surgery": True,
                "ambulant": False,
                "weight_kg": 10.0,
            }
        ),
    )
    # Events: later events moved (still after the cutoff), new ones added.
    ev = out["events"]
    m = after(ev)
    ev.loc[m, "age_days"] = cut_of(ev)[m] + rng.uniform(1, 500, m.sum())
    out["events"] = add_rows(
        drop_some(ev, m),
        200,
        lambda who, ages: pd.DataFrame(
            {"patient_id": who, "event": rng.choice(list(EVENT_CODES), len(who)), "age_days": ages}
        ),
    )
    # Treatments: later courses change therapy and start; stops after the cutoff move.
    tr = out["treatments"]
    m = after(tr, "start_age_days")
    tr.loc[m, "therapy"] = rng.choice(list(THERAPY_CODES), m.sum())
    tr.loc[m, "start_age_days"] = cut_of(tr)[m] + rng.uniform(1, 300, m.sum())
    stop_after = after(tr, "stop_age_days") & tr["stop_age_days"].notna().to_numpy()
    tr.loc[stop_after, "stop_age_days"] = np.nan
    out["treatments"] = tr
    # Patients: an onset after the cutoff is not known at the index; change it.
    p = out["patients"]
    onset = p["onset_age_days"].astype(float)
    m = (onset > p["patient_id"].map(cutoff).astype(float).fillna(-1.0)).to_numpy()
    p.loc[m, "onset_age_days"] = onset[m] + rng.uniform(1, 1000, m.sum())
    return out


@pytest.fixture(scope="module")
def cohort_every(cdm):
    cohort, _ = build_cohort(cdm, spec=CohortSpec(index="every_start"))
    return cohort


@pytest.fixture(scope="module")
def features_every(cdm, cohort_every):
    return make_features(cdm, cohort_every, spec=FeatureSpec(include_region=True))


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1))
def test_nothing_after_the_index_changes_any_feature(cdm, cohort_every, features_every, seed):
    rng = np.random.default_rng(seed)
    for line in sorted(cohort_every["line"].unique()):
        rows = cohort_every.loc[cohort_every["line"] == line]
        cutoff = rows.set_index("patient_id")["index_age_days"]
        changed = perturb_after(cdm, cutoff, rng)
        again = make_features(changed, cohort_every, spec=FeatureSpec(include_region=True))
        ids = rows["index_id"]
        pd.testing.assert_frame_equal(again.loc[ids], features_every.loc[ids], check_exact=True)


def test_the_guard_has_teeth(cdm, cohort_every, features_every):
    """Changing a score dated at the index does change the features."""
    row = cohort_every.iloc[0]
    changed = copy_cdm(cdm)
    a = changed["assessments"]
    at_index = (a["patient_id"] == row["patient_id"]) & (a["age_days"] <= row["index_age_days"])
    a.loc[at_index, "score"] = 0.0
    again = make_features(changed, cohort_every, spec=FeatureSpec(include_region=True))
    assert not again.loc[[row["index_id"]]].equals(features_every.loc[[row["index_id"]]])


# ----------------------------------------------------------------------------- frame contract


def test_frame_layout_and_dtypes(cohort_every, features_every):
    X = features_every
    assert X.index.name == "index_id"
    assert X.index.tolist() == cohort_every["index_id"].tolist()
    assert list(X.columns) == [*ALL_FEATURES, "region"]
    for name in X.columns:
        dtype = X[name].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            assert all(isinstance(c, str) for c in dtype.categories), name
            if name in CATEGORIES:
                assert list(dtype.categories) == CATEGORIES[name]
        else:
            assert dtype == np.float64, name
    assert X["age_at_index_months"].notna().all()
    assert X["baseline_primary_score"].notna().mean() > 0.8
    assert X["primary_slope_per_year"].notna().mean() > 0.3


def test_region_only_on_request_and_subset_order(cdm, cohort_every):
    spec = FeatureSpec(features=["therapy", "age_at_index_months"])
    X = make_features(cdm, cohort_every, spec=spec)
    assert list(X.columns) == ["therapy", "age_at_index_months"]


def test_inputs_are_not_modified(cdm, cohort_every):
    before, cohort_before = copy_cdm(cdm), cohort_every.copy()
    make_features(cdm, cohort_every, spec=FeatureSpec(include_region=True))
    pd.testing.assert_frame_equal(cohort_every, cohort_before)
    for name, table in cdm.items():
        pd.testing.assert_frame_equal(table, before[name])


def test_unknown_feature_names_the_key(cdm, cohort_every):
    with pytest.raises(ValueError, match=r"features\.features"):
        make_features(cdm, cohort_every, spec=FeatureSpec(features=["hair_colour"]))


# ----------------------------------------------------------------------------- known answers

INDEX = 2000.0


def _features(**tables):
    cdm = tiny_cdm(
        patients=[{"name": "a", "onset_age_days": tables.pop("onset", 400.0)}],
        treatments=[("a", "risdiplam", INDEX, None), ("a", "nusinersen", 1000.0, INDEX - 1)],
        **tables,
    )
    cohort, _ = build_cohort(
        cdm, spec=CohortSpec(index="every_start", require_baseline_score=False)
    )
    cohort = cohort.loc[cohort["line"] == 2]
    return make_features(cdm, cohort, spec=FeatureSpec()).iloc[0]


def test_known_values():
    x = _features(
        assessments=[
            ("a", INDEX - 365.25, "hfmse", 10.0),
            ("a", INDEX - 365.25 / 2, "hfmse", 11.0),
            ("a", INDEX, "hfmse", 12.0),
            ("a", INDEX - 50, "rulm", 20.0),
            ("a", INDEX - 200, "rulm", 99.0 / 3),  # outside the 180-day window
        ],
        milestones=[("a", INDEX - 30, "sitting", True), ("a", INDEX - 30, "walking", False)],
        clinical_status=[
            ("a", INDEX - 400, 4.0, True, False),
            ("a", INDEX - 30, np.nan, False, None),
        ],
        events=[("a", "scoliosis_surgery", INDEX - 10)],
    )
    assert x["age_at_index_months"] == pytest.approx(INDEX / (365.25 / 12))
    assert x["disease_duration_months"] == pytest.approx((INDEX - 400) / (365.25 / 12))
    assert (x["therapy"], x["line"], x["prior_therapy"]) == ("risdiplam", 2.0, "nusinersen")
    assert (x["baseline_hfmse"], x["baseline_rulm"]) == (12.0, 20.0)
    assert np.isnan(x["baseline_chop_intend"])
    assert (x["function_at_baseline"], x["baseline_primary_scale"]) == ("sitter", "hfmse")
    assert x["baseline_primary_score"] == 12.0
    assert x["primary_slope_per_year"] == pytest.approx(2.0)
    assert x["ventilation_hours_per_day"] == 4.0  # latest recorded value
    assert x["feeding_tube"] == 0.0  # latest status
    assert x["scoliosis_surgery"] == 1.0  # surgery event before the index


def test_slope_needs_two_assessments_over_a_long_enough_span():
    x = _features(assessments=[("a", INDEX - 30, "hfmse", 10.0), ("a", INDEX, "hfmse", 12.0)])
    assert np.isnan(x["primary_slope_per_year"])


def test_onset_after_the_index_is_unknown():
    x = _features(onset=INDEX + 100, assessments=[("a", INDEX, "chop_intend", 30.0)])
    assert np.isnan(x["onset_age_months"])
    assert np.isnan(x["disease_duration_months"])
    # No milestones: CHOP INTEND alone after age 2 marks a non-sitter.
    assert (x["function_at_baseline"], x["baseline_primary_scale"]) == ("non_sitter", "chop_intend")


def test_permanent_ventilation_event_sets_hours():
    x = _features(
        events=[("a", "permanent_ventilation", INDEX - 5)],
        assessments=[("a", INDEX, "chop_intend", 10.0)],
    )
    assert x["ventilation_hours_per_day"] == 16.0
