"""A synthetic patient report (hand-made basis and rows: no training needed)."""

from __future__ import annotations

import pandas as pd
import pytest

from sma_response.report.basis import ReportBasis, cohort_profile
from sma_response.report.context import build_patient_context
from sma_response.report.spec import ReportSpec

PID = "0123456789abcdef"


def synthetic_basis() -> ReportBasis:
    X = pd.DataFrame(
        {
            "age_at_index_months": [float(m) for m in range(1, 121)],
            "baseline_chop_intend": [float(m % 60) for m in range(120)],
            "sma_type": pd.Categorical(["1"] * 80 + ["2"] * 40),
        }
    )
    perf = [
        {
            "variable": "overall",
            "level": "all",
            "n": 120,
            "small": False,
            "auroc": 0.8,
            "auroc_ci_low": 0.7,
            "auroc_ci_high": 0.9,
            "calibration_slope": 0.95,
            "mean_predicted": 0.5,
            "mean_observed": 0.48,
        },
        {
            "variable": "region",
            "level": "DE",
            "n": 60,
            "small": False,
            "auroc": 0.78,
            "auroc_ci_low": 0.65,
            "auroc_ci_high": 0.88,
            "calibration_slope": 0.9,
            "mean_predicted": 0.52,
            "mean_observed": 0.5,
        },
    ]
    return ReportBasis(
        task="classification",
        target_kind="responder",
        target_scale=None,
        model_name="xgboost",
        estimand="composite",
        provenance={
            "run_id": "runabc123",
            "model_uri": "models:/m/1",
            "model_version": "1",
            "data_digest": "d" * 64,
            "git_sha": "f" * 40,
            "package_version": "0.1.0",
        },
        explain={
            "method": "auto",
            "method_used": "xgboost_native",
            "feature_perturbation": "tree_path_dependent",
        },
        interval={"level": 0.8, "min_n": 30, "bounds": {}, "percentiles": {}},
        effects={
            "estimator": "dr",
            "level": 0.8,
            "min_propensity": 0.05,
            "adjusted_for": ["age_at_index_months", "sma_type"],
            "coverage": {"change/onasemnogene_vs_nusinersen": 0.55},
        },
        coverage=[
            {"variable": "overall", "level": "all", "n": 120, "coverage": 0.81, "mean_width": 12.0},
            {"variable": "region", "level": "DE", "n": 60, "coverage": 0.79, "mean_width": 11.0},
        ],
        profile=cohort_profile(X),
        counts={
            "levels": {"region": {"DE": 60, "IT": 60}},
            "type_therapy_age": {
                "1|risdiplam|6-24 mo": 5,
                "1|nusinersen|6-24 mo": 30,
                "1|onasemnogene|6-24 mo": 3,
            },
            "therapy_age": {
                "risdiplam|6-24 mo": 25,
                "nusinersen|6-24 mo": 30,
                "onasemnogene|6-24 mo": 3,
            },
        },
        performance=perf,
        therapies=["nusinersen", "risdiplam", "onasemnogene"],
    )


def synthetic_inputs():
    shap = pd.DataFrame(
        {
            "feature": [
                "age_at_index_months",
                "baseline_chop_intend",
                "sma_type",
                "therapy",
                "ventilation_hours_per_day",
            ],
            "value": ["8.2", "30", "1", "risdiplam", None],
            "shap": [0.9, 0.3, -0.4, -0.05, -0.2],
            "base_value": 0.1,
        }
    ).assign(index_id=f"{PID}#1")
    patient = {
        "index_id": f"{PID}#1",
        "patient_id": PID,
        "region": "DE",
        "scale": "chop_intend",
        "baseline_score": 30.0,
        "probability": 0.72,
        "expected_change": 6.3,
        "lower": 0.5,
        "upper": 12.0,
        "interval_key": "chop_intend",
        "source": "held_out",
    }
    nan = float("nan")
    alternatives = pd.DataFrame(
        {
            "index_id": f"{PID}#1",
            "therapy": ["nusinersen", "risdiplam", "onasemnogene"],
            "status": ["estimated", "current", "not_an_option"],
            "reason": ["", "", "onasemnogene (FDA label): children under 2 years"],
            "reason_key": ["", "", "label"],
            "probability": [0.62, 0.72, nan],
            "probability_lower": [0.5, nan, nan],
            "probability_upper": [0.74, nan, nan],
            "expected_change": [4.3, 6.3, nan],
            "change_lower": [-1.5, 0.5, nan],
            "change_upper": [10.0, 12.0, nan],
            "diff_probability": [-0.1, nan, nan],
            "diff_probability_lower": [-0.22, nan, nan],
            "diff_probability_upper": [0.02, nan, nan],
            "diff_change": [-2.0, nan, nan],
            "diff_change_lower": [-4.5, nan, nan],
            "diff_change_upper": [0.5, nan, nan],
        }
    )
    return shap, patient, alternatives


@pytest.fixture
def report():
    shap, patient, alternatives = synthetic_inputs()
    return build_patient_context(
        shap,
        patient=patient,
        alternatives=alternatives,
        basis=synthetic_basis(),
        spec=ReportSpec(),
        created="2026-01-01",
    )
