"""Benchmark ``make calibration`` (``sma-emulate``, every figure, HTML report) as a process.

Each run is a fresh ``python -m sma_response.cli.emulate`` process emulating all 40 published
figures at 2,000 patients per arm and writing the HTML report into a temporary folder. Peak
memory is the child's maximum resident set size from ``resource.getrusage(RUSAGE_CHILDREN)``.

Budget (2-core machine): median wall time <= 120 s.

Usage::

    python benchmarks/bench_calibration.py --repeats 3

Results go to ``benchmarks/results/bench_calibration.json`` (git-ignored); the exit status is 1
when the budget is exceeded. ``make calibrate`` (the fit, about 25 minutes) is timed by its own
summary line, not here.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_calibration.json"
BUDGET_S = 120.0


def run_once() -> float:
    """Run one emulation process; return its wall seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-calibration-") as tmp:
        command = [
            sys.executable,
            "-m",
            "sma_response.cli.emulate",
            "strict=false",
            f"report_file={tmp}/calibration_report.html",
            f"hydra.run.dir={tmp}/run",
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO_ROOT)
        wall = time.perf_counter() - started
        if done.returncode != 0 or not Path(tmp, "calibration_report.html").is_file():
            sys.stderr.write(done.stderr[-2000:])
            msg = f"sma-emulate failed with status {done.returncode}"
            raise SystemExit(msg)
    return wall


def main() -> int:
    """Time the runs, write the results and compare with the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    walls = [run_once() for _ in range(args.repeats)]
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    median = statistics.median(walls)
    result = {"walls_s": walls, "median_s": median, "peak_rss_gb": peak_gb, "budget_s": BUDGET_S}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    ok = median <= BUDGET_S
    verdict = "within" if ok else "OVER"
    sys.stdout.write(
        f"make calibration: median {median:.1f} s over {len(walls)} runs "
        f"(budget {BUDGET_S:.0f} s), peak RSS {peak_gb:.2f} GB: {verdict} budget\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
