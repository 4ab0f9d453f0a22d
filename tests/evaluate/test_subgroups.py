from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.cohort import CohortSpec, build_cohort
from sma_response.evaluate import age_band, make_subgroups, subgroup_metrics


def test_age_band_edges():
    days = np.array([0.0, 182.6, 182.625, 730.49, 730.5, 4382.9, 4383.0, 6574.5, 40000.0])
    assert age_band(days).tolist() == [
        "0-6 mo",
        "0-6 mo",
        "6-24 mo",
        "6-24 mo",
        "2-12 y",
        "2-12 y",
        "12-18 y",
        "adult",
        "adult",
    ]


@pytest.fixture(scope="module")
def predictions_and_groups(cdm):
    cohort, _ = build_cohort(cdm, spec=CohortSpec(index="every_start"))
    groups = make_subgroups(cohort, cdm["patients"])
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, len(cohort))
    pred = pd.DataFrame(
        {
            "index_id": cohort["index_id"],
            "repeat": 0,
            "fold": 0,
            "y_true": (rng.random(len(cohort)) < p).astype(float),
            "y_pred": p,
        }
    )
    return pred, groups


def test_subgroups_cover_every_level(predictions_and_groups):
    pred, groups = predictions_and_groups
    assert list(groups.columns) == ["region", "sma_type", "therapy", "age_band"]
    out = subgroup_metrics(
        pred, groups, task="classification", rng=np.random.default_rng(1), n_boot=20
    )
    assert out.iloc[0][["variable", "level", "n"]].tolist() == ["overall", "all", len(pred)]
    for variable in groups.columns:
        part = out.loc[out["variable"] == variable]
        assert part["n"].sum() == len(pred), variable
        assert set(part["level"]) == {str(v) for v in groups[variable].dropna().unique()}
    assert (
        out["small"] == (out["n"] < 20) | (out["n_events"] < 5) | (out["n"] - out["n_events"] < 5)
    ).all()
    big = out.loc[~out["small"]]
    assert (big["auroc_ci_low"] <= big["auroc"]).all()
    assert (big["auroc"] <= big["auroc_ci_high"]).all()


def test_subgroups_are_reproducible_and_average_repeats(predictions_and_groups):
    pred, groups = predictions_and_groups
    a = subgroup_metrics(
        pred, groups, task="classification", rng=np.random.default_rng(1), n_boot=10
    )
    b = subgroup_metrics(
        pred, groups, task="classification", rng=np.random.default_rng(1), n_boot=10
    )
    pd.testing.assert_frame_equal(a, b)
    twice = pd.concat([pred, pred.assign(repeat=1, y_pred=1 - pred["y_pred"])])
    flat = subgroup_metrics(
        twice, groups, task="classification", rng=np.random.default_rng(1), n_boot=0
    )
    assert flat.iloc[0]["brier"] == pytest.approx(np.mean((0.5 - pred["y_true"]) ** 2))


def test_regression_subgroups(predictions_and_groups):
    pred, groups = predictions_and_groups
    reg = pred.assign(y_true=pred["y_pred"] * 10 + 1)
    out = subgroup_metrics(
        reg, groups[["region"]], task="regression", rng=np.random.default_rng(0), n_boot=5
    )
    assert out["n_events"].isna().all()
    assert out["mae"].to_numpy() == pytest.approx(
        np.abs(reg["y_true"] - reg["y_pred"]).mean(), rel=0.5
    )


def test_groups_with_under_100_events_or_non_events_are_flagged_imprecise(rng):
    n = 600
    region = np.where(np.arange(n) < 500, "big", "small")
    y = np.where(region == "big", np.arange(n) % 2, np.arange(n) % 10 == 0).astype(float)
    pred = pd.DataFrame(
        {"index_id": [f"p{i}#1" for i in range(n)], "y_true": y, "y_pred": rng.random(n)}
    )
    groups = pd.DataFrame({"region": region}, index=pd.Index(pred["index_id"], name="index_id"))
    out = subgroup_metrics(pred, groups, task="classification", rng=rng, n_boot=0)
    flags = out.set_index("level")["imprecise"]
    assert not flags["big"]  # 250 events, 250 non-events
    assert flags["small"]  # 10 events among 100
    strict = subgroup_metrics(
        pred, groups, task="classification", rng=rng, n_boot=0, imprecise_events=300
    )
    assert strict.set_index("level")["imprecise"]["big"]
