from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests._fixtures.tiny import pid, tiny_cdm

from sma_response.cohort import CohortSpec, TargetSpec, build_cohort, define_target
from sma_response.cohort.spec import MEANINGFUL_CHANGE
from sma_response.cohort.target import TARGET_COLUMNS
from sma_response.schemas import Targets

INDEX = 1000.0


def _one(milestones, assessments, *, spec=None, cohort_spec=None):
    """Target of one patient 'a' indexed at day 1000 (empty frame if unlabelled)."""
    cdm = tiny_cdm(
        patients=[{"name": "a"}],
        treatments=[("a", "nusinersen", INDEX, None)],
        assessments=assessments,
        milestones=milestones,
    )
    cohort_spec = cohort_spec or CohortSpec()
    cohort, _ = build_cohort(cdm, spec=cohort_spec)
    return define_target(cohort, cdm, spec=spec or TargetSpec(), cohort_spec=cohort_spec)


NON_SITTER = [("a", INDEX - 10, "sitting", False), ("a", INDEX - 10, "walking", False)]
SITTER = [("a", INDEX - 10, "sitting", True), ("a", INDEX - 10, "walking", False)]


@pytest.mark.parametrize(("gain", "responder"), [(4.0, 1.0), (3.0, 0.0), (-2.0, 0.0)])
def test_chop_intend_responder_for_non_sitters(gain, responder):
    out = _one(
        NON_SITTER,
        [
            ("a", INDEX - 10, "chop_intend", 30.0),
            ("a", INDEX - 10, "hfmse", 5.0),  # not the primary scale of a non-sitter
            ("a", INDEX + 365, "chop_intend", 30.0 + gain),
        ],
    )
    assert out[["primary_scale", "baseline_score", "outcome_score", "target"]].values.tolist() == [
        ["chop_intend", 30.0, 30.0 + gain, responder]
    ]


@pytest.mark.parametrize(
    ("scales", "primary"),
    [(["hfmse", "rhs", "rulm"], "hfmse"), (["rhs", "rulm"], "rhs"), (["rulm"], "rulm")],
)
def test_sitters_use_hfmse_then_rhs_then_rulm(scales, primary):
    rows = [("a", INDEX - 5, s, 20.0) for s in scales]
    rows += [("a", INDEX + 360, s, 20.0 + MEANINGFUL_CHANGE[s]) for s in scales]
    out = _one(SITTER, rows)
    assert out["primary_scale"].tolist() == [primary]
    assert out["target"].tolist() == [1.0]


def test_meaningful_change_table():
    assert {k: MEANINGFUL_CHANGE[k] for k in ("chop_intend", "hfmse", "rhs", "rulm")} == {
        "chop_intend": 4.0,
        "hfmse": 3.0,
        "rhs": 3.0,
        "rulm": 2.0,
    }


def test_baseline_is_latest_in_window_and_outcome_nearest_to_twelve_months():
    out = _one(
        SITTER,
        [
            ("a", INDEX - 150, "hfmse", 10.0),
            ("a", INDEX - 20, "hfmse", 20.0),  # latest before index: the baseline
            ("a", INDEX + 1, "hfmse", 99.0 / 2),  # after index: never a baseline
            ("a", INDEX + 300, "hfmse", 21.0),
            ("a", INDEX + 380, "hfmse", 25.0),  # nearest to index + 365
            ("a", INDEX + 450, "hfmse", 40.0),
        ],
    )
    assert out[
        ["baseline_score", "outcome_score", "outcome_age_days", "target"]
    ].values.tolist() == [[20.0, 25.0, INDEX + 380, 1.0]]


@pytest.mark.parametrize(
    "rows",
    [
        [("a", INDEX - 200, "hfmse", 20.0), ("a", INDEX + 365, "hfmse", 30.0)],  # baseline too old
        [("a", INDEX - 10, "hfmse", 20.0), ("a", INDEX + 460, "hfmse", 30.0)],  # outcome too late
        [("a", INDEX - 10, "hfmse", 20.0), ("a", INDEX + 365, "rhs", 30.0)],  # other scale
    ],
)
def test_events_without_baseline_or_outcome_are_unlabelled(rows):
    assert _one(SITTER, rows).empty


def test_delta_target_on_a_fixed_scale():
    out = _one(
        NON_SITTER,
        [("a", INDEX - 10, "rulm", 10.0), ("a", INDEX + 365, "rulm", 7.0)],
        spec=TargetSpec(kind="delta", scale="rulm"),
    )
    assert out[["primary_scale", "target"]].values.tolist() == [["rulm", -3.0]]


def test_milestone_gain():
    scores = [("a", INDEX - 10, "chop_intend", 30.0)]
    base = [("a", INDEX - 10, m, able) for m, able in [("head_control", True), ("sitting", False)]]
    gained = [("a", INDEX + 370, "sitting", True)]
    spec = TargetSpec(kind="milestone_gain")
    out = _one(base + gained, scores, spec=spec)
    assert out[["primary_scale", "baseline_score", "outcome_score", "target"]].values.tolist() == [
        ["milestones", 1.0, 1.0, 1.0]
    ]
    lost = [("a", INDEX + 370, "sitting", False)]
    assert _one(base + lost, scores, spec=spec)["target"].tolist() == [0.0]


def test_nothing_left_to_gain_is_excluded():
    scores = [("a", INDEX - 10, "hfmse", 50.0)]
    everything = [
        ("a", age, m, True)
        for age in (INDEX - 10, INDEX + 365)
        for m in ("head_control", "sitting", "standing", "walking")
    ]
    assert _one(everything, scores, spec=TargetSpec(kind="milestone_gain")).empty


def test_simulated_targets_follow_the_definitions(cdm):
    cohort_spec = CohortSpec(index="every_start")
    spec = TargetSpec()
    cohort, attrition = build_cohort(cdm, spec=cohort_spec, target=spec)
    targets = define_target(cohort, cdm, spec=spec, cohort_spec=cohort_spec)
    Targets.validate(targets)
    assert list(targets.columns) == list(TARGET_COLUMNS)
    assert targets["index_id"].tolist() == cohort["index_id"].tolist()
    change = targets["outcome_score"] - targets["baseline_score"]
    mcid = targets["primary_scale"].map(MEANINGFUL_CHANGE)
    np.testing.assert_array_equal(targets["target"], (change >= mcid).astype(float))
    assert 0.1 < targets["target"].mean() < 0.9
    lag = targets["outcome_age_days"] - cohort["index_age_days"]
    assert lag.between(365 - 90, 365 + 90).all()
    assert set(targets["primary_scale"]) >= {"chop_intend", "hfmse"}
    assert attrition["n_index_events"].iloc[-1] == len(targets)


def test_define_target_alone_drops_unlabelled_events(cdm):
    cohort_spec = CohortSpec()
    cohort, _ = build_cohort(cdm, spec=cohort_spec)
    for spec in (
        TargetSpec(),
        TargetSpec(kind="delta", scale="hfmse"),
        TargetSpec(kind="milestone_gain"),
    ):
        targets = define_target(cohort, cdm, spec=spec, cohort_spec=cohort_spec)
        Targets.validate(targets)
        assert 0 < len(targets) < len(cohort)
        assert targets["target"].notna().all()
        ids = pd.Index(cohort["index_id"])
        assert ids.get_indexer(targets["index_id"]).tolist() == sorted(
            ids.get_indexer(targets["index_id"]).tolist()
        )


def test_unknown_target_kind_names_the_key():
    with pytest.raises(ValueError, match=r"target\.kind"):
        _one(SITTER, [("a", INDEX, "hfmse", 1.0)], spec=TargetSpec(kind="survival"))
    with pytest.raises(ValueError, match=r"target\.scale"):
        _one(SITTER, [("a", INDEX, "hfmse", 1.0)], spec=TargetSpec(kind="delta"))


def test_index_ids_are_patient_and_line():
    out = _one(SITTER, [("a", INDEX - 1, "hfmse", 1.0), ("a", INDEX + 365, "hfmse", 1.0)])
    assert out["index_id"].tolist() == [f"{pid('a')}#1"]


COMPOSITE = TargetSpec(estimand="composite", scale_change="sitting")
CHOP_BASELINE = [("a", INDEX - 10, "chop_intend", 30.0)]


def _with_events(assessments, events, *, spec, milestones=NON_SITTER):
    cdm = tiny_cdm(
        patients=[{"name": "a"}],
        treatments=[("a", "nusinersen", INDEX, None)],
        assessments=assessments,
        milestones=milestones,
        events=events,
    )
    cohort, attrition = build_cohort(cdm, spec=CohortSpec(), target=spec)
    targets = define_target(cohort, cdm, spec=spec, cohort_spec=CohortSpec())
    return targets, attrition


@pytest.mark.parametrize("event", ["death", "permanent_ventilation"])
def test_composite_estimand_counts_death_or_ventilation_as_non_response(event):
    # A 6-point gain before the event: still non-response under the composite estimand.
    scores = [*CHOP_BASELINE, ("a", INDEX + 300, "chop_intend", 36.0)]
    out, attrition = _with_events(scores, [("a", event, INDEX + 320)], spec=COMPOSITE)
    assert out[["target", "outcome_rule", "outcome_age_days"]].values.tolist() == [
        [0.0, "death_or_ventilation", INDEX + 320]
    ]
    assert out["outcome_score"].tolist() == [36.0]  # the change while alive is kept
    rules = attrition.set_index("rule")
    assert "composite" in rules.loc["estimand", "description"]
    assert "(1 index events)" in rules.loc["death_or_ventilation", "description"]
    assert int(rules.loc["death_or_ventilation", "excluded"]) == 0
    Targets.validate(out)


def test_while_alive_reads_the_scores_and_drops_a_death_without_score():
    spec = TargetSpec(estimand="while_alive")
    scored = [*CHOP_BASELINE, ("a", INDEX + 300, "chop_intend", 36.0)]
    out, _ = _with_events(scored, [("a", "permanent_ventilation", INDEX + 320)], spec=spec)
    assert out[["target", "outcome_rule"]].values.tolist() == [[1.0, "observed"]]
    gone, attrition = _with_events(CHOP_BASELINE, [("a", "death", INDEX + 200)], spec=spec)
    assert gone.empty
    assert int(attrition.set_index("rule").loc["no_outcome_on_scale", "excluded"]) == 1
    assert "while alive" in attrition.set_index("rule").loc["estimand", "description"]


@pytest.mark.parametrize(
    ("age", "labelled"),
    [(INDEX - 1, True), (INDEX + 366, True), (INDEX + 200, False)],
)
def test_only_an_event_inside_the_outcome_window_sets_the_label(age, labelled):
    """Before the index (already ventilated) or after 365 days: the scores decide."""
    scores = [*CHOP_BASELINE, ("a", INDEX + 360, "chop_intend", 36.0)]
    out, _ = _with_events(scores, [("a", "permanent_ventilation", age)], spec=COMPOSITE)
    assert out["target"].tolist() == ([1.0] if labelled else [0.0])


def test_a_change_target_refuses_the_composite_estimand():
    with pytest.raises(ValueError, match=r"target\.estimand: a change target"):
        _one(
            NON_SITTER,
            CHOP_BASELINE,
            spec=TargetSpec(kind="delta", scale="chop_intend", estimand="composite"),
        )
    with pytest.raises(ValueError, match=r"target\.estimand: unknown 'alive'"):
        _one(NON_SITTER, CHOP_BASELINE, spec=TargetSpec(estimand="alive"))
    with pytest.raises(ValueError, match=r"target\.scale_change: unknown"):
        _one(NON_SITTER, CHOP_BASELINE, spec=TargetSpec(scale_change="crosswalk"))


@pytest.mark.parametrize(
    ("sitting_at", "rule", "kept"),
    [
        (INDEX + 200, "scale_change_sitting", True),  # sits after index, before the visit
        (INDEX + 400, None, False),  # sitting recorded only after the outcome visit
        (None, None, False),  # never recorded sitting
    ],
)
def test_a_move_off_chop_intend_is_labelled_by_the_sitting_gained(sitting_at, rule, kept):
    scores = [*CHOP_BASELINE, ("a", INDEX + 370, "hfmse", 12.0)]
    miles = list(NON_SITTER)
    if sitting_at is not None:
        miles.append(("a", sitting_at, "sitting", True))
    out, attrition = _with_events(scores, [], spec=COMPOSITE, milestones=miles)
    if not kept:
        assert out.empty
        return
    assert out[["target", "outcome_rule", "outcome_age_days"]].values.tolist() == [
        [1.0, rule, INDEX + 370]
    ]
    assert np.isnan(out["outcome_score"].iloc[0])
    # The rule is off by default for library callers (runs logged before it existed).
    legacy, _ = _with_events(scores, [], spec=TargetSpec(), milestones=miles)
    assert legacy.empty
    assert "scale_change_sitting" in attrition["rule"].tolist()


def test_a_sitter_at_baseline_gains_nothing_from_the_scale_change_rule():
    scores = [("a", INDEX - 10, "chop_intend", 40.0), ("a", INDEX + 370, "hfmse", 12.0)]
    miles = [*SITTER, ("a", INDEX + 200, "sitting", True)]
    out, _ = _with_events(scores, [], spec=COMPOSITE, milestones=miles)
    assert out.empty


def test_milestone_gain_composite_counts_death_as_no_gain():
    spec = TargetSpec(kind="milestone_gain", estimand="composite")
    out, _ = _with_events(CHOP_BASELINE, [("a", "death", INDEX + 100)], spec=spec)
    assert out[["target", "outcome_rule"]].values.tolist() == [[0.0, "death_or_ventilation"]]


def test_outcome_rule_codes_match_the_schema():
    from sma_response.cohort.target import OUTCOME_RULES
    from sma_response.schemas import OUTCOME_RULE_CODES

    assert tuple(OUTCOME_RULES) == OUTCOME_RULE_CODES
