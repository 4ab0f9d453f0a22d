"""The bootstrap resamples patients, not outcomes: prevalence varies, a patient stays whole."""

from __future__ import annotations

import numpy as np

from sma_response.evaluate.metrics import compute_metrics
from sma_response.evaluate.uncertainty import bootstrap_counts, patient_clusters


def test_resamples_are_not_stratified_by_outcome(rng):
    y = (rng.random(400) < 0.3).astype(float)
    counts = bootstrap_counts(400, rng=rng, n_boot=200)
    prevalence = (counts @ y) / counts.sum(axis=1)
    assert prevalence.std() > 0.01  # fixed (0) under outcome stratification


def test_every_index_event_of_a_drawn_patient_comes_along(rng):
    ids = [f"p{i // 3}#{i % 3 + 1}" for i in range(90)]  # 30 patients, 3 starts each
    clusters = patient_clusters(ids)
    counts = bootstrap_counts(90, rng=rng, n_boot=50, clusters=clusters)
    per_patient = counts.reshape(50, 30, 3)
    assert (per_patient == per_patient[:, :, :1]).all()  # a patient's rows drawn together


def test_clustered_intervals_are_wider_when_a_patients_events_agree(rng):
    # 100 patients with 5 identical index events each: 100 independent units, not 500.
    base_y = (rng.random(100) < 0.5).astype(float)
    base_p = np.clip(base_y * 0.3 + rng.random(100) * 0.7, 0, 1)
    y, p = np.repeat(base_y, 5), np.repeat(base_p, 5)
    ids = [f"p{i // 5}#{i % 5 + 1}" for i in range(500)]
    rows = compute_metrics(y, p, task="classification", rng=np.random.default_rng(0), n_boot=200)
    clustered = compute_metrics(
        y, p, task="classification", rng=np.random.default_rng(0), n_boot=200,
        clusters=patient_clusters(ids),
    )  # fmt: skip
    width = lambda m: m["auroc_ci_high"] - m["auroc_ci_low"]  # noqa: E731
    assert width(clustered) > 1.8 * width(rows)  # about sqrt(5) wider
