"""The oracle join: the truth of each index event, under the run's estimand."""

from __future__ import annotations

import pandas as pd
import pytest

from sma_response.evaluate.oracle import join_oracle
from sma_response.harmonise.pseudonym import pseudonymise

KEY = b"test-key"


def _inputs():
    pid = pseudonymise(pd.Series(["L1"]), registry="reg", key=KEY)[0]
    cohort = pd.DataFrame(
        {"index_id": [f"{pid}#1"], "patient_id": [pid], "therapy": ["nusinersen"],
         "index_age_days": [100.0]}
    )  # fmt: skip
    targets = pd.DataFrame({"index_id": [f"{pid}#1"], "primary_scale": ["chop_intend"]})
    links = pd.DataFrame({"registry": ["reg"], "local_id": ["L1"], "person_id": [0]})
    truth = pd.DataFrame(
        {"person_id": [0, 0], "option": ["nusinersen", "risdiplam"],
         "index_age_days": [110.0, 110.0], "scale": ["chop_intend"] * 2,
         "expected_change": [6.0, 4.0], "response_probability": [0.8, 0.6],
         "event_free_probability": [0.5, 0.9]}
    )  # fmt: skip
    return cohort, targets, links, truth


@pytest.mark.parametrize(("estimand", "expected"), [("composite", 0.4), ("while_alive", 0.8)])
def test_the_composite_truth_is_response_and_event_free(estimand, expected):
    cohort, targets, links, truth = _inputs()
    out = join_oracle(
        cohort, targets, links=links, counterfactuals=truth, key=KEY,
        task="classification", estimand=estimand,
    )  # fmt: skip
    assert out.tolist() == [pytest.approx(expected)]


def test_a_change_truth_ignores_the_estimand():
    cohort, targets, links, truth = _inputs()
    out = join_oracle(
        cohort, targets, links=links, counterfactuals=truth, key=KEY,
        task="regression", estimand="composite",
    )  # fmt: skip
    assert out.tolist() == [6.0]
