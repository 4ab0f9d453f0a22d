"""``sma-train`` as a user runs it: single runs, sweeps under a parent run, every experiment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from sma_response.cli._args import check_group_choices
from sma_response.conf.resolvers import CONFIG_DIR, PROJECT_ROOT

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).parents[2] / "experiments").glob("*.yaml"))


def _train(train_tmp: Path, store: Path, *args: str, timeout: int = 600):
    """Run ``sma-train`` on the session's small dataset with its own MLflow store."""
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sma_response.cli.train",
            *flags,
            "simulation.dataset=pytest",
            f"paths.data_dir={train_tmp / 'data'}",
            f"paths.output_root={store / 'outputs'}",
            f"tracking.uri=sqlite:///{store / 'mlflow.db'}",
            f"tracking.artifact_location={store / 'artifacts'}",
            "evaluate.n_boot=20",
            "progress=false",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _runs(store: Path) -> pd.DataFrame:
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]  # one per experiment
    runs = client.search_runs(experiments)
    return pd.DataFrame(
        {
            "run_id": [r.info.run_id for r in runs],
            "parent": [r.data.tags.get("mlflow.parentRunId") for r in runs],
            "sweep": [r.data.tags.get("sweep") for r in runs],
            "model": [r.data.tags.get("model") for r in runs],
            "status": [r.info.status for r in runs],
        }
    )


def test_a_sweep_groups_its_runs_under_one_parent_with_a_comparison(trained, train_tmp, tmp_path):
    proc = _train(
        train_tmp,
        tmp_path,
        "-m",
        "model=xgboost,hist_gb",
        "tracking.register=true",
        "tracking.alias=champion",
        "explain.enabled=false",
        "report.tripod=false",
        "evaluate.baseline=null",
        "validation.confirmation=0.25",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _runs(tmp_path)
    parent = runs.loc[runs["sweep"] == "parent"]
    assert len(parent) == 1
    children = runs.loc[runs["parent"] == parent["run_id"].iloc[0]]
    assert sorted(children["model"]) == ["hist_gb", "xgboost"]
    assert set(runs["status"]) == {"FINISHED"}
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent_id = parent["run_id"].iloc[0]
    local = client.download_artifacts(parent_id, "sweep/comparison.csv", str(tmp_path))
    table = pd.read_csv(local)
    assert sorted(table["run_id"]) == sorted(children["run_id"])
    assert table["cv/auroc"].between(0.5, 1.0).all()
    best = client.get_run(parent_id).data.metrics["best/cv/auroc"]
    assert best == pytest.approx(table["cv/auroc"].max())
    best_id = table.loc[table["cv/auroc"].idxmax(), "run_id"]
    assert client.get_run(parent_id).data.tags["sweep.best_run_id"] == best_id
    # Members register nothing; the sweep registers its best run once.
    versions = client.search_model_versions("name='sma-response-responder'")
    assert [v.run_id for v in versions] == [best_id]
    champion = client.get_model_version_by_alias("sma-response-responder", "champion")
    assert champion.run_id == best_id  # the alias points at the sweep's best run
    assert "registered as models:/sma-response-responder/1" in " ".join(proc.stdout.split())
    assert "Sweep: 2 runs under parent run" in proc.stdout
    assert "Traceback" not in proc.stderr
    # issue #14.3: best first and marked; the parent says what ran and from which commit
    assert table["cv/auroc"].is_monotonic_decreasing
    assert table["best"].tolist() == [True, False]
    tags = client.get_run(parent_id).data.tags
    assert tags["optimized_metric"] == "cv/auroc"
    assert tags["git_sha"] not in ("", "unknown")
    assert {"experiment", "seed", "git_dirty"} <= set(tags)
    names = [client.get_run(r).info.run_name for r in children["run_id"]]
    assert len(set(names)) == 2, names  # distinct: the overrides' hash differs
    assert all(n.startswith(("train:xgboost:responder:seed0:", "train:hist_gb:")) for n in names)
    # issue #13.4: the same persons are reserved from every trial; the parent reports the best
    # trial's held-out confirmation beside the figure it was selected on, not as a column
    confirm = [client.get_run(r).data.metrics for r in children["run_id"]]
    assert len({(m["confirm/n"], m["confirm/n_persons"]) for m in confirm}) == 1
    assert all(m["cv/n"] + m["confirm/n"] <= 1200 for m in confirm)
    best_confirm = client.get_run(best_id).data.metrics["confirm/auroc"]
    assert client.get_run(parent_id).data.metrics["best/confirm/auroc"] == best_confirm
    assert "confirm/auroc" not in table.columns
    assert "on the persons reserved from the whole search" in " ".join(proc.stdout.split())


def test_a_failed_sweep_ends_its_parent_run_as_failed(trained, train_tmp, tmp_path):
    """Issue #14.1: the second job fails; no run of the sweep is left RUNNING."""
    proc = _train(
        train_tmp,
        tmp_path,
        "-m",
        "validation.n_splits=3,900",
        "explain.enabled=false",
        "report.tripod=false",
        "tracking.log_model=false",
        "evaluate.baseline=null",
    )
    assert proc.returncode != 0
    assert "too few to validate" in proc.stderr
    runs = _runs(tmp_path)
    parent = runs.loc[runs["sweep"] == "parent"]
    assert parent["status"].tolist() == ["FAILED"]
    assert "RUNNING" not in set(runs["status"])


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_runs_on_small_data(trained, train_tmp, tmp_path, name):
    sweeps = {
        "model_comparison": ["-m"],
        "xgb_optuna": ["-m", "hydra.sweeper.n_trials=2"],
        "xgb_optuna_confirmed": ["-m", "hydra.sweeper.n_trials=2"],
        "learning_curve": ["-m", "validation.confirmation=0.5,0.2"],
    }
    proc = _train(train_tmp, tmp_path, f"experiments={name}", *sweeps.get(name, []))
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = _runs(tmp_path)
    assert set(runs["status"]) == {"FINISHED"}
    children = runs.loc[runs["sweep"] != "parent"]
    if name in sweeps:
        assert (runs["sweep"] == "parent").sum() == 1
        assert children["parent"].notna().all()
        assert len(children) == (3 if name == "model_comparison" else 2)
    else:
        assert len(children) == 1
    if name == "learning_curve":  # the parent holds the curve: a table and two figures
        client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
        parent_id = runs.loc[runs["sweep"] == "parent", "run_id"].iloc[0]
        logged = {a.path for a in client.list_artifacts(parent_id, "sweep")}
        assert {"sweep/learning_curve.csv", "sweep/learning_curve_auroc.png"} <= logged
        curve = pd.read_csv(
            client.download_artifacts(parent_id, "sweep/learning_curve.csv", str(tmp_path))
        )
        assert curve["n"].is_monotonic_increasing
        assert curve["confirm/auroc"].notna().all()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model=xgbost", "model=xgbost: no such option; did you mean xgboost?"),
        ("model@baseline_model=lgreg", "did you mean logreg?"),
        ("model=model_schema", "model=model_schema: a schema, not an option"),
        ("experiments=loro_extrnal", "did you mean loro_external?"),
    ],
)
def test_a_config_group_typo_is_one_line_with_the_closest_option(capsys, override, expected):
    with pytest.raises(SystemExit) as exit_info:
        check_group_choices([override], prog="sma-train", search=[CONFIG_DIR, PROJECT_ROOT])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0, err  # one line
    assert expected in err
    assert "schema" not in err.split("(options:")[1]  # schemas are not offered


@pytest.mark.parametrize(
    "override", ["model=../../../elsewhere/evil", "model=choice(xgboost,../evil)"]
)
def test_a_config_group_path_is_one_line_before_hydra(capsys, override):
    with pytest.raises(SystemExit) as exit_info:
        check_group_choices([override], prog="sma-train", search=[CONFIG_DIR, PROJECT_ROOT])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0, err
    assert "is a name inside configs/model/, not a path" in err


def test_the_typo_check_runs_before_hydra_composes_anything(tmp_path):
    proc = _train(tmp_path, tmp_path, "model=xgbost", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "sma-train: error: model=xgbost: no such option; did you mean xgboost? "
        "(options: hist_gb, logreg, xgboost)"
    )
    assert not (tmp_path / "mlflow.db").exists()  # nothing ran


def test_help_lists_the_experiments_and_no_schemas(capsys, monkeypatch):
    from sma_response.cli import train as train_cli

    monkeypatch.setattr(sys, "argv", ["sma-train", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        train_cli.cli()
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    experiments = next(line for line in out.splitlines() if line.strip().startswith("experiments"))
    assert "baseline_responder" in experiments
    assert "loro_external" in experiments
    assert "_schema" not in out
    assert max(len(line) for line in out.splitlines()) <= 100
