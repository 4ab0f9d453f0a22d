"""Formal calibration: fit disease-model parameters jointly to every published figure.

The loss is the sum over figures of the squared distance between the emulated and the
published value in units of the figure's own standard error (:func:`~.evidence.figure_z`),
each capped so that one figure the model's structure cannot reach does not drown the rest.
The search is Optuna's CMA-ES started from the current values, with common random numbers (one
emulation seed for every candidate) and a smaller emulation size than the final check; the fit
is deterministic for a seed. Nothing but :class:`DiseaseParams` values moves: the trial
emulation and the figures are never touched.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
import yaml

from sma_response.simulate.calibration import calibration_table
from sma_response.simulate.params import DiseaseParams, overrides_for

__all__ = [
    "FitResult",
    "FreeParameter",
    "calibration_loss",
    "fit_parameters",
    "fitted_yaml",
    "largest_studies",
    "leave_one_study_out",
    "only_study",
    "without_study",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FreeParameter:
    """A parameter the fit may move: a dotted path into :class:`DiseaseParams` and its bounds."""

    path: str
    low: float
    high: float


@dataclass
class FitResult:
    """What a fit found.

    Attributes
    ----------
    values
        The fitted value of each free parameter (dotted path -> value).
    overrides
        The same as a nested override of the starting parameters (what the config holds).
    loss, start_loss
        The loss of the fitted and of the starting parameters, at the search's size.
    n_trials
        Candidates evaluated.
    """

    values: dict[str, float]
    overrides: dict[str, Any]
    loss: float
    start_loss: float
    n_trials: int


def calibration_loss(table: pd.DataFrame, *, cap: float = 25.0) -> float:
    """Sum of squared z (capped) over the figures of a calibration table; ``nan`` counts as the cap.

    Examples
    --------
    >>> calibration_loss(pd.DataFrame({"z": [1.0, -2.0, float("nan"), 10.0]}), cap=25.0)
    55.0
    """
    z2 = np.square(table["z"].to_numpy(dtype=float))
    return float(np.minimum(np.nan_to_num(z2, nan=cap), cap).sum())


def without_study(
    specs: Sequence[Mapping[str, Any]], figures: pd.DataFrame, study: str
) -> list[dict[str, Any]]:
    """Return the specs with every reference to ``study``'s figures (and empty endpoints) removed.

    A spec left without endpoints is dropped: leave-one-study-out fits never see the study.
    """
    held = set(figures.index[figures["study"] == study])
    out = []
    for spec in specs:
        endpoints = []
        for ep in spec.get("endpoints", []):
            kept = {arm: fid for arm, fid in (ep.get("figures") or {}).items() if fid not in held}
            if kept:
                endpoints.append({**ep, "figures": kept})
        if endpoints:
            out.append({**spec, "endpoints": endpoints})
    return out


def only_study(
    specs: Sequence[Mapping[str, Any]], figures: pd.DataFrame, study: str, *, n_per_arm: int
) -> list[dict[str, Any]]:
    """Return the specs cut to the endpoints that point at ``study``'s figures, at ``n_per_arm``.

    The complement of :func:`without_study`: what a leave-one-study-out refit is checked on.
    """
    held = set(figures.index[figures["study"] == study])
    out = []
    for spec in specs:
        own = [ep for ep in spec["endpoints"] if set((ep.get("figures") or {}).values()) & held]
        if own:
            out.append({**spec, "endpoints": own, "n_per_arm": n_per_arm})
    return out


def leave_one_study_out(
    specs: Sequence[Mapping[str, Any]],
    figures: pd.DataFrame,
    refit: Callable[[str, list[dict[str, Any]]], FitResult],
    *,
    n_studies: int,
    check_n_per_arm: int,
    seed: int,
) -> pd.DataFrame:
    """Refit without each of the largest studies and emulate its figures with that refit.

    ``refit(label, specs)`` fits the free parameters to ``specs`` (the study's figures removed).
    Returns one row per held-out figure: ``study, figure, trial, arm, endpoint, emulated,
    published, accept_min, accept_max, within, z``.
    """
    parts = []
    for study in largest_studies(figures, n_studies):
        fitted = refit(f"without {study}", without_study(specs, figures, study))
        params = DiseaseParams().with_overrides(fitted.overrides)
        own = only_study(specs, figures, study, n_per_arm=check_n_per_arm)
        table = calibration_table(own, seed=seed, params=params, figures=figures)
        held = set(figures.index[figures["study"] == study])
        parts.append(table.loc[table["figure"].isin(held)].assign(study=study))
    columns = ["study", "figure", "trial", "arm", "endpoint", "emulated", "published"]
    columns += ["accept_min", "accept_max", "within", "z"]
    return pd.concat(parts, ignore_index=True)[columns]


def fitted_yaml(
    result: FitResult, in_sample: pd.DataFrame, *, n_per_arm: int, check_n_per_arm: int, seed: int
) -> str:
    """Return ``configs/calibration/fitted_params.yaml``: the overrides under the fit's header."""
    n_in = int(in_sample["within"].sum())
    header = [
        "# Calibrated disease-model parameters: overrides of sma_response.simulate.params.",
        "# DiseaseParams, read by configs/simulation/default.yaml and configs/emulate.yaml.",
        "# Written by `make calibrate` (sma-calibrate); review the diff before committing.",
        f"# Fit: Optuna CMA-ES, {result.n_trials} candidates, {n_per_arm} patients per arm,",
        f"# seed {seed}; loss (sum of capped squared z) {result.start_loss:.1f} at the",
        f"# starting values -> {result.loss:.1f}. In sample ({check_n_per_arm} per arm):",
        f"# {n_in} of {len(in_sample)} figures inside their 95 % interval.",
    ]
    body = yaml.safe_dump(result.overrides, sort_keys=True, default_flow_style=False)
    return "\n".join(header) + "\n" + body


def largest_studies(figures: pd.DataFrame, k: int) -> list[str]:
    """Return the ``k`` studies with the most patients (largest ``n`` of any of their figures).

    Ties are broken by name, so the choice is deterministic.
    """
    sizes = figures.groupby("study")["n"].max().fillna(0.0)
    order = sorted(sizes.index, key=lambda s: (-float(sizes[s]), str(s)))
    return [str(s) for s in order[:k]]


def fit_parameters(
    specs: Sequence[Mapping[str, Any]],
    figures: pd.DataFrame,
    free: Sequence[FreeParameter],
    *,
    start: DiseaseParams | None = None,
    n_trials: int = 300,
    n_per_arm: int = 600,
    seed: int = 0,
    cap: float = 25.0,
    progress: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Fit the free parameters jointly to every figure the specs point at.

    Parameters
    ----------
    specs
        Trial specs whose endpoints carry ``figures``.
    figures
        The evidence table.
    free
        What may move, with bounds (the search works on each parameter's share of its range).
    start
        Starting parameters (the structural defaults when ``None``); the first candidate.
    n_trials
        Candidates to evaluate.
    n_per_arm
        Emulation size during the search.
    seed
        Seed of the emulation (common random numbers) and of the sampler.
    cap
        Largest squared z one figure may add.
    progress
        Called after each candidate with its number and the best loss so far.

    Returns
    -------
    FitResult
        The best candidate (the start itself when nothing beat it).
    """
    start = start or DiseaseParams()
    small = [{**s, "n_per_arm": n_per_arm} for s in specs]
    x0 = {p.path: _share(start.value_at(p.path), p) for p in free}

    def loss_of(values: Mapping[str, float]) -> float:
        params = start.with_overrides(overrides_for(values, start))
        table = calibration_table(small, seed=seed, params=params, figures=figures)
        return calibration_loss(table, cap=cap)

    def objective(trial: optuna.Trial) -> float:
        shares = {p.path: trial.suggest_float(p.path, 0.0, 1.0) for p in free}
        return loss_of({p.path: _value(shares[p.path], p) for p in free})

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.CmaEsSampler(x0=x0, sigma0=0.15, seed=seed, n_startup_trials=0)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    with warnings.catch_warnings():  # enqueue_trial is "experimental" in Optuna 2
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.enqueue_trial(x0)
        best = math.inf
        for i in range(n_trials):
            study.optimize(objective, n_trials=1)
            best = min(best, _loss(study.trials[-1]))
            if progress is not None:
                progress(i + 1, best)
    start_loss = _loss(study.trials[0])
    values = {p.path: _value(study.best_params[p.path], p) for p in free}
    fitted = float(study.best_value)
    if fitted >= start_loss:
        values = {p.path: start.value_at(p.path) for p in free}
    values = {k: float(np.round(v, 6)) for k, v in values.items()}
    return FitResult(
        values=values,
        overrides=overrides_for(values, start),
        loss=min(fitted, start_loss),
        start_loss=start_loss,
        n_trials=len(study.trials),
    )


def _loss(trial: optuna.trial.FrozenTrial) -> float:
    return math.inf if trial.value is None else float(trial.value)


def _share(value: float, p: FreeParameter) -> float:
    return float(np.clip((value - p.low) / (p.high - p.low), 0.0, 1.0))


def _value(share: float, p: FreeParameter) -> float:
    return p.low + share * (p.high - p.low)
