"""sma-calibrate end to end on a tiny budget: the fit, the in-sample table, leave one study out."""

from __future__ import annotations

import pandas as pd
import yaml

from sma_response.conf.compose import compose_config
from sma_response.pipelines.calibrate import run_calibration


def test_a_tiny_calibration_writes_the_fitted_set_and_the_held_out_figures(tmp_path):
    cfg = compose_config(
        "calibrate",
        [
            "n_trials=3",
            "n_per_arm=60",
            "check_n_per_arm=60",
            "loso.n_studies=1",
            "loso.n_trials=2",
            f"out_file={tmp_path / 'fitted.yaml'}",
            f"loso_file={tmp_path / 'loso.tsv'}",
            "progress=false",
        ],
    )
    run = run_calibration(cfg)
    figures = pd.read_csv(cfg.figures_file, sep="\t")
    assert len(run.in_sample) == len(figures)  # every published figure is emulated
    text = run.out_file.read_text(encoding="utf-8")
    assert f"of {len(figures)} figures inside their 95 % interval" in text
    assert yaml.safe_load(text) == run.fit.overrides
    loso = pd.read_csv(run.loso_file, sep="\t")
    (study,) = loso["study"].unique()
    held = set(figures.loc[figures["study"] == study, "id"])
    assert set(loso["figure"]) == held  # exactly the left-out study's figures
    assert loso["figure"].tolist() == run.loso["figure"].tolist()
    assert (loso["z"] - run.loso["z"].to_numpy()).abs().max() < 1e-4  # written at 4 decimals
