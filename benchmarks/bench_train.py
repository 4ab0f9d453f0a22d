"""Benchmark ``sma-train`` as a whole process on the default dataset (already simulated).

The default dataset (``configs/simulation/default.yaml``) is simulated and harmonised once into a
temporary data folder; then ``python -m sma_response.cli.train`` runs ``--repeats`` times, each a
fresh process against its own SQLite MLflow store (so store creation is part of every run, as on
a fresh clone). Wall time and peak RSS are measured around the process; the split of that time
comes from the run's own ``timing/*`` metrics: model fitting (``timing/fit_seconds``: every fit of
the run - cross-validation folds and final model, the baseline comparator, and the change model
the reports use), explanations and example reports, evaluation, MLflow logging; "start-up" is
the rest (interpreter, imports, Hydra composition: wall time minus the pipeline).

Budget (2-core machine): median <= 60 s; model fitting at least half of the wall time. The
per-therapy effects experiment (``experiments=therapy_effects``, the 10,000-person consortium):
median <= 300 s.

Usage::

    python benchmarks/bench_train.py                 # 3 runs
    python benchmarks/bench_train.py --repeats 5 --extra model=hist_gb
    python benchmarks/bench_train.py --extra experiments=therapy_effects --budget 300 \
        --name bench_effects
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results"
TIME_BIN = Path("/usr/bin/time")
BUDGET_SECONDS = 60.0


def _train_command(tmp: Path, store: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sma_response.cli.train",
        f"paths.data_dir={tmp}/data",
        f"paths.output_root={tmp}/outputs",
        f"tracking.uri=sqlite:///{store}/mlflow.db",
        f"tracking.artifact_location={store}/artifacts",
        "progress=false",
        *extra,
    ]


def _fit_seconds(store: Path) -> dict[str, float]:
    code = (
        f"import json, mlflow; mlflow.set_tracking_uri('sqlite:///{store}/mlflow.db');"
        "r = mlflow.search_runs(search_all_experiments=True).iloc[0];"
        "print(json.dumps({k[len('metrics.'):]: float(v) for k, v in r.items()"
        " if k.startswith('metrics.timing/') or k == 'metrics.cv/auroc'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_once(tmp: Path, i: int, extra: list[str]) -> dict[str, float]:
    """Run one training process; return wall seconds, peak RSS and the run's timings."""
    store = tmp / f"store{i}"
    command = _train_command(tmp, store, extra)
    if TIME_BIN.exists():
        command = [str(TIME_BIN), "-v", *command]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        msg = f"sma-train failed with exit code {done.returncode}"
        raise RuntimeError(msg)
    peak = float("nan")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if match:
        peak = int(match.group(1)) / 1024**2
    timings = _fit_seconds(store)
    return {"wall_s": wall, "peak_rss_gb": peak, **timings}


def main() -> int:
    """Prepare the dataset, time the runs, print and save the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--extra", nargs="*", default=[], help="extra Hydra overrides")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="median budget, s")
    parser.add_argument("--name", default="bench_train", help="results file stem")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as name:
        tmp = Path(name)
        # Warm-up: simulate + harmonise + one training run (not timed).
        prep = subprocess.run(
            _train_command(tmp, tmp / "warmup", args.extra),
            capture_output=True,
            text=True,
            check=False,
        )
        if prep.returncode != 0:
            sys.stderr.write(prep.stderr[-3000:])
            return 1
        runs = [run_once(tmp, i, args.extra) for i in range(args.repeats)]
    wall = statistics.median(r["wall_s"] for r in runs)
    fit = statistics.median(r["timing/fit_seconds"] for r in runs)
    parts = {
        "model fitting": "timing/fit_seconds",
        "explanations + example reports": "timing/explain_seconds",
        "evaluation (bootstrap, subgroups, oracle)": "timing/evaluate_seconds",
        "per-therapy effects (effects stage)": "timing/effects_seconds",
        "MLflow logging (store, params, plots, model)": "timing/logging_seconds",
        "data (read + validate the CDM)": "timing/data_seconds",
        "cohort + features": "timing/cohort_features_seconds",
    }
    split = {name: statistics.median(r.get(key, 0.0) for r in runs) for name, key in parts.items()}
    # The model-fitting total also holds the change model, which runs inside the explain step.
    split["explanations + example reports"] -= statistics.median(
        r.get("timing/fit_change_model_seconds", 0.0) for r in runs
    )
    split["start-up (interpreter, imports, Hydra)"] = wall - statistics.median(
        r["timing/pipeline_seconds"] for r in runs
    )
    result = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cores": __import__("os").cpu_count(),
        "extra": args.extra,
        "runs": runs,
        "median_wall_s": wall,
        "median_fit_s": fit,
        "fit_share": fit / wall,
        "split_s": split,
        "median_peak_rss_gb": statistics.median(r["peak_rss_gb"] for r in runs),
        "budget_s": args.budget,
        "within_budget": wall <= args.budget,
        "fit_share_at_least_half": fit / wall >= 0.5,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(
        f"sma-train {' '.join(args.extra) or '(default)'} (data ready): median {wall:.1f} s over "
        f"{args.repeats} runs (budget {args.budget:.0f} s); model fitting {fit:.1f} s = "
        f"{100 * fit / wall:.0f} %; "
        f"peak RSS {result['median_peak_rss_gb']:.2f} GB"
    )
    for name, seconds in sorted(split.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<48} {seconds:6.1f} s  {100 * seconds / wall:5.1f} %")
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
