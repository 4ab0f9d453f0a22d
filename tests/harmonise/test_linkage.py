from __future__ import annotations

import numpy as np
import pandas as pd

from sma_response.harmonise.linkage import LinkageSpec, apply_links, link_patients, linkage_quality


def _keys(rows):
    cols = [
        "patient_id",
        "registry",
        "birth_month",
        "birth_day",
        "sex",
        "smn2_copies",
        "sma_type",
        "onset_age_days",
        "onset_err",
        "diagnosis_age_days",
        "diagnosis_err",
        "first_therapy",
        "first_start_age_days",
        "first_start_err",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_same_person_in_two_registries_is_linked_once() -> None:
    keys = _keys(
        [
            ["aaaa", "clin", 24000, 5, "F", 2, "1", 60.0, 0.0, 90.0, 0.0, "nusinersen", 120.0, 0.0],
            ["bbbb", "pr", 24000, 5, "F", 2, "1", 52.0, 16.0, 95.0, 16.0, "nusinersen", 120.0, 0.0],
            [
                "cccc",
                "pr",
                24000,
                5,
                "F",
                2,
                "1",
                300.0,
                16.0,
                400.0,
                16.0,
                "risdiplam",
                900.0,
                0.0,
            ],
            ["dddd", "clin", 24000, 6, "F", 2, "1", 60.0, 0.0, 90.0, 0.0, "nusinersen", 120.0, 0.0],
        ]
    )
    links = link_patients(keys, spec=LinkageSpec())
    linked = dict(zip(links["patient_id"], links["linked_id"], strict=True))
    assert linked["bbbb"] == "aaaa"  # the smaller id names the group
    assert linked["cccc"] == "cccc"
    assert linked["dddd"] == "dddd"  # born another day: never compared
    truth = pd.DataFrame(
        {"patient_id": ["aaaa", "bbbb", "cccc", "dddd"], "person_id": [1, 1, 2, 3]}
    )
    q = linkage_quality(links, truth)
    assert (q["precision"], q["recall"]) == (1.0, 1.0)


def test_links_are_deterministic_and_applied() -> None:
    rng = np.random.default_rng(0)
    n = 300
    keys = _keys(
        [
            [
                f"{i:016x}",
                ["a", "b", "c"][i % 3],
                24000 + int(rng.integers(0, 3)),
                int(rng.integers(1, 4)),
                "M",
                int(rng.integers(2, 4)),
                "2",
                float(rng.integers(200, 400)),
                0.0,
                float(rng.integers(300, 600)),
                0.0,
                None,
                np.nan,
                np.nan,
            ]
            for i in range(n)
        ]
    )
    a = link_patients(keys)
    b = link_patients(keys.sample(frac=1.0, random_state=1))
    pd.testing.assert_frame_equal(a, b)
    patients = pd.DataFrame({"patient_id": keys["patient_id"], "linked_id": keys["patient_id"]})
    applied = apply_links(patients, a)
    assert (applied["linked_id"] <= applied["patient_id"]).all()
