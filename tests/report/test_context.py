"""Report context: plain-language factors, flags, performance in the patient's groups."""

from __future__ import annotations

from tests.report.conftest import PID, synthetic_basis, synthetic_inputs

from sma_response.report.context import build_patient_context
from sma_response.report.render import render_patient_html
from sma_response.report.spec import ReportSpec


def test_prediction_and_interval_in_the_scales_units(report):
    assert report.report_id == PID
    assert report.scale_name == "CHOP INTEND"
    assert report.unit == "points"
    assert report.meaningful_change == 4.0
    assert report.headline.startswith("72% chance of a gain of at least 4 points on CHOP INTEND")
    assert (report.lower, report.upper) == (0.5, 12.0)


def test_factors_are_plain_clinical_sentences(report):
    assert report.factors_up[0].sentence == (
        "Age at treatment start (8 months) strongly raises the chance of a meaningful gain."
    )
    downs = [f.sentence for f in report.factors_down]
    assert "SMA type (1) moderately lowers the chance of a meaningful gain." in downs
    assert not any("not recorded" in s for s in downs)  # missing: a note, not a factor
    assert "Ventilation support" in report.missing_note


def test_flags_rare_subgroups_and_out_of_range_values(report):
    text = " ".join(report.flags)
    assert "few patients like this: 5 with SMA type 1 starting risdiplam aged 6-24 mo" in text
    assert all("outside the range" not in f for f in report.flags)


def test_performance_rows_cover_region_and_subgroups(report):
    groups = [p.group for p in report.performance]
    assert groups[:2] == ["All patients", "Region DE"]
    assert "AUROC 0.78" in report.performance[1].discrimination
    assert report.performance[2].small  # SMA type 1 is not in the basis: not measured
    assert "79% in region DE" in report.coverage_text


def test_alternatives_flag_rare_therapy_age_cells(report):
    alts = {a.therapy: a for a in report.alternatives}
    assert alts["risdiplam"].actual
    assert not alts["nusinersen"].actual
    assert alts["onasemnogene"].rare
    assert not alts["nusinersen"].rare


def test_options_carry_intervals_or_the_reason_there_is_no_number(report):
    alts = {a.therapy: a for a in report.alternatives}
    assert alts["nusinersen"].diff_change_interval == (-4.5, 0.5)
    assert alts["nusinersen"].probability_interval == (0.5, 0.74)
    ona = alts["onasemnogene"]
    assert (ona.status, ona.probability, ona.expected_change) == ("not_an_option", None, None)
    assert "under 2 years" in ona.reason


def test_the_options_caveat_names_confounding_adjustment_and_measured_coverage(report):
    text = report.options_caveat
    assert "confounding by indication" in text
    assert "age at treatment start, SMA type and for nothing else" in text
    assert "for 55% of patients: read them as too narrow" in text


def test_the_chance_states_the_estimand(report):
    """Composite: the headline and the note say a death or permanent ventilation is no gain."""
    assert "alive and without permanent ventilation" in report.headline
    assert "counts as no gain" in report.estimand_note


def test_a_missing_value_is_not_a_factor_but_a_note(report):
    """Ventilation hours are not recorded for the fixture's patient: no factor claims them."""
    features = {f.feature for f in [*report.factors_up, *report.factors_down]}
    assert "ventilation_hours_per_day" not in features
    assert {"age_at_index_months", "sma_type"} <= features
    assert report.missing_note.startswith("Not measured or not recorded: ")
    assert "says nothing about the child's condition" in report.missing_note


def test_one_definition_of_similar_patients_serves_the_table_and_the_caution(report):
    """Issue #14.8: a caution said 3 similar patients while the therapy table said 83."""
    alts = {a.therapy: a for a in report.alternatives}
    caution = next(f for f in report.flags if "few patients like this" in f)
    assert f"{alts['risdiplam'].n_similar} with SMA type 1 starting risdiplam" in caution
    assert (alts["nusinersen"].n_similar, alts["onasemnogene"].n_similar) == (30, 3)


def test_a_badly_calibrated_own_subgroup_is_a_caution():
    shap, patient, alternatives = synthetic_inputs()
    basis = synthetic_basis()
    basis.performance.append(
        {
            "variable": "sma_type",
            "level": "1",
            "n": 40,
            "n_events": 7,
            "small": False,
            "mean_predicted": 0.58,
            "mean_observed": 0.175,
        }
    )
    basis.performance.append(
        {
            "variable": "age_band",
            "level": "6-24 mo",
            "n": 40,
            "n_events": 19,
            "small": False,
            "mean_predicted": 0.52,
            "mean_observed": 0.475,
        }  # close enough to the observed share: no caution
    )
    ctx = build_patient_context(shap, patient=patient, alternatives=alternatives, basis=basis,
                                spec=ReportSpec(), created="2026-01-01")  # fmt: skip
    cautions = [f for f in ctx.flags if f.startswith("In training, the model gave")]
    assert cautions == [
        "In training, the model gave patients of this group (SMA type 1) a 58% chance on "
        "average, but 18% of them improved (40 patients): it is off for this group, so read "
        "this patient's chance with care."
    ]


def test_the_method_note_says_when_the_interval_pools_every_scale():
    """Issue #14.8: a pooled interval was described as made 'separately per motor scale'."""
    shap, patient, alternatives = synthetic_inputs()
    pooled = build_patient_context(shap, patient=patient | {"interval_key": "_pooled"},
                                   alternatives=alternatives, basis=synthetic_basis(),
                                   spec=ReportSpec(), created="2026-01-01")  # fmt: skip
    assert pooled.interval_pooled
    html = render_patient_html(pooled)
    assert "among all held-out patients together" in html
    assert "among patients on the same motor scale" not in html
