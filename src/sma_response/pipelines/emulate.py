"""Trial emulation pipeline: load specs, emulate, compare with published figures."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sma_response._utils.errors import reraise
from sma_response.report.calibration import write_calibration_report
from sma_response.simulate.calibration import calibration_table
from sma_response.simulate.evidence import read_published_figures
from sma_response.simulate.params import DiseaseParams
from sma_response.simulate.trials import TrialSpecError, load_trial_specs

__all__ = ["load_trial_specs", "run_emulation", "write_calibration_report"]

log = logging.getLogger(__name__)


def run_emulation(
    trials_dir: Path,
    *,
    trial: str | Sequence[str] = "all",
    seed: int = 0,
    n_per_arm: int | None = None,
    figures_file: Path | None = None,
    disease: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Emulate the chosen trials and return the calibration table.

    Parameters
    ----------
    trials_dir
        Folder of trial specs.
    trial
        ``all``, a spec name or a list of names.
    seed
        Emulation seed.
    n_per_arm
        Override every spec's arm size.
    figures_file
        The published-figures table the specs' ``figures`` point at.
    disease
        Disease-parameter overrides (the calibrated set); ``None``: the starting values.

    Returns
    -------
    pandas.DataFrame
        See :func:`sma_response.simulate.calibration.calibration_table`.

    Raises
    ------
    TrialSpecError
        For a bad spec or figure reference.
    EvidenceError
        For a malformed figures table.
    """
    specs = load_trial_specs(trials_dir, trial)
    if n_per_arm is not None:
        specs = [{**s, "n_per_arm": n_per_arm} for s in specs]
    figures = None if figures_file is None else read_published_figures(figures_file)
    with reraise(TrialSpecError, ValueError):
        params = DiseaseParams().with_overrides(disease)
    table = calibration_table(specs, seed=seed, figures=figures, params=params)
    log.info("emulated %d trials, %d endpoint rows", len(specs), len(table))
    return table
