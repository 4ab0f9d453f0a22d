"""Shared data helpers of the pipelines: the oracle join survives a corrupted truth file."""

from __future__ import annotations

import logging

import pandas as pd

from sma_response.pipelines.data import oracle_predictions


def test_a_corrupted_counterfactuals_file_gives_no_oracle_and_a_warning(tmp_path, caplog) -> None:
    truth = tmp_path / "ground_truth"
    truth.mkdir()
    (truth / "counterfactuals.parquet").write_bytes(b"PAR1 not really parquet")
    with caplog.at_level(logging.WARNING, logger="sma_response"):
        out = oracle_predictions(
            pd.DataFrame(),
            pd.DataFrame(),
            raw_dir=tmp_path,
            key_file=tmp_path / "key",
            task="classification",
        )
    assert out is None
    assert "oracle figures not computed" in caplog.text
    assert "counterfactuals.parquet: unreadable ground-truth file" in caplog.text


def test_no_truth_folder_gives_no_oracle(tmp_path) -> None:
    out = oracle_predictions(
        pd.DataFrame(), pd.DataFrame(), raw_dir=tmp_path, key_file=tmp_path / "k", task="regression"
    )
    assert out is None
