"""Therapy options of a report: reconciled headline, label and support guards, contrasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.effects import EffectsResult, EffectsSpec
from sma_response.report.options import (
    agreement_metrics,
    disagreements,
    reconcile,
    therapy_option_rows,
)

IDS = ["a#1", "b#1", "c#1"]


def _patients() -> pd.DataFrame:
    return reconcile(
        pd.DataFrame(
            {
                "index_id": IDS,
                "scale": "chop_intend",  # meaningful gain: 4 points
                "probability": [0.6, 0.3, 0.55],
                "expected_change": [6.0, 2.0, 5.0],
                "lower": [1.0, -3.0, 0.0],
                "upper": [11.0, 7.0, 10.0],
            }
        )
    )


def _effects(*, ona_allowed: bool = True) -> EffectsResult:
    """Contrasts vs nusinersen: risdiplam +1 point / +0.05; onasemnogene +3 / +0.1 (c: none)."""
    rows = []
    for outcome, (ris, ona) in {"change": (1.0, 3.0), "response": (0.05, 0.1)}.items():
        for contrast, value in (
            ("risdiplam_vs_nusinersen", ris),
            ("onasemnogene_vs_nusinersen", ona),
        ):
            support = np.array([True, True, contrast.startswith("risdiplam")])
            est = np.where(support, value, np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        "index_id": IDS, "outcome": outcome, "contrast": contrast,
                        "estimate": est, "lower": est - 0.5 * value, "upper": est + 0.5 * value,
                        "in_support": support,
                    }
                )
            )  # fmt: skip
    eligible = pd.DataFrame(True, index=IDS, columns=["nusinersen", "risdiplam", "onasemnogene"])
    rules = pd.DataFrame("", index=IDS, columns=eligible.columns)
    if not ona_allowed:
        eligible.loc["a#1", "onasemnogene"] = False
        rules.loc["a#1", "onasemnogene"] = "onasemnogene: children under 2 years"
    estimates = pd.concat(rows, ignore_index=True)
    empty = pd.DataFrame()
    return EffectsResult(
        estimates=estimates, eligibility=eligible, rules=rules, support_estimates=estimates,
        propensity=empty, overlap=empty, population=empty, scores=empty, spec=EffectsSpec(),
    )  # fmt: skip


def _rows(effects: EffectsResult | None) -> pd.DataFrame:
    current = pd.Series(["nusinersen", "risdiplam", "nusinersen"], index=IDS)
    rows = therapy_option_rows(_patients(), current, effects, unavailable="no_effects")
    return rows.set_index(["index_id", "therapy"])


def test_reconcile_moves_only_a_contradicting_change_to_the_threshold():
    frame = pd.DataFrame(
        {"probability": [0.33, 0.7, 0.2, 0.5], "expected_change": [4.0, 2.0, 1.0, 3.0],
         "lower": 0.0, "upper": 8.0, "scale": "chop_intend"}
    )  # fmt: skip
    assert disagreements(frame) == 3
    out = reconcile(frame)
    assert disagreements(out) == 0
    assert out["reconciled"].tolist() == [True, True, False, True]
    assert out["expected_change"].round(1).tolist() == [3.9, 4.0, 1.0, 4.0]
    assert out["lower"].round(1).tolist() == [-0.1, 2.0, 0.0, 1.0]  # the range moves with it
    assert out["reconciled_shift"].round(1).tolist() == [-0.1, 2.0, 0.0, 1.0]
    no_options = pd.DataFrame(columns=["index_id", "status", "probability", "expected_change"])
    metrics = agreement_metrics(out.assign(index_id=list("abcd")), no_options)
    assert metrics["report/reconciled"] == 3
    assert metrics["report/reconciled_median_shift"] == pytest.approx(1.0)
    assert metrics["report/reconciled_max_shift"] == pytest.approx(2.0)


def test_options_add_the_contrast_to_the_patients_own_estimate():
    rows = _rows(_effects())
    ris = rows.loc[("a#1", "risdiplam")]  # current nusinersen: risdiplam's own contrast
    assert ris["status"] == "estimated"
    assert ris["diff_change"] == pytest.approx(1.0)
    assert (ris["diff_change_lower"], ris["diff_change_upper"]) == pytest.approx((0.5, 1.5))
    assert ris["expected_change"] == pytest.approx(7.0)
    assert (ris["change_lower"], ris["change_upper"]) == pytest.approx((2.0, 12.0))
    assert ris["probability"] == pytest.approx(0.65)
    # b started risdiplam: onasemnogene vs risdiplam is a difference of two contrasts, the
    # half-widths combined in quadrature
    ona = rows.loc[("b#1", "onasemnogene")]
    assert ona["diff_change"] == pytest.approx(2.0)
    assert ona["diff_change_upper"] - ona["diff_change"] == pytest.approx(np.hypot(1.5, 0.5))
    nus = rows.loc[("b#1", "nusinersen")]
    assert nus["diff_probability"] == pytest.approx(-0.05)
    assert rows.loc[("b#1", "risdiplam"), "status"] == "current"


def test_no_number_outside_support_or_label():
    rows = _rows(_effects(ona_allowed=False))
    outside = rows.loc[("c#1", "onasemnogene")]
    assert outside["status"] == "not_estimable"
    assert "outside common support" in outside["reason"]
    barred = rows.loc[("a#1", "onasemnogene")]
    assert barred["status"] == "not_an_option"
    assert barred["reason"] == "onasemnogene: children under 2 years"
    numbers = rows.columns.difference(["status", "reason", "reason_key"])
    blank = rows.loc[rows["status"].isin(["not_estimable", "not_an_option"]), numbers]
    assert blank.isna().all().all()


def test_options_never_contradict_their_own_change_and_the_metrics_count_it():
    patients = _patients()
    assert patients["reconciled"].tolist() == [False, False, False]
    effects = _effects()
    big = effects.support_estimates.assign(
        estimate=lambda f: np.where(f["outcome"] == "change", -6.0, f["estimate"])
    )  # every option loses 6 points but keeps its chance: contradictions to reconcile
    effects.support_estimates = big
    current = pd.Series(["nusinersen", "risdiplam", "nusinersen"], index=IDS)
    rows = therapy_option_rows(patients, current, effects, unavailable="")
    metrics = agreement_metrics(patients, rows)
    assert metrics == {"report/disagreements": 0.0, "report/reconciled": 0.0}
    shown = rows.loc[rows["status"] == "estimated"]
    assert disagreements(shown, pd.Series("chop_intend", index=shown.index)) == 0


def test_without_effects_every_other_option_says_why():
    rows = _rows(None)
    assert set(rows["status"]) == {"current", "not_estimable"}
    blank = rows.loc[rows["status"] == "not_estimable"]
    assert set(blank["reason_key"]) == {"no_effects"}
    assert set(blank["reason"]) == {
        "this run did not estimate per-therapy differences (effects.enabled=true, responder target)"
    }
