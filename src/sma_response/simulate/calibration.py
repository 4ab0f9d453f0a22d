"""Compare emulated trials with published figures.

An endpoint names its figures by id (``figures: {arm: id}``; ``{"a - b": id}`` for the
difference between two arms) in the evidence table
(:func:`~sma_response.simulate.evidence.read_published_figures`), whose 95 % interval is the
acceptance band; a user's own spec may instead carry ``published: {arm: value}`` and
``accept: {arm: [min, max]}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sma_response.simulate.evidence import figure_z
from sma_response.simulate.params import DiseaseParams
from sma_response.simulate.trials import TrialSpecError, emulate_trial

CALIBRATION_COLUMNS = [
    "trial",
    "arm",
    "endpoint",
    "kind",
    "emulated",
    "published",
    "accept_min",
    "accept_max",
    "n",
    "within",
    "figure",
    "z",
]
#: How a difference between two arms is written in ``figures``: ``"risdiplam - untreated"``.
CONTRAST = " - "


def calibration_table(
    specs: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    params: DiseaseParams | None = None,
    figures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Emulate each trial and put its endpoints beside the published values.

    Parameters
    ----------
    specs
        Trial specs (``DESIGN.md`` section 3).
    seed
        Emulation seed (the same seed for every trial: common random numbers across parameter
        sets).
    params
        Disease parameters (calibrated defaults when ``None``).
    figures
        The evidence table, indexed by figure id; needed by endpoints with ``figures``.

    Returns
    -------
    pandas.DataFrame
        One row per trial, arm (or arm contrast) and endpoint, with :data:`CALIBRATION_COLUMNS`;
        ``within`` is ``None`` where there is no band, ``z`` the distance in standard errors
        (see :func:`~sma_response.simulate.evidence.figure_z`). Shares are fractions, changes
        in scale points and ``median_event_age`` in months.

    Raises
    ------
    TrialSpecError
        For an unknown figure id or an arm (contrast) the trial does not have.
    """
    rows = []
    for spec in specs:
        result = emulate_trial(spec, seed=seed, params=params)
        emulated = {(r.arm, r.endpoint): (r.value, r.n) for r in result.itertuples(index=False)}
        for ep in spec.get("endpoints", []):
            name = str(ep.get("name"))
            if ep.get("figures"):
                rows.extend(_figure_rows(spec, ep, emulated, figures))
                continue
            for arm in spec.get("arms", []):
                value, n = emulated[(arm, name)]
                published = (ep.get("published") or {}).get(arm)
                band = (ep.get("accept") or {}).get(arm)
                lo, hi = band if band is not None else (None, None)
                within = None if band is None else bool(lo <= value <= hi)
                row = (spec.get("name"), arm, name, ep.get("kind"), value, published, lo, hi, n)
                rows.append((*row, within, None, math.nan))
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def _figure_rows(
    spec: Mapping[str, Any],
    ep: Mapping[str, Any],
    emulated: Mapping[tuple[str, str], tuple[float, int]],
    figures: pd.DataFrame | None,
) -> list[tuple]:
    trial, name = spec.get("name"), str(ep.get("name"))
    where = f"trial {trial}: endpoint {name}: figures"
    if figures is None:
        msg = f"{where}: no published-figures table was given"
        raise TrialSpecError(msg)
    rows = []
    for arm, figure in ep["figures"].items():
        if figure not in figures.index:
            msg = f"{where}.{arm}: unknown figure id {figure!r} (not in the evidence table)"
            raise TrialSpecError(msg)
        parts = str(arm).split(CONTRAST)
        if len(parts) not in (1, 2) or any(p not in spec.get("arms", []) for p in parts):
            msg = f"{where}: {arm!r} is not an arm of the trial, nor 'arm - arm'"
            raise TrialSpecError(msg)
        value, n = emulated[(parts[0], name)]
        if len(parts) == 2:
            other, n_other = emulated[(parts[1], name)]
            value, n = value - other, n + n_other
        fig = figures.loc[figure]
        lo, hi = float(fig["ci_low"]), float(fig["ci_high"])
        within = bool(lo <= value <= hi) if not math.isnan(value) else False
        z = figure_z(value, float(fig["value"]), lo, hi)
        row = (trial, arm, name, ep.get("kind"), value, float(fig["value"]), lo, hi, n)
        rows.append((*row, within, figure, z))
    return rows
