"""Trial emulation pipeline: load specs, emulate, compare with published figures."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sma_response._utils.io import atomic_write_text
from sma_response.report.calibration import render_calibration_html
from sma_response.simulate.calibration import calibration_table
from sma_response.simulate.evidence import read_published_figures
from sma_response.simulate.params import DiseaseParams
from sma_response.simulate.trials import TrialSpecError

log = logging.getLogger(__name__)


def load_trial_specs(trials_dir: Path, names: str | Sequence[str] = "all") -> list[dict[str, Any]]:
    """Read trial specs from ``trials_dir`` (``all``, one name or a list of names).

    Raises
    ------
    TrialSpecError
        If a named spec does not exist or a file is not a YAML mapping.
    """
    available = {p.stem: p for p in sorted(Path(trials_dir).glob("*.yaml"))}
    wanted = (
        list(available) if names == "all" else ([names] if isinstance(names, str) else list(names))
    )
    specs = []
    for name in wanted:
        if name not in available:
            msg = (
                f"trial={name}: no spec {name}.yaml in {trials_dir}; available: {sorted(available)}"
            )
            raise TrialSpecError(msg)
        try:
            spec = yaml.safe_load(available[name].read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            msg = f"{available[name]}: not valid YAML ({err})"
            raise TrialSpecError(msg) from err
        if not isinstance(spec, dict):
            msg = f"{available[name]}: expected a mapping at the top level"
            raise TrialSpecError(msg)
        spec.setdefault("name", name)
        specs.append(spec)
    return specs


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
    try:
        params = DiseaseParams().with_overrides(disease)
    except ValueError as err:
        raise TrialSpecError(str(err)) from err
    table = calibration_table(specs, seed=seed, figures=figures, params=params)
    log.info("emulated %d trials, %d endpoint rows", len(specs), len(table))
    return table


def write_calibration_report(
    table: pd.DataFrame,
    *,
    figures_file: Path,
    loso_file: Path | None,
    report_file: Path,
    settings: Mapping[str, Any],
) -> Path:
    """Write the HTML calibration report (with the leave-one-study-out table when present)."""
    figures = read_published_figures(figures_file)
    loso = None
    if loso_file is not None and Path(loso_file).is_file():
        loso = pd.read_csv(loso_file, sep="\t")
        loso["within"] = loso["within"].astype(bool)
    html = render_calibration_html(table, figures, loso, settings=settings)
    Path(report_file).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(report_file), html)
    return Path(report_file)
