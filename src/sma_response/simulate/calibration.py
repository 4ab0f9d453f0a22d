"""Compare emulated trials with the published figures written in their specs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sma_response.simulate.params import DiseaseParams
from sma_response.simulate.trials import emulate_trial

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
]


def calibration_table(
    specs: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    params: DiseaseParams | None = None,
) -> pd.DataFrame:
    """Emulate each trial and put its endpoints beside the published values.

    Parameters
    ----------
    specs
        Trial specs; an endpoint may carry ``published: {arm: value}`` and
        ``accept: {arm: [min, max]}`` (the tolerance band of ``DESIGN.md`` section 9).
    seed
        Emulation seed.
    params
        Disease parameters (calibrated defaults when ``None``).

    Returns
    -------
    pandas.DataFrame
        One row per trial, arm and endpoint, with :data:`CALIBRATION_COLUMNS`; ``within`` is
        ``None`` where the spec gives no acceptance band. Shares are fractions, changes are in
        scale points and ``median_event_age`` in months (see ``kind``).
    """
    rows = []
    for spec in specs:
        result = emulate_trial(spec, seed=seed, params=params)
        targets = {ep.get("name"): ep for ep in spec.get("endpoints", [])}
        for r in result.itertuples(index=False):
            ep = targets.get(r.endpoint, {})
            published = (ep.get("published") or {}).get(r.arm)
            band = (ep.get("accept") or {}).get(r.arm)
            lo, hi = band if band is not None else (None, None)
            within = None if band is None else bool(lo <= r.value <= hi)
            rows.append(
                (
                    spec.get("name"),
                    r.arm,
                    r.endpoint,
                    ep.get("kind"),
                    r.value,
                    published,
                    lo,
                    hi,
                    r.n,
                    within,
                )
            )
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
