"""sma-reproduce: a logged run is rebuilt bit for bit, and every kind of drift is named."""

from __future__ import annotations

import shutil

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

from sma_response.cli.reproduce import main as reproduce_main
from sma_response.conf.compose import compose_config
from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.pipelines.reproduce import (
    ReproductionError,
    diff_configs,
    relocate_config,
    reproduce_run,
)
from sma_response.tracking import compare as compare_mod
from sma_response.tracking.provenance import KEY_PACKAGES, package_versions
from sma_response.tracking.spec import TrackingSpec


def _tracking(cfg) -> TrackingSpec:
    return TrackingSpec(uri=cfg.tracking.uri, artifact_location=cfg.tracking.artifact_location)


def _check(report, name):
    return next(c for c in report.checks if c.name == name)


@pytest.fixture(scope="module")
def reproduction(trained):
    cfg, result = trained
    return reproduce_run(result.run_id, tracking=_tracking(cfg))


def test_the_trained_run_is_reproduced_bit_for_bit(trained, reproduction):
    _cfg, _result = trained
    assert reproduction.status == "identical", [
        (c.name, c.details) for c in reproduction.differences
    ]
    assert reproduction.identical
    assert reproduction.results_identical
    names = {c.name for c in reproduction.checks}
    assert {
        "config",
        "seed",
        "data",
        "packages",
        "git commit",
        "metrics",
        "predictions/oof.parquet",
    } <= names
    assert _check(reproduction, "predictions/oof.parquet").status == "same"
    assert reproduction.summary().startswith("reproduced bit-for-bit")


def test_the_reproduction_is_logged_and_tagged(trained, reproduction):
    cfg, result = trained
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    new = client.get_run(reproduction.new_run_id)
    assert new.data.tags["reproduces"] == result.run_id
    assert new.data.tags["reproduction.status"] == "identical"
    assert new.data.tags["reproduction.differences"] == "none"
    mlflow.set_tracking_uri(cfg.tracking.uri)
    logged = mlflow.artifacts.load_dict(f"runs:/{reproduction.new_run_id}/reproduction/report.json")
    assert logged["status"] == "identical"
    assert logged["run_id"] == result.run_id
    # The reproduction registers no new model version.
    versions = client.search_model_versions("name='sma-response-responder'")
    assert {v.run_id for v in versions} == {result.run_id}


def test_one_row_less_in_the_data_is_named(trained, train_tmp, tmp_path):
    cfg, result = trained
    data = tmp_path / "data"
    shutil.copytree(train_tmp / "data", data)  # copy2 keeps mtimes: the CDM stays up to date
    path = data / "interim" / "pytest" / "cdm" / "assessments.parquet"
    table = pd.read_parquet(path)
    table.iloc[1:].to_parquet(path, index=False)
    report = reproduce_run(result.run_id, tracking=_tracking(cfg), rerun=False, data_dir=str(data))
    check = _check(report, "data")
    assert report.status == "different"
    assert check.status == "differs"
    assert any(d.startswith("assessments:") and "(1 fewer)" in d for d in check.details), (
        check.details
    )
    assert not any(d.startswith("patients:") for d in check.details)
    assert any(f"paths.data_dir: {train_tmp / 'data'}" in n for n in report.notes)
    assert _check(report, "config").status == "same"  # a moved folder is not a config change


def test_a_package_version_change_is_named(trained, monkeypatch):
    cfg, result = trained

    def fake(names=KEY_PACKAGES):
        versions = package_versions(names)
        return {k: ("9.9.9" if k == "xgboost" else v) for k, v in versions.items()}

    monkeypatch.setattr(compare_mod, "package_versions", fake)
    report = reproduce_run(result.run_id, tracking=_tracking(cfg), rerun=False)
    check = _check(report, "packages")
    assert check.status == "differs"
    assert report.status == "different"
    assert any(d.startswith("xgboost:") and "9.9.9 now" in d for d in check.details)


def test_a_config_value_change_is_named(trained):
    cfg, result = trained
    report = reproduce_run(
        result.run_id,
        tracking=_tracking(cfg),
        rerun=False,
        changes=["model.classifier.max_depth=5"],
    )
    check = _check(report, "config")
    assert check.status == "differs"
    assert check.details == ["model.classifier.max_depth: 3 logged, 5 now"]


def test_an_edited_config_file_is_named(trained, train_tmp, tmp_path):
    """A run launched through Hydra logs its overrides; re-composing them finds edited defaults."""
    overrides = [
        "simulation.n_patients=1200",
        "simulation.dataset=pytest",
        f"paths.data_dir={train_tmp / 'data'}",
        "evaluate.n_boot=50",
    ]
    composed = compose_config("train", overrides, return_hydra_config=True)
    choices = OmegaConf.to_container(composed.hydra.runtime.choices)
    resolved = OmegaConf.to_container(composed, resolve=False)
    resolved.pop("hydra")
    resolved = OmegaConf.to_container(OmegaConf.create(resolved), resolve=True)
    store = TrackingSpec(
        uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "art")
    )
    mlflow.set_tracking_uri(store.uri)
    experiment = MlflowClient(store.uri).create_experiment(
        "drift", artifact_location=(tmp_path / "art").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_dict(resolved, "config/config.yaml")
        mlflow.log_dict(
            {"overrides": overrides, "choices": {k: v for k, v in choices.items() if v}},
            "config/overrides.json",
        )
        mlflow.set_tags({"seed": 0})
    unchanged = reproduce_run(run.info.run_id, tracking=store, rerun=False)
    assert _check(unchanged, "config files").status == "same"
    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    xgb = configs / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text().replace("learning_rate: 0.03", "learning_rate: 0.05", 1))
    edited = reproduce_run(run.info.run_id, tracking=store, rerun=False, config_dir=configs)
    check = _check(edited, "config files")
    assert check.status == "differs"
    assert check.details == ["model.classifier.learning_rate: 0.03 logged, 0.05 now"]


def test_relocation_moves_every_folder_of_the_old_checkout():
    logged = {
        "paths": {"root_dir": "/old", "data_dir": "/old/data", "output_root": "/old/outputs"},
        "harmonise": {"raw_dir": "/old/data/raw/d", "registry_dir": "/old/configs/registry"},
        "tracking": {"uri": "sqlite:////old/mlruns/mlflow.db"},
        "seed": 0,
    }
    moved, notes = relocate_config(logged, root_dir="/new")
    assert moved["harmonise"] == {
        "raw_dir": "/new/data/raw/d",
        "registry_dir": "/new/configs/registry",
    }
    assert moved["tracking"]["uri"] == "sqlite:////new/mlruns/mlflow.db"
    assert len(notes) == 3
    assert diff_configs(logged, moved) == []


def test_unknown_run_and_bad_changes_are_user_errors(trained, capsys):
    cfg, result = trained
    with pytest.raises(ReproductionError, match="no run 'nope'"):
        reproduce_run("nope", tracking=_tracking(cfg), rerun=False)
    with pytest.raises(ReproductionError, match="config group or section"):
        reproduce_run(
            result.run_id, tracking=_tracking(cfg), rerun=False, changes=["model=hist_gb"]
        )
    status = reproduce_main(["nope", f"tracking.uri={cfg.tracking.uri}"])
    err = capsys.readouterr().err
    assert status == 2
    assert "sma-reproduce: error: run_id: no run 'nope'" in err
    assert "Traceback" not in err


def test_cli_checks_the_environment_and_exits_zero(trained, capsys):
    cfg, result = trained
    status = reproduce_main([result.run_id, f"tracking.uri={cfg.tracking.uri}", "rerun=false"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "environment matches run" in out
    assert "data" in out


def test_cli_exits_one_on_a_difference(trained, capsys):
    cfg, result = trained
    status = reproduce_main(
        [f"run_id={result.run_id}", f"tracking.uri={cfg.tracking.uri}", "rerun=false", "seed=3"]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "DIFFERS" in out
    assert "seed: 0 logged, 3 now" in out
    assert max(map(len, out.splitlines())) <= 100  # readable in a 100-column terminal


def test_an_edited_logged_config_with_a_foreign_target_is_refused(trained, tmp_path, capsys):
    """A config read back from a (shared) store cannot make sma-reproduce build any object."""
    cfg, result = trained
    text = MlflowClient(cfg.tracking.uri).download_artifacts(
        result.run_id, "config/config.yaml", str(tmp_path)
    )
    logged = OmegaConf.to_container(OmegaConf.load(text))
    logged["model"]["classifier"]["booster_params"] = {"_target_": "collections.OrderedDict"}
    store = TrackingSpec(
        uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_location=str(tmp_path / "art")
    )
    mlflow.set_tracking_uri(store.uri)
    experiment = MlflowClient(store.uri).create_experiment(
        "edited", artifact_location=(tmp_path / "art").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_dict(logged, "config/config.yaml")
    with pytest.raises(
        ReproductionError,
        match=r"refused: model\.classifier\.booster_params\._target_='collections.OrderedDict'",
    ):
        reproduce_run(run.info.run_id, tracking=store)
    status = reproduce_main([run.info.run_id, f"tracking.uri={store.uri}"])
    err = capsys.readouterr().err
    assert status == 2
    assert "is not allowed" in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "sma-reproduce: error" in line]) == 1, err


def test_the_metric_differences_lead_with_the_optimised_metric_and_all_go_to_a_file(trained):
    """The headline change (cv/auroc) is never lost below 70 alphabetical comparison rows."""
    cfg, result = trained
    spec = _tracking(cfg)
    old = MlflowClient(tracking_uri=spec.uri).get_run(result.run_id).data.metrics
    new = {k: v + 0.01 for k, v in old.items() if not k.startswith("timing/")}
    client = MlflowClient(tracking_uri=spec.uri)
    experiment = client.create_experiment("pytest-metric-differences")  # not the runs' own
    run = client.create_run(experiment)
    client.log_batch(run.info.run_id, metrics=[Metric(k, v, 0, 0) for k, v in new.items()])
    checks = compare_mod.result_checks(
        spec, result.run_id, run.info.run_id, old, [], optimized="cv/brier"
    )
    details = checks[0].details
    assert details[0].startswith("cv/brier: ")
    assert details[1].startswith("cv/auroc: ")
    assert not any(d.startswith("comparison/") for d in details)
    assert details[-1].endswith(f"in {compare_mod.METRIC_DIFFERENCES_FILE} of the new run")
    path = MlflowClient(tracking_uri=spec.uri).download_artifacts(
        run.info.run_id, compare_mod.METRIC_DIFFERENCES_FILE
    )
    table = pd.read_csv(path)
    assert len(table) == len(new)  # every metric that differs, not the first twelve
    assert table["metric"].iloc[0] == "cv/brier"
