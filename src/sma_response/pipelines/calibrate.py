"""Calibration pipeline (``make calibrate``): fit, check in sample, leave one study out, write.

1. read the trial specs and the evidence table;
2. fit the free parameters (``configs/calibrate.yaml``) jointly to every figure
   (:func:`sma_response.simulate.fit.fit_parameters`), from the structural starting values;
3. emulate every figure with the fitted set at the full size (the in-sample table);
4. optionally, for each of the largest studies: refit without it and emulate its figures;
5. write the fitted set as ``configs/calibration/fitted_params.yaml`` (reviewed and committed;
   the simulation and emulation configs read it) and the leave-one-study-out table beside it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from sma_response._utils.io import atomic_write_text
from sma_response.conf.nodes import node_list
from sma_response.simulate.calibration import calibration_table
from sma_response.simulate.evidence import read_published_figures
from sma_response.simulate.fit import (
    FitResult,
    FreeParameter,
    fit_parameters,
    fitted_yaml,
    leave_one_study_out,
)
from sma_response.simulate.params import DiseaseParams
from sma_response.simulate.trials import load_trial_specs

__all__ = ["CalibrationRun", "run_calibration"]

log = logging.getLogger(__name__)


@dataclass
class CalibrationRun:
    """What ``sma-calibrate`` produced.

    Attributes
    ----------
    fit
        The joint fit.
    in_sample
        Every figure emulated with the fitted set at the check size.
    loso
        Held-out figures of each left-out study, emulated after a refit without it (empty when
        not run).
    out_file, loso_file
        Where the fitted set and the leave-one-study-out table were written.
    wall_seconds
        Duration of the run.
    """

    fit: FitResult
    in_sample: pd.DataFrame
    loso: pd.DataFrame
    out_file: Path
    loso_file: Path | None
    wall_seconds: float


def run_calibration(
    cfg: DictConfig, *, progress: Callable[[str, int, float], None] | None = None
) -> CalibrationRun:
    """Fit the disease model to the evidence and write the calibrated parameters.

    Parameters
    ----------
    cfg
        Composed ``configs/calibrate.yaml``.
    progress
        Called with (stage, candidates done, best loss) during each fit.
    """
    started = time.perf_counter()
    specs = load_trial_specs(Path(cfg.trials_dir))
    figures = read_published_figures(Path(cfg.figures_file))
    free = [
        FreeParameter(str(p["path"]), float(p["low"]), float(p["high"]))
        for p in node_list(cfg.free, key="free")
    ]
    start = DiseaseParams()

    def fit(stage: str, fit_specs: list[dict[str, Any]], n_trials: int) -> FitResult:
        def tick(i: int, best: float) -> None:
            if progress is not None:
                progress(stage, i, best)

        return fit_parameters(
            fit_specs,
            figures,
            free,
            start=start,
            n_trials=n_trials,
            n_per_arm=int(cfg.n_per_arm),
            seed=int(cfg.seed),
            cap=float(cfg.cap),
            progress=tick,
        )

    result = fit("joint fit", specs, int(cfg.n_trials))
    fitted = start.with_overrides(result.overrides)
    full = [{**s, "n_per_arm": int(cfg.check_n_per_arm)} for s in specs]
    in_sample = calibration_table(full, seed=int(cfg.seed), params=fitted, figures=figures)
    loso = None
    if int(cfg.loso.n_studies):
        loso = leave_one_study_out(
            specs, figures, lambda label, fit_specs: fit(label, fit_specs, int(cfg.loso.n_trials)),
            n_studies=int(cfg.loso.n_studies), check_n_per_arm=int(cfg.check_n_per_arm),
            seed=int(cfg.seed),
        )  # fmt: skip
    out_file = Path(cfg.out_file)
    text = fitted_yaml(
        result, in_sample, n_per_arm=int(cfg.n_per_arm), check_n_per_arm=int(cfg.check_n_per_arm),
        seed=int(cfg.seed),
    )  # fmt: skip
    atomic_write_text(out_file, text)
    loso_file = None
    if loso is not None:
        loso_file = Path(cfg.loso_file)
        atomic_write_text(loso_file, loso.to_csv(sep="\t", index=False, float_format="%.4f"))
    return CalibrationRun(
        fit=result,
        in_sample=in_sample,
        loso=loso if loso is not None else pd.DataFrame(),
        out_file=out_file,
        loso_file=loso_file,
        wall_seconds=time.perf_counter() - started,
    )
