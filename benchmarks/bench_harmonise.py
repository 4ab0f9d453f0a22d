"""Benchmark ``sma-harmonise``: wall time and peak memory of whole-process runs.

Budgets (issue #3): the default dataset (3,000 patients) in <= 10 s; a 200,000-patient dataset in
<= 90 s and <= 6 GB peak RSS. Each size is harmonised ``--repeats`` times (median reported) in a
fresh process, exactly as a user runs it; a missing dataset is simulated first (not timed).

    python benchmarks/bench_harmonise.py                       # default size only
    python benchmarks/bench_harmonise.py --sizes 3000 200000   # both budgets
    python benchmarks/bench_harmonise.py --data-dir /scratch/bench

Results go to ``benchmarks/results/bench_harmonise.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: (wall seconds, peak RSS GB) budgets per dataset size.
BUDGETS = {3000: (10.0, None), 200_000: (90.0, 6.0)}


def _run(cmd: list[str]) -> tuple[float, float, int]:
    """Run a command; return wall seconds, peak RSS (GB) of that process and its exit code."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    rss_gb = usage.ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux
    if proc.stderr is not None:
        proc.stderr.close()
    return wall, rss_gb, os.waitstatus_to_exitcode(status)


def _ensure_dataset(data_dir: Path, dataset: str, n_patients: int) -> None:
    if (data_dir / "raw" / dataset).is_dir():
        return
    print(
        f"simulating {n_patients:,} patients into {data_dir}/raw/{dataset} (not timed) ...",
        flush=True,
    )
    cmd = [
        sys.executable,
        "-m",
        "sma_response.cli.simulate",
        f"simulation.n_patients={n_patients}",
        f"simulation.dataset={dataset}",
        f"paths.data_dir={data_dir}",
        "progress=false",
        f"hydra.run.dir={data_dir}/.hydra_sim",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[3000], help="dataset sizes (patients)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="whole-process runs per size (median)"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="where datasets live (default: a temp dir)"
    )
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.gettempdir()) / "sma_bench_harmonise"
    data_dir.mkdir(parents=True, exist_ok=True)
    results = []
    failed = False
    for size in args.sizes:
        dataset = "default" if size == 3000 else f"bench{size}"
        _ensure_dataset(data_dir, dataset, size)
        cmd = [
            sys.executable,
            "-m",
            "sma_response.cli.harmonise",
            f"dataset={dataset}",
            f"paths.data_dir={data_dir}",
            "progress=false",
            f"hydra.run.dir={data_dir}/.hydra_harmonise",
        ]
        runs = [_run(cmd) for _ in range(args.repeats)]
        if any(code != 0 for _, _, code in runs):
            print(
                f"{size:>8,} patients: sma-harmonise failed (exit codes {[c for _, _, c in runs]})"
            )
            failed = True
            continue
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        budget_s, budget_gb = BUDGETS.get(size, (None, None))
        ok = (budget_s is None or wall <= budget_s) and (budget_gb is None or rss <= budget_gb)
        failed |= not ok
        results.append(
            {
                "n_patients": size,
                "runs_s": [round(r[0], 2) for r in runs],
                "median_s": round(wall, 2),
                "peak_rss_gb": round(rss, 2),
                "budget_s": budget_s,
                "budget_gb": budget_gb,
                "within_budget": ok,
            }
        )
        limits = (
            f"budget {budget_s} s" + (f", {budget_gb} GB" if budget_gb else "")
            if budget_s
            else "no budget"
        )
        print(
            f"{size:>8,} patients: median {wall:6.1f} s, peak RSS {rss:4.2f} GB ({limits}) "
            f"{'ok' if ok else 'OVER'}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "benchmark": "bench_harmonise",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "results": results,
    }
    (RESULTS / "bench_harmonise.json").write_text(
        json.dumps(out, indent=2) + "\n", encoding="utf-8"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
