"""Benchmark ``sma-simulate`` as a whole process: wall time and peak memory by dataset size.

Each run is a fresh ``python -m sma_response.cli.simulate`` process (imports, Hydra, simulation,
observation, exports, ground truth, atomic write), writing into a temporary folder. Peak memory
is the child's maximum resident set size from ``/usr/bin/time -v`` (or, without it,
``resource.getrusage(RUSAGE_CHILDREN)``, the largest child so far).

Budgets (2-core machine): 10,000 patients <= 15 s; 200,000 patients <= 180 s and <= 6 GB.

Usage::

    python benchmarks/bench_simulate.py                     # 10k x3, 200k x1
    python benchmarks/bench_simulate.py --large-repeats 3   # 200k x3
    python benchmarks/bench_simulate.py --sizes 10000 --repeats 5

Results go to ``benchmarks/results/bench_simulate.json`` (git-ignored); the exit status is 1
when a budget is exceeded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_simulate.json"
#: size -> (max median wall seconds, max peak RSS in GB)
BUDGETS = {10_000: (15.0, None), 200_000: (180.0, 6.0)}
TIME_BIN = Path("/usr/bin/time")


def run_once(n_patients: int, seed: int) -> dict[str, float]:
    """Run one simulation process; return wall seconds and peak RSS (GB)."""
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        command = [
            sys.executable,
            "-m",
            "sma_response.cli.simulate",
            f"simulation.n_patients={n_patients}",
            f"seed={seed}",
            f"paths.data_dir={tmp}/data",
            f"hydra.run.dir={tmp}/run",
            "progress=false",
        ]
        use_time = TIME_BIN.exists()
        if use_time:
            command = [str(TIME_BIN), "-v", *command]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            msg = f"sma-simulate failed with exit status {done.returncode}"
            raise RuntimeError(msg)
        if use_time:
            match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
            peak_kb = int(match.group(1)) if match else 0
        else:
            peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        size = sum(p.stat().st_size for p in Path(tmp, "data").rglob("*") if p.is_file())
    return {"wall_s": wall, "peak_rss_gb": peak_kb / 1e6, "dataset_mb": size / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--repeats", type=int, default=3, help="runs per size below 100,000")
    parser.add_argument("--large-repeats", type=int, default=1, help="runs per size from 100,000")
    args = parser.parse_args()
    report: dict[str, object] = {
        "benchmark": "sma-simulate, whole process",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "peak_memory_source": "/usr/bin/time -v"
        if TIME_BIN.exists()
        else "getrusage(RUSAGE_CHILDREN)",
        "results": [],
    }
    over_budget = False
    for n in args.sizes:
        repeats = args.large_repeats if n >= 100_000 else args.repeats
        runs = [run_once(n, seed) for seed in range(repeats)]
        walls = [r["wall_s"] for r in runs]
        peak = max(r["peak_rss_gb"] for r in runs)
        budget_s, budget_gb = BUDGETS.get(n, (None, None))
        within = (budget_s is None or statistics.median(walls) <= budget_s) and (
            budget_gb is None or peak <= budget_gb
        )
        over_budget |= not within
        row = {
            "n_patients": n,
            "runs": repeats,
            "median_wall_s": round(statistics.median(walls), 2),
            "min_wall_s": round(min(walls), 2),
            "max_wall_s": round(max(walls), 2),
            "peak_rss_gb": round(peak, 3),
            "dataset_mb": round(runs[0]["dataset_mb"], 1),
            "ms_per_patient": round(1000 * statistics.median(walls) / n, 3),
            "budget_wall_s": budget_s,
            "budget_rss_gb": budget_gb,
            "within_budget": within,
        }
        report["results"].append(row)  # type: ignore[union-attr]
        print(json.dumps(row))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 1 if over_budget else 0


if __name__ == "__main__":
    sys.exit(main())
