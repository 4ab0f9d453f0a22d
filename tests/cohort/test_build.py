from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests._fixtures.cdm import copy_cdm
from tests._fixtures.tiny import pid, tiny_cdm

from sma_response.cohort import CohortSpec, TargetSpec, build_cohort
from sma_response.cohort.build import ATTRITION_COLUMNS, COHORT_COLUMNS, cohort_exclusions
from sma_response.schemas import Cohort


def _check_attrition(attrition: pd.DataFrame, cohort: pd.DataFrame) -> None:
    assert list(attrition.columns) == list(ATTRITION_COLUMNS)
    assert attrition["step"].tolist() == list(range(len(attrition)))
    events = attrition["n_index_events"].iloc[1:].astype(int).to_numpy()
    patients = attrition["n_patients"].astype(int).to_numpy()
    assert np.all(np.diff(events) <= 0)
    assert np.all(np.diff(patients) <= 0)
    np.testing.assert_array_equal(attrition["excluded"].iloc[2:].astype(int), -np.diff(events))
    np.testing.assert_array_equal(attrition["excluded_patients"].iloc[1:], -np.diff(patients))
    assert events[-1] == len(cohort)
    assert patients[-1] == cohort["patient_id"].nunique()


def test_first_start_cohort_on_simulated_data(cdm):
    cohort, attrition = build_cohort(cdm, spec=CohortSpec())
    Cohort.validate(cohort)
    assert list(cohort.columns) == list(COHORT_COLUMNS)
    assert len(cohort) > 100
    assert (cohort["line"] == 1).all()
    assert (cohort["prior_therapy"] == "none").all()
    assert (cohort["index_id"] == cohort["patient_id"] + "#1").all()
    _check_attrition(attrition, cohort)
    assert attrition["rule"].tolist() == [
        "registry_records",
        "therapy_start",
        "therapy",
        "baseline_score",
        "one_record_per_person",
    ]
    assert attrition["n_patients"].iloc[0] == len(cdm["patients"])


@pytest.mark.parametrize("index", ["first_start", "every_start"])
def test_every_patient_left_out_is_named_with_the_rule_that_counted_them(cdm, index):
    """Per rule, the named patients are exactly the attrition table's excluded patients."""
    spec = CohortSpec(index=index, max_index_age_days=20 * 365.25)
    cohort, attrition = build_cohort(cdm, spec=spec)
    named = cohort_exclusions(cdm, spec=spec)
    everyone = set(cdm["patients"]["patient_id"].astype(str))
    assert set(named["patient_id"]) == everyone - set(cohort["patient_id"])
    assert named["reason"].str.len().gt(0).all()
    counts = named["rule"].value_counts()
    for row in attrition.iloc[1:].itertuples():
        assert counts.get(row.rule, 0) == row.excluded_patients, row.rule


def test_patient_reported_registries_drop_out_through_the_baseline_rule(cdm):
    cohort, _ = build_cohort(cdm, spec=CohortSpec(index="every_start"))
    reporter = cohort["patient_id"].map(cdm["patients"].set_index("patient_id")["reporter"])
    assert (reporter == "clinician").all()


def test_every_index_event_has_a_score_in_the_baseline_window(cdm):
    spec = CohortSpec(index="every_start", baseline_window_days=120)
    cohort, _ = build_cohort(cdm, spec=spec)
    pairs = cohort.merge(cdm["assessments"], on="patient_id")
    lag = pairs["index_age_days"] - pairs["age_days"]
    ok = pairs.loc[(lag >= 0) & (lag <= 120), "index_id"].unique()
    assert set(ok) == set(cohort["index_id"])


def test_every_start_numbers_lines_and_prior_therapy(cdm):
    cohort, attrition = build_cohort(cdm, spec=CohortSpec(index="every_start"))
    _check_attrition(attrition, cohort)
    assert cohort["line"].max() >= 2
    treatments = cdm["treatments"].sort_values(["patient_id", "start_age_days"])
    treatments = treatments.assign(line=treatments.groupby("patient_id").cumcount() + 1)
    merged = cohort.merge(treatments, on=["patient_id", "line"], suffixes=("", "_t"))
    assert len(merged) == len(cohort)
    assert (merged["therapy"] == merged["therapy_t"]).all()
    assert (merged["index_age_days"] == merged["start_age_days"]).all()
    later = merged.loc[merged["line"] > 1]
    previous = treatments.assign(line=treatments["line"] + 1)
    check = later.merge(previous, on=["patient_id", "line"], suffixes=("", "_prev"))
    assert (check["prior_therapy"] == check["therapy_prev"]).all()


def test_therapy_and_age_rules_apply_and_are_counted(cdm):
    spec = CohortSpec(
        index="every_start",
        therapies=["nusinersen"],
        min_index_age_days=365.0,
        max_index_age_days=20 * 365.0,
    )
    cohort, attrition = build_cohort(cdm, spec=spec)
    assert (cohort["therapy"] == "nusinersen").all()
    assert cohort["index_age_days"].between(365.0, 20 * 365.0).all()
    assert attrition["rule"].tolist()[2:5] == ["therapy", "min_index_age", "max_index_age"]
    _check_attrition(attrition, cohort)


def test_target_rules_enter_the_attrition_table(cdm):
    spec = CohortSpec()
    cohort, attrition = build_cohort(cdm, spec=spec, target=TargetSpec())
    plain, _ = build_cohort(cdm, spec=spec)
    assert set(cohort["index_id"]) < set(plain["index_id"])
    assert {"no_baseline_on_scale", "no_outcome_on_scale"} <= set(attrition["rule"])
    _check_attrition(attrition, cohort)


def test_inputs_are_not_modified(cdm):
    before = copy_cdm(cdm)
    build_cohort(cdm, spec=CohortSpec(index="every_start"), target=TargetSpec())
    for name, table in cdm.items():
        pd.testing.assert_frame_equal(table, before[name])


def _two_records_of_one_person():
    # Person "x" is in two registries; record x2 (linked to x1) has more assessments.
    return tiny_cdm(
        patients=[
            {"name": "x1", "registry": "reg_a"},
            {"name": "x2", "linked": "x1", "registry": "reg_b", "region": "IT"},
            {"name": "y"},
        ],
        treatments=[
            ("x1", "nusinersen", 1000.0, None),
            ("x2", "nusinersen", 1000.0, None),
            ("y", "risdiplam", 2000.0, None),
        ],
        assessments=[
            ("x1", 990.0, "hfmse", 20.0),
            ("x2", 990.0, "hfmse", 20.0),
            ("x2", 995.0, "rulm", 12.0),
            ("y", 1950.0, "hfmse", 30.0),
        ],
    )


def test_linked_records_are_counted_once():
    cdm = _two_records_of_one_person()
    cohort, attrition = build_cohort(cdm, spec=CohortSpec())
    assert sorted(cohort["patient_id"]) == sorted([pid("x2"), pid("y")])
    assert cohort["linked_id"].is_unique
    last = attrition.iloc[-1]
    assert (last["rule"], last["excluded"], last["excluded_patients"]) == (
        "one_record_per_person",
        1,
        1,
    )
    kept, _ = build_cohort(cdm, spec=CohortSpec(deduplicate_linked=False))
    assert len(kept) == 3


def test_lines_and_prior_therapy_on_hand_made_data():
    cdm = tiny_cdm(
        patients=[{"name": "a"}],
        treatments=[
            ("a", "risdiplam", 1500.0, None),
            ("a", "nusinersen", 700.0, 1490.0),
        ],
        assessments=[("a", 690.0, "chop_intend", 30.0), ("a", 1490.0, "hfmse", 12.0)],
    )
    cohort, _ = build_cohort(cdm, spec=CohortSpec(index="every_start"))
    assert cohort[["index_id", "therapy", "line", "prior_therapy"]].values.tolist() == [
        [f"{pid('a')}#1", "nusinersen", 1, "none"],
        [f"{pid('a')}#2", "risdiplam", 2, "nusinersen"],
    ]
    first, _ = build_cohort(cdm, spec=CohortSpec(therapies=["risdiplam"]))
    assert first.empty  # first start is nusinersen: not a risdiplam first line


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"index": "last_start"}, "cohort.index"),
        ({"therapies": ["zolgensma"]}, "cohort.therapies"),
        ({"outcome_tolerance_days": 400.0}, "cohort.outcome_tolerance_days"),
        ({"min_index_age_days": 10.0, "max_index_age_days": 5.0}, "cohort.min_index_age_days"),
    ],
)
def test_invalid_spec_names_the_key(change, key):
    cdm = _two_records_of_one_person()
    with pytest.raises(ValueError, match=key):
        build_cohort(cdm, spec=CohortSpec(**change))
