"""The effects stage on data with a known, heterogeneous therapy effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sma_response.effects import (
    ARMS,
    EffectsSpec,
    EligibilityRule,
    apply_eligibility,
    e_values,
    eligible_options,
    in_support,
    overlap_table,
    policy_regret,
    run_effects,
    score_effects,
)


def _registry(n: int = 900, seed: int = 0):
    """Young patients get onasemnogene more often; its true gain falls with age."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(1, 120, n)
    logits = np.column_stack([np.zeros(n), np.full(n, -1.0), 2.0 - age / 20])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    therapy = np.array([rng.choice(3, p=row) for row in p])
    tau = {"nusinersen": 0 * age, "risdiplam": np.full(n, 1.0), "onasemnogene": 8 - age / 10}
    base = 2.0 - age / 40
    mu = np.column_stack([base + tau[a] for a in ARMS])
    change = mu[np.arange(n), therapy] + rng.normal(0, 1.0, n)
    ids = pd.Index([f"p{i}#1" for i in range(n)], name="index_id")
    X = pd.DataFrame(
        {
            "age_at_index_months": age,
            "smn2_copies": rng.choice([2.0, 3.0, 4.0], n),
            "sma_type": pd.Categorical(rng.choice(["1", "2", "3a"], n)),
            "therapy": pd.Categorical(np.array(ARMS)[therapy], categories=list(ARMS)),
        },
        index=ids,
    )
    truth = pd.DataFrame(mu, index=ids, columns=list(ARMS))
    return X, pd.Series(change, index=ids), truth


@pytest.fixture(scope="module")
def fitted():
    X, change, truth = _registry()
    spec = EffectsSpec(
        n_estimators=100, nuisance_trees=60, min_samples_leaf=5,
        eligibility={"US": {"onasemnogene": {"max_age_months": 24, "label": "under 2 years"}}},
    )  # fmt: skip
    regions = pd.Series(np.where(np.arange(len(X)) % 2, "US", "DE"), index=X.index)
    patients = pd.Series(X.index.str.split("#").str[0], index=X.index)
    result = run_effects(
        X, {"change": change}, patients, regions, spec=spec, seed=0, truth={"change": truth}
    )
    return X, regions, result


def test_the_learner_beats_ignoring_the_patient_where_the_effect_varies(fitted):
    _, _, result = fitted
    m = result.metrics
    base = "effects/change/onasemnogene_vs_nusinersen"
    assert m[f"{base}/pehe"] < 0.8 * m[f"{base}/pehe_constant"]
    assert m[f"{base}/sign_agreement"] > 0.8
    assert 0 < m[f"{base}/coverage"] <= 1
    # the features explain the whole contrast here: the truth-fitted floor is near zero
    assert m[f"{base}/pehe_truth_fit"] < m[f"{base}/pehe"]


def test_no_number_outside_support_or_the_label(fitted):
    X, regions, result = fitted
    est = result.estimates
    assert result.metrics["effects/estimates_outside_support"] == 0
    ona = est.loc[est["contrast"] == "onasemnogene_vs_nusinersen"].set_index("index_id")
    too_old_us = (X["age_at_index_months"] > 24) & (regions == "US")
    assert (ona.loc[too_old_us[too_old_us].index, "status"] == "not_an_option").all()
    assert ona.loc[too_old_us[too_old_us].index, "estimate"].isna().all()
    out = ona["status"] == "not_estimable"
    assert out.any()  # the oldest rarely get onasemnogene: outside support
    assert ona.loc[out, "estimate"].isna().all()
    support = in_support(result.propensity.to_numpy(), 2, 0, 0.05)
    assert (ona["in_support"].to_numpy() == support).all()


def test_overlap_table_counts_starts_and_effective_sizes():
    P = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.9, 0.05, 0.05], [0.2, 0.2, 0.6]])
    table = overlap_table(P, np.array([0, 0, 1, 2]), 0.1).set_index("therapy")
    assert table.loc["nusinersen", "n_starts"] == 2
    assert table.loc["nusinersen", "effective_n"] == pytest.approx(2.0)  # equal weights
    assert table.loc["risdiplam", "share_in_support"] == pytest.approx(0.75)


def test_eligibility_follows_the_region_and_the_or_rule():
    X = pd.DataFrame(
        {"age_at_index_months": [10.0, 10.0, 40.0], "smn2_copies": [4.0, 4.0, np.nan],
         "sma_type": ["1", "2", "1"]}, index=["a", "b", "c"],
    )  # fmt: skip
    rule = EligibilityRule(max_age_months=60, max_smn2_copies=3, or_sma_types=["1"], label="EU")
    ok, why = eligible_options(
        X, pd.Series("DE", index=X.index), {"default": {"onasemnogene": rule}}
    )
    assert ok["onasemnogene"].tolist() == [True, False, True]  # type 1 qualifies at 4 copies
    assert why.loc["b", "onasemnogene"] == "EU"
    assert ok["nusinersen"].all()


def test_unknown_rule_key_names_where():
    X = pd.DataFrame({"age_at_index_months": [1.0], "smn2_copies": [2.0], "sma_type": ["1"]})
    with pytest.raises(ValueError, match=r"effects\.eligibility\.US\.onasemnogene: unknown rule"):
        eligible_options(X, pd.Series(["US"]), {"US": {"onasemnogene": {"max_weight": 21}}})


def test_scores_and_regret_recompute_by_hand():
    ids = ["a", "b", "c"]
    est = pd.DataFrame(
        {"index_id": ids, "outcome": "response", "contrast": "onasemnogene_vs_nusinersen",
         "estimate": [0.2, -0.1, 0.3], "lower": [0.0, -0.2, 0.25], "upper": [0.4, 0.0, 0.35],
         "in_support": True}
    )  # fmt: skip
    eligible = pd.DataFrame(True, index=ids, columns=list(ARMS))
    est = apply_eligibility(est, eligible, "nusinersen")
    truth = pd.DataFrame(
        {"nusinersen": [0.5, 0.5, 0.5], "risdiplam": [0.5, 0.5, 0.5],
         "onasemnogene": [0.6, 0.6, 0.4]}, index=ids,
    )  # fmt: skip
    metrics, _ = score_effects(est, {"response": truth})
    true = np.array([0.1, 0.1, -0.1])
    e = np.array([0.2, -0.1, 0.3])
    base = "effects/response/onasemnogene_vs_nusinersen"
    assert metrics[f"{base}/pehe"] == pytest.approx(np.sqrt(np.mean((e - true) ** 2)))
    assert metrics[f"{base}/pehe_zero"] == pytest.approx(0.1)
    assert metrics[f"{base}/sign_agreement"] == pytest.approx(1 / 3)
    assert metrics[f"{base}/coverage"] == pytest.approx(1 / 3)
    pop = pd.DataFrame({"outcome": ["response"], "contrast": ["onasemnogene_vs_nusinersen"],
                        "ate": [0.13]})  # fmt: skip
    regret = policy_regret(est, truth, eligible, pop, outcome="response", reference="nusinersen")
    # a: ona chosen (best); b: nusinersen chosen, ona best by 0.1; c: ona chosen, worse by 0.1
    assert regret["effects/policy_regret"] == pytest.approx(0.2 / 3)
    assert regret["effects/policy_regret_best_average"] == pytest.approx(0.1 / 3)


def test_e_value_is_one_when_the_interval_includes_no_difference():
    pop = pd.DataFrame(
        {"outcome": ["change"], "contrast": ["a_vs_b"], "ate": [1.0], "ate_lower": [-0.5],
         "ate_upper": [2.5], "reference_mean": [3.0], "outcome_sd": [5.0]}
    )  # fmt: skip
    row = e_values(pop).iloc[0]
    rr = np.exp(0.91 * 1.0 / 5.0)
    assert row["e_value"] == pytest.approx(rr + np.sqrt(rr * (rr - 1)))
    assert row["e_value_interval"] == 1.0
