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


def test_the_cdm_follows_the_content_of_the_exports(tmp_path, caplog) -> None:
    """Freshness by content: a touched file is no change, an edited export is (or is refused)."""
    import json
    import os

    import pytest
    from tests._fixtures.training import compose_train

    from sma_response.pipelines.data import DataError, ensure_cdm

    cfg = compose_train(tmp_path, n_patients=150)
    manifest = ensure_cdm(cfg) / "manifest.json"
    first = json.loads(manifest.read_text(encoding="utf-8"))
    assert len(first["source_digest"]) == 64
    export = sorted((tmp_path / "data" / "raw" / "pytest").glob("*/*.csv"))[0]
    os.utime(export, (export.stat().st_atime + 100, export.stat().st_mtime + 100))
    written = manifest.stat().st_mtime_ns
    ensure_cdm(cfg)  # same bytes, newer mtime: the CDM stands
    assert manifest.stat().st_mtime_ns == written
    lines = export.read_bytes().splitlines(keepends=True)
    export.write_bytes(b"".join(lines[:-1]))  # the site dropped a row
    with caplog.at_level(logging.WARNING, logger="sma_response"):
        ensure_cdm(cfg)
    assert "the exports changed since it was built" in caplog.text
    second = json.loads(manifest.read_text(encoding="utf-8"))
    assert second["source_digest"] != first["source_digest"]
    export.write_bytes(b"".join(lines))
    strict = compose_train(tmp_path, "harmonise.on_stale=refuse", n_patients=150)
    with pytest.raises(DataError, match=r"built from other export files"):
        ensure_cdm(strict)
