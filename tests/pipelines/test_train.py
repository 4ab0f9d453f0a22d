"""End to end: simulate, harmonise, train and log to a real SQLite MLflow store."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from tests._fixtures.training import compose_report, compose_train

from sma_response.evaluate.samplesize import SampleSize
from sma_response.pipelines.report import ReportError, run_reports
from sma_response.pipelines.train import TrainingError, run_training


def _client(cfg):
    return MlflowClient(tracking_uri=cfg.tracking.uri)


def test_run_logs_everything_a_consortium_needs(trained):
    cfg, result = trained
    run = _client(cfg).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert 0.5 < run.data.metrics["cv/auroc"] <= 1.0
    assert (
        run.data.metrics["cv/auroc_ci_low"]
        <= run.data.metrics["cv/auroc"]
        <= run.data.metrics["cv/auroc_ci_high"]
    )
    assert "baseline/auroc" in run.data.metrics
    assert "oracle/auroc" in run.data.metrics
    assert "cv/calibration_slope" in run.data.metrics
    m = run.data.metrics  # Riley's criteria from the run's own held-out predictions
    assert m["samplesize/n_available"] == result.n_index_events
    assert m["samplesize/n_required"] == max(m[f"samplesize/n_criterion_{i}"] for i in (1, 2, 3))
    assert m["samplesize/met"] == float(m["samplesize/n_available"] >= m["samplesize/n_required"])
    assert isinstance(result.sample_size, SampleSize)
    # The estimand is stated, and drop-out is measured against the truth of all eligible starts.
    assert run.data.params["target.estimand"] == "composite"
    assert m["estimand/n_labelled"] <= m["estimand/n_eligible"]
    assert m["estimand/bias_complete_case"] == pytest.approx(
        m["estimand/complete_case_rate"] - m["estimand/truth_rate"]
    )
    assert m["estimand/max_weight"] >= 1.0
    assert "estimand" in result.attrition["rule"].tolist()
    # IPC weights in the fits and the held-out metrics, judged against the eligible truth.
    assert m["ipcw/weighted_fits"] == 1.0
    assert m["ipcw/n"] == m["cv/n"]
    assert 0 < m["ipcw/n_effective"] <= m["ipcw/n"]
    assert m["ipcw/auroc_ci_low"] <= m["ipcw/auroc"] <= m["ipcw/auroc_ci_high"]
    assert m["ipcw/n_truth_eligible"] == m["estimand/n_truth"]
    assert m["ipcw/bias_weighted_auroc"] == pytest.approx(
        m["ipcw/truth_weighted_auroc"] - m["ipcw/truth_eligible_auroc"]
    )
    assert result.weighted["ipcw/auroc"] == m["ipcw/auroc"]
    # coverage by quintile of the predicted change, apart from the patient subgroups
    assert 0 <= m["interval/coverage_min_quintile"] <= m["interval/coverage_max_quintile"] <= 1
    silent = [
        k for k, v in m.items()
        if k.startswith(("cv/", "baseline/")) and math.isnan(v)
        and f"not_estimable.{k}" not in run.data.tags
    ]  # fmt: skip
    assert silent == []  # a NaN figure is logged with its reason
    assert run.data.params["model.name"] == "xgboost"
    assert run.data.params["seed"] == "0"
    for tag in ("git_sha", "git_dirty", "package_version", "model", "target", "data.digest"):
        assert tag in run.data.tags, tag
    assert run.data.tags["data.digest"] == result.data_digest
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.digest == result.data_digest[:32]
    artifacts = {a.path for a in _client(cfg).list_artifacts(result.run_id)}
    assert {"config", "environment", "cohort", "evaluation", "predictions", "plots"} <= artifacts
    versions = _client(cfg).search_model_versions("name='sma-response-responder'")
    assert [str(v.version) for v in versions] == [result.model_version]


def test_run_logs_per_therapy_effects_guarded_and_scored(trained, tmp_path):
    cfg, result = trained
    m = _client(cfg).get_run(result.run_id).data.metrics
    assert m["effects/estimates_outside_support"] == 0
    assert 0 < m["effects/share_in_support"] < 1
    for outcome in ("change", "response"):
        base = f"effects/{outcome}/onasemnogene_vs_nusinersen"
        for name in ("pehe", "pehe_constant", "pehe_zero", "sign_agreement", "coverage"):
            assert math.isfinite(m[f"{base}/{name}"]), f"{base}/{name}"
        assert m[f"{base}/pehe_zero"] >= m[f"{base}/pehe_constant"]  # RMS >= SD of the truth
    assert m["effects/policy_regret"] >= 0
    folder = Path(
        mlflow.artifacts.download_artifacts(
            run_id=result.run_id, artifact_path="effects", dst_path=str(tmp_path),
            tracking_uri=cfg.tracking.uri,
        )
    )  # fmt: skip
    assert {"estimates.parquet", "overlap.csv", "population.csv", "overlap.png"} <= {
        p.name for p in folder.iterdir()
    }
    est = pd.read_parquet(folder / "estimates.parquet")
    assert set(est["status"]) <= {"estimated", "not_estimable", "not_an_option"}
    shown = est["estimate"].notna()
    assert (est.loc[shown, "status"] == "estimated").all()
    assert est.loc[shown, "in_support"].all()  # no number outside common support or label
    assert set(est.columns) == {
        "index_id", "outcome", "contrast", "estimate", "lower", "upper", "in_support", "status"
    }  # fmt: skip
    assert result.effects is not None
    assert (result.effects.population["e_value"].dropna() >= 1).all()


def test_predictions_are_keyed_by_pseudonymous_id_only(trained, tmp_path):
    cfg, result = trained
    mlflow.set_tracking_uri(cfg.tracking.uri)
    path = mlflow.artifacts.download_artifacts(
        run_id=result.run_id, artifact_path="predictions/oof.parquet", dst_path=str(tmp_path)
    )
    oof = pd.read_parquet(path)
    assert list(oof.columns) == ["patient_id", "index_id", "repeat", "fold", "y_true", "y_pred"]
    assert oof["patient_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert len(oof) == result.n_index_events


def test_attrition_accounts_for_every_index_event(trained):
    _, result = trained
    att = result.attrition.dropna(subset=["n_index_events"]).reset_index(drop=True)
    before, after = att["n_index_events"].to_numpy()[:-1], att["n_index_events"].to_numpy()[1:]
    np.testing.assert_array_equal(before - att["excluded"].to_numpy()[1:], after)
    assert att["n_index_events"].iloc[-1] == result.n_index_events


def test_model_loads_and_predicts_in_a_fresh_process(trained):
    cfg, result = trained
    code = f"""
import json, mlflow, pandas as pd
mlflow.set_tracking_uri({cfg.tracking.uri!r})
for uri in ({result.model_uri!r}, "models:/sma-response-responder/{result.model_version}"):
    model = mlflow.pyfunc.load_model(uri)
    example = model.input_example
    out = model.predict(example)
    print(json.dumps(out["prediction"].round(10).tolist()))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert first == second
    assert len(first) == 2  # the synthetic input example
    assert all(0.0 <= p <= 1.0 for p in first)


def _rows(frame: pd.DataFrame) -> set[tuple]:
    return {
        tuple(None if pd.isna(v) else (round(float(v), 6) if isinstance(v, float | int) else v)
              for v in row)
        for row in frame.itertuples(index=False)
    }  # fmt: skip


def test_no_logged_model_holds_a_cohort_row(trained, tmp_path):
    """Every input example of every logged model is made up, not a patient's feature row."""
    from omegaconf import OmegaConf

    from sma_response.features.design import build_design
    from sma_response.pipelines.data import ensure_cdm, load_cdm
    from sma_response.tracking.model import ResponseModel

    cfg, result = trained
    spec = OmegaConf.to_object(cfg)
    cdm, _ = load_cdm(ensure_cdm(cfg))
    X = build_design(
        cdm, cohort_spec=spec.cohort, feature_spec=spec.features, target_spec=spec.target
    ).X
    cohort_rows = _rows(ResponseModel(None).prepare(X))
    mlflow.set_tracking_uri(cfg.tracking.uri)
    client = _client(cfg)
    run = client.get_run(result.run_id)
    models = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id='{result.run_id}'"
    )
    assert {m.name for m in models} == {"model", "change_model"}
    examples = []
    for m in models:
        root = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=m.artifact_location, dst_path=str(tmp_path / m.name)
            )
        )
        examples += [*root.rglob("input_example.json"), *root.rglob("serving_input_example.json")]
    assert len(examples) == 4  # model and change_model, each with both files
    for path in examples:
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc = doc.get("dataframe_split", doc)
        frame = pd.DataFrame(doc["data"], columns=doc["columns"])
        assert len(frame) == 2, path
        assert not (_rows(frame) & cohort_rows), f"{path} holds a cohort row"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("evaluate.n_boot=-5", r"^evaluate\.n_boot: must be at least 0, got -5$"),
        ("validation.n_splits=1", r"^validation\.n_splits: must be at least 2, got 1$"),
        ("seed=-5", r"^seed: must be at least 0, got -5$"),
        ("validation.test_fraction=1.5", r"^validation\.test_fraction: must be between 0 and 1"),
        ("target.estimand=alive", r"^target\.estimand: unknown 'alive'"),
        ("evaluate.drop_out=impute", r"^evaluate\.drop_out: unknown 'impute'"),
        ("evaluate.drop_out_weights=fit", r"^evaluate\.drop_out_weights: unknown .fit."),
        ("validation.confirmation=0.95", r"^validation\.confirmation: must be between 0 and 0\.9"),
        ("effects.estimator=x_learner", r"^effects\.estimator: unknown 'x_learner'"),
        ("effects.min_propensity=0.7", r"^effects\.min_propensity: must be between 0 and 0\.5"),
        ("tracking.uri=http://site:pw@127.0.0.1:5000", r"^tracking\.uri: holds a password"),
        ("report.language=pt", r"^report\.language: unknown language 'pt'"),
        (
            "+effects.eligibility.US.onasemnogene.max_weight_kg=21",
            r"^effects\.eligibility\.US\.onasemnogene: unknown rule key \['max_weight_kg'\]",
        ),
    ],
)
def test_an_impossible_setting_is_refused_before_any_data_is_read(tmp_path, override, expected):
    cfg = compose_train(tmp_path, override)
    with pytest.raises(TrainingError, match=expected):
        run_training(cfg)
    assert not (tmp_path / "data").exists()  # refused before simulating anything


def test_a_setting_the_estimator_refuses_is_one_line_before_any_data_is_read(tmp_path):
    cfg = compose_train(tmp_path, "model.classifier.max_depth=four")
    with pytest.raises(
        TrainingError, match=r"^model.classifier: the estimator refuses its settings: "
    ):
        run_training(cfg)
    assert not (tmp_path / "data").exists()


def test_an_unknown_interval_group_is_refused_before_any_data_is_read(tmp_path):
    cfg = compose_train(tmp_path, "report.interval_groups=[age_band,weight]")
    with pytest.raises(TrainingError, match=r"^report.interval_groups: unknown \['weight'\]"):
        run_training(cfg)
    assert not (tmp_path / "data").exists()


def test_unknown_estimator_is_a_clear_error(trained, train_tmp):
    cfg = compose_train(train_tmp, "model.classifier._target_=os.system")
    with pytest.raises(
        TrainingError, match=r"model.classifier._target_='os.system' is not allowed"
    ):
        run_training(cfg)


def test_regression_target_runs(trained, train_tmp):
    result = run_training(
        compose_train(
            train_tmp,
            "target=delta_hfmse",
            "tracking.log_model=false",
            "evaluate.internal_external=true",
        )
    )
    assert result.task == "regression"
    assert np.isfinite(result.metrics["rmse"])
    assert "rmse" in result.oracle
    assert result.baseline_name == "ridge"  # the logreg option's regressor, called what it is
    regions = result.held_out_regions  # each region held out in turn, beside the k-fold
    assert len(regions) >= 2
    assert regions["n"].sum() == result.n_index_events
    assert np.isfinite(regions["rmse"]).all()
    assert np.isfinite(result.held_out_pooled)


def test_a_linear_model_is_trained_and_logged_without_tree_explanations(trained, train_tmp):
    cfg = compose_train(
        train_tmp, "model=logreg", "evaluate.baseline=null", "tracking.register=false"
    )
    result = run_training(cfg)
    run = _client(cfg).get_run(result.run_id)
    # issue #14.2: a run registers a model version only when asked
    assert result.model_version is None
    assert _client(cfg).search_model_versions(f"run_id='{result.run_id}'") == []
    assert run.data.tags["model"] == "logreg"
    assert "tree ensembles only" in run.data.tags["explain.skipped"]
    assert 0.5 < run.data.metrics["cv/auroc"] <= 1.0
    artifacts = {a.path for a in _client(cfg).list_artifacts(result.run_id)}
    assert "predictions" in artifacts
    assert "explain" not in artifacts
    # sma-report on it gives the true reason, and on a run that does not exist, that
    with pytest.raises(ReportError, match=r"could not be explained.*tree ensembles only"):
        run_reports(compose_report(cfg, f"run_id={result.run_id}"))
    with pytest.raises(ReportError, match="no run 'f00' in the tracking store"):
        run_reports(compose_report(cfg, "run_id=f00"))


def test_a_run_that_did_not_finish_gets_no_reports(trained):
    """A killed sma-train may have logged its report basis: sma-report still refuses it."""
    cfg, result = trained
    client = _client(cfg)
    basis = client.download_artifacts(result.run_id, "report/basis.json")
    run = client.create_run(client.get_run(result.run_id).info.experiment_id)  # left RUNNING
    client.log_artifact(run.info.run_id, basis, "report")
    with pytest.raises(ReportError, match=r"did not finish \(status RUNNING"):
        run_reports(compose_report(cfg, f"run_id={run.info.run_id}"))
    # The finished run's version was registered after it ended, and the reports name it.
    assert result.model_version is not None
    version = client.get_model_version("sma-response-responder", result.model_version)
    assert version.run_id == result.run_id


def _model_folder(cfg, run_id: str, name: str = "model") -> Path:
    client = _client(cfg)
    experiment = client.get_run(run_id).info.experiment_id
    (found,) = [
        m
        for m in client.search_logged_models(
            [experiment], filter_string=f"source_run_id='{run_id}'"
        )
        if m.name == name
    ]
    return Path(found.artifact_location.removeprefix("file://"))


def test_no_pickle_in_a_logged_model(trained):
    cfg, result = trained
    for name in ("model", "change_model"):
        folder = _model_folder(cfg, result.run_id, name)
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))]
        assert {"artifacts/pipeline.skops", "artifacts/schema.json", "model_code.py"} <= files


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("change", "model file artifacts/pipeline.skops changed since training"),
        ("add_pickle", "model file python_model.pkl is not part of the model as trained"),
        ("edit_mlmodel", "model file MLmodel changed since training"),
    ],
)
def test_a_tampered_model_is_refused_in_one_line(trained, tamper, expected):
    """A crafted pickle, a swapped pipeline or an edited MLmodel never gets loaded."""
    from sma_response.tracking.lookup import ModelIntegrityError, load_model
    from sma_response.tracking.spec import TrackingSpec

    cfg, result = trained
    spec = TrackingSpec(uri=cfg.tracking.uri)
    folder = _model_folder(cfg, result.run_id)
    target = {
        "change": folder / "artifacts" / "pipeline.skops",
        "add_pickle": folder / "python_model.pkl",
        "edit_mlmodel": folder / "MLmodel",
    }[tamper]
    saved = target.read_bytes() if target.exists() else None
    try:
        if tamper == "add_pickle":
            target.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")  # a crafted pickle
        elif tamper == "change":
            target.write_bytes(saved + b"\0")
        else:
            text = saved.decode().replace("mlflow.pyfunc.loaders.code_model", "mlflow.pyfunc.model")
            target.write_text(text + "\npython_model: python_model.pkl\n", encoding="utf-8")
        with pytest.raises(ModelIntegrityError) as err:
            load_model(spec, f"runs:/{result.run_id}/model")
        assert expected in str(err.value)
        assert str(err.value).endswith("refused")
        assert "\n" not in str(err.value)
    finally:
        if saved is None:
            target.unlink(missing_ok=True)
        else:
            target.write_bytes(saved)
    assert load_model(spec, f"runs:/{result.run_id}/model").pipeline is not None  # restored


def test_a_pipeline_file_with_foreign_types_is_refused(tmp_path):
    import os

    import skops.io as sio

    from sma_response.tracking.model import UntrustedModelError, check_pipeline_file

    path = tmp_path / "pipeline.skops"
    sio.dump({"run": os.system}, path)
    with pytest.raises(UntrustedModelError, match=r"holds types the package does not load"):
        check_pipeline_file(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(UntrustedModelError, match=r"not a readable skops model file"):
        check_pipeline_file(path)
