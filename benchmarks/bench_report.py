"""Benchmark per-patient reports and SHAP on the default dataset.

One training run on the default dataset (``configs/simulation/default.yaml``, simulated and
harmonised into a temporary folder) provides the logged model and report inputs. Then, in this
process, after the run's artifacts and model are loaded:

* SHAP for the default cohort: ``explain`` of the final model on every index event, plus the
  run's own ``timing/shap_seconds`` (all out-of-fold SHAP values and the final model's);
* one report (HTML + PDF) per patient, rendered one after another (median over ``--single``);
* 100 reports with ``report.n_jobs=2`` (two processes, the 2-core machine), index page included.

Budgets (2-core machine): <= 1 s per patient for HTML + PDF; 100 reports <= 60 s; SHAP for the
default cohort <= 10 s.

Usage::

    python benchmarks/bench_report.py            # --single 10 --many 100
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results" / "bench_report.json"
sys.path.insert(0, str(REPO_ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=10, help="reports timed one by one")
    parser.add_argument("--many", type=int, default=100, help="reports timed as one batch")
    parser.add_argument(
        "--n-patients", type=int, default=None, help="dataset size (default: config)"
    )
    args = parser.parse_args()

    import mlflow
    from tests._fixtures.training import compose_train

    from sma_response.explain.shap_values import explain
    from sma_response.explain.spec import ExplainSpec
    from sma_response.pipelines.report import _load_logged
    from sma_response.pipelines.train import run_training
    from sma_response.report.batch import build_contexts, write_reports
    from sma_response.report.inputs import ReportInputs
    from sma_response.report.render import write_report
    from sma_response.report.spec import ReportSpec
    from sma_response.tracking.run import load_pipeline
    from sma_response.tracking.spec import TrackingSpec

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        extra = [] if args.n_patients is None else [f"simulation.n_patients={args.n_patients}"]
        cfg = compose_train(tmp, *extra, "report.enabled=false", n_patients=args.n_patients or 3000)
        t = time.perf_counter()
        result = run_training(cfg)
        train_seconds = time.perf_counter() - t
        tracking = TrackingSpec(
            uri=cfg.tracking.uri, artifact_location=cfg.tracking.artifact_location
        )
        run = mlflow.MlflowClient(tracking_uri=cfg.tracking.uri).get_run(result.run_id)

        # Model and inputs loaded first: the budgets start after this.
        basis, inputs = _load_logged(tracking, result.run_id)
        wrapper = load_pipeline(tracking, f"runs:/{result.run_id}/model")
        shap_final = _final_features(cfg)
        t = time.perf_counter()
        explain(wrapper.pipeline, wrapper._restore(wrapper.prepare(shap_final)), spec=ExplainSpec())
        shap_cohort = time.perf_counter() - t

        spec = ReportSpec(formats=["html", "pdf"], n_jobs=1)
        ids = inputs.patients["index_id"].tolist()
        contexts = build_contexts(
            inputs, basis=basis, index_ids=ids[: args.single + 1], spec=spec, created="2026-01-01"
        )
        write_report(contexts[0], tmp / "warm", formats=spec.formats)  # imports, fonts
        single = []
        for ctx in contexts[1:]:
            t = time.perf_counter()
            write_report(ctx, tmp / "single", formats=spec.formats)
            single.append(time.perf_counter() - t)
        many_ids = (ids * (args.many // max(len(ids), 1) + 1))[: args.many]
        many_ids = list(dict.fromkeys(many_ids))
        t = time.perf_counter()
        written = write_reports(
            ReportInputs(inputs.patients, inputs.alternatives, inputs.shap),
            basis=basis,
            index_ids=many_ids,
            folder=tmp / "many",
            spec=ReportSpec(n_jobs=2),
            created="2026-01-01",
        )
        many_seconds = time.perf_counter() - t

    out = {
        "machine": platform.platform(),
        "n_index_events": result.n_index_events,
        "train_seconds": round(train_seconds, 2),
        "shap_seconds_run": round(run.data.metrics["timing/shap_seconds"], 3),
        "shap_seconds_final_model_cohort": round(shap_cohort, 3),
        "report_seconds_per_patient_median": round(statistics.median(single), 3),
        "report_seconds_per_patient_max": round(max(single), 3),
        "n_many": len(many_ids),
        "many_seconds": round(many_seconds, 2),
        "files_written": len(written),
        "budgets": {"per_patient": 1.0, "many_100": 60.0, "shap_cohort": 10.0},
    }
    out["within_budget"] = (
        out["report_seconds_per_patient_median"] <= 1.0
        and out["many_seconds"] <= 60.0 * len(many_ids) / 100
        and out["shap_seconds_run"] <= 10.0
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2))
    return 0 if out["within_budget"] else 1


def _final_features(cfg):
    """The run's feature frame, rebuilt from the CDM as the training run did."""
    from omegaconf import OmegaConf

    from sma_response.cohort.build import build_cohort
    from sma_response.cohort.target import define_target
    from sma_response.features.engineer import make_features
    from sma_response.pipelines.data import ensure_cdm, load_cdm

    spec = OmegaConf.to_object(cfg)
    cdm, _ = load_cdm(ensure_cdm(cfg))
    cohort, _ = build_cohort(cdm, spec=spec.cohort, target=spec.target)
    targets = define_target(cohort, cdm, spec=spec.target, cohort_spec=spec.cohort)
    cohort = cohort.loc[cohort["index_id"].isin(targets["index_id"])].reset_index(drop=True)
    return make_features(cdm, cohort, spec=spec.features)


if __name__ == "__main__":
    sys.exit(main())
