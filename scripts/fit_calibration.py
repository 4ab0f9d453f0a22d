"""Fit disease-model parameters to the published trial figures (developer tool).

Minimises the sum of squared deviations of every emulated endpoint from its published value,
each divided by half its acceptance band (``configs/trials/*.yaml``), with Nelder-Mead on a log
scale, common random numbers (fixed seed) and several seeds averaged. It only moves model
parameters: the trial emulation itself is never touched. Paste the printed values into
``src/sma_response/simulate/params.py`` and re-run ``make calibration``.

Run: ``.venv/bin/python scripts/fit_calibration.py --evals 300``
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import minimize

from sma_response.simulate.calibration import calibration_table
from sma_response.simulate.params import DiseaseParams

ROOT = Path(__file__).resolve().parents[1]
#: (path, lower, upper): what the fit may move. Paths index into DiseaseParams.
FREE = [
    ("types.2.slow_loss", 0.0004, 0.003),
    ("types.2.fast_loss.0", 0.45, 0.7),
    ("types.1.fast_loss.0", 0.78, 0.93),
    ("therapies.nusinersen.recovery", 0.1, 0.6),
    ("therapies.nusinersen.efficacy", 0.6, 0.97),
    ("therapies.onasemnogene.recovery", 0.2, 0.9),
    ("recovery_reserve_power", 0.1, 1.5),
    ("recovery_age_tau", 30.0, 600.0),
    ("resp_reserve_mid", 0.14, 0.24),
    ("resp_recovery_share", 0.0, 0.5),
    ("young_child_noise", 0.3, 3.0),
]


def _step(obj: object, key: str) -> object:
    if isinstance(obj, dict):
        return obj[key]
    if isinstance(obj, tuple):
        return obj[int(key)]
    return getattr(obj, key)


def _set(params: DiseaseParams, path: str, value: float) -> None:
    *head, last = path.split(".")
    owner: object = params
    for key in head[:-1]:
        owner = _step(owner, key)
    parent = _step(owner, head[-1]) if head else params
    if isinstance(parent, tuple):  # replace one element of a tuple attribute
        items = list(parent)
        items[int(last)] = value
        setattr(owner, head[-1], tuple(items))
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        setattr(parent, last, value)


def _get(params: DiseaseParams, path: str) -> float:
    obj: object = params
    for key in path.split("."):
        obj = _step(obj, key)
    return float(obj)  # type: ignore[arg-type]


def main() -> None:
    """Fit and print the parameters."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evals", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    specs = [
        yaml.safe_load(p.read_text()) for p in sorted((ROOT / "configs/trials").glob("*.yaml"))
    ]
    base = DiseaseParams()
    lo = np.array([f[1] for f in FREE])
    hi = np.array([f[2] for f in FREE])
    x0 = np.array([_get(base, f[0]) for f in FREE])
    z0 = np.log((x0 - lo) / (hi - x0))

    def unpack(z: np.ndarray) -> DiseaseParams:
        x = lo + (hi - lo) / (1.0 + np.exp(-z))
        p = copy.deepcopy(base)
        for (path, _, _), v in zip(FREE, x, strict=True):
            _set(p, path, float(v))
        return p

    calls = {"n": 0, "best": np.inf}

    def loss(z: np.ndarray) -> float:
        calls["n"] += 1
        p = unpack(z)
        total = 0.0
        for seed in args.seeds:
            tab = calibration_table(specs, seed=seed, params=p)
            half = (tab["accept_max"] - tab["accept_min"]) / 2.0
            dev = ((tab["emulated"] - tab["published"]) / half).fillna(10.0)
            total += float((dev**2).sum())
        total /= len(args.seeds)
        if total < calls["best"]:
            calls["best"] = total
            print(f"eval {calls['n']}: loss {total:.3f}", file=sys.stderr, flush=True)
        return total

    print(f"start loss {loss(z0):.3f}", file=sys.stderr)
    res = minimize(
        loss, z0, method="Nelder-Mead", options={"maxfev": args.evals, "xatol": 1e-3, "fatol": 1e-3}
    )
    best = unpack(res.x)
    print(f"end loss {res.fun:.3f} after {res.nfev} evaluations", file=sys.stderr)
    print(json.dumps({path: round(_get(best, path), 5) for path, _, _ in FREE}, indent=2))


if __name__ == "__main__":
    main()
