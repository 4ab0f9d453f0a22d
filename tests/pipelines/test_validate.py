"""sma-validate: a logged model scored on a second consortium; only safe aggregates leave."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from tests._fixtures.training import compose_train
from tests._fixtures.validation import raw_identifiers, simulate_external

from sma_response.cli.validate import main as validate_main
from sma_response.conf.resolvers import CONFIG_DIR
from sma_response.harmonise.pseudonym import pseudonymise, resolve_key
from sma_response.pipelines.train import run_training
from sma_response.pipelines.validate import REPORT_HTML, REPORT_JSON, validate_model
from sma_response.report.validation import render_validation_html
from sma_response.tracking.spec import TrackingSpec

MIN_CELL = 10


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    return simulate_external(tmp_path_factory.mktemp("external"), n_patients=800)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    return {
        "root": root,
        "tracking": TrackingSpec(
            uri=f"sqlite:///{root / 'mlflow.db'}",
            artifact_location=str(root / "artifacts"),
            experiment_name="sma-response-validation",
            registered_model_name=None,
        ),
    }


@pytest.fixture(scope="module")
def validated(trained, external, site):
    cfg, result = trained
    return validate_model(
        run_id=result.run_id,
        export_dir=external,
        registries="all",
        tracking=site["tracking"],
        model_tracking=TrackingSpec(uri=cfg.tracking.uri, artifact_location=None),
        registry_dir=CONFIG_DIR / "registry",
        pseudonym_key_file=site["root"] / "no_key_file",
        paths={
            "root_dir": str(CONFIG_DIR.parent),
            "data_dir": str(site["root"] / "data"),
            "output_root": str(site["root"] / "outputs"),
        },
        out_dir=site["root"] / "reports",
        site="second consortium",
        min_cell=MIN_CELL,
        n_boot=50,
    )


def _exported_texts(validated, site, tmp_path) -> dict[str, str]:
    """Every file the validation wrote or logged, plus the run's params and tags."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in validated.json_path.parent.iterdir()}
    client = MlflowClient(site["tracking"].uri)
    mlflow.set_tracking_uri(site["tracking"].uri)
    local = Path(
        mlflow.artifacts.download_artifacts(run_id=validated.run_id, dst_path=str(tmp_path))
    )
    for path in local.rglob("*"):
        if path.is_file():
            texts[f"mlflow:{path.relative_to(local)}"] = path.read_text(encoding="utf-8")
    run = client.get_run(validated.run_id)
    texts["mlflow:params+tags"] = json.dumps([run.data.params, run.data.tags, run.data.metrics])
    return texts


def test_report_files_and_linked_run(trained, validated, site):
    _cfg, result = trained
    assert validated.json_path.name == REPORT_JSON
    assert validated.html_path.name == REPORT_HTML
    report = validated.report
    assert report["run_id"] == validated.run_id
    assert report["model"]["run_id"] == result.run_id
    assert report["model"]["version"] == result.model_version
    assert report["cohort"]["n_index_events"] >= 100
    run = MlflowClient(site["tracking"].uri).get_run(validated.run_id)
    assert run.data.tags["validation.model_run_id"] == result.run_id
    assert run.data.tags["validation.model_uri"] == f"runs:/{result.run_id}/model"
    assert run.data.tags["validation.model_version"] == result.model_version
    assert run.data.metrics["validation/auroc"] == pytest.approx(report["metrics"]["auroc"])
    contexts = [
        t.value for t in run.inputs.dataset_inputs[0].tags if t.key == "mlflow.data.context"
    ]
    assert contexts == ["validation"]
    artifacts = {
        a.path
        for a in MlflowClient(site["tracking"].uri).list_artifacts(validated.run_id, "validation")
    }
    assert artifacts == {"validation/validation_report.json", "validation/validation_report.html"}
    html = validated.html_path.read_text(encoding="utf-8")
    assert "<script" not in html
    assert re.search(r"""(src|href)=["']https?:""", html) is None


def test_no_identifier_or_patient_row_in_anything_exported(validated, external, site, tmp_path):
    texts = _exported_texts(validated, site, tmp_path)
    links = pd.read_parquet(external / "ground_truth" / "registry_links.parquet")
    key = resolve_key(environ=os.environ, local_secret=None)
    pseudonyms = set()
    for registry, part in links.groupby("registry"):
        pseudonyms |= set(
            pseudonymise(part["local_id"].astype(str), registry=str(registry), key=key)
        )
    identifiers = raw_identifiers(external) | pseudonyms
    assert len(identifiers) > 1000
    for name, text in texts.items():
        leaked = [i for i in identifiers if i in text]
        assert not leaked, f"{name} contains {leaked[:5]}"
        assert not re.search(r"\b[0-9a-f]{16}#\d+\b", text), f"{name} contains an index id"

    n = validated.report["cohort"]["n_index_events"]

    def tables(node):
        if isinstance(node, list) and node and isinstance(node[0], dict):
            yield node
        if isinstance(node, dict):
            for value in node.values():
                yield from tables(value)
        elif isinstance(node, list):
            for value in node:
                yield from tables(value)

    found = list(tables(validated.report))
    assert len(found) >= 5
    assert all(len(rows) < n / 4 for rows in found), [len(rows) for rows in found]


def test_small_cells_are_suppressed_with_their_complements(validated):
    report = validated.report
    subgroups = pd.DataFrame(report["subgroups"])
    shown = subgroups.loc[~subgroups["suppressed"]]
    assert (shown["n"] >= MIN_CELL).all()
    assert (shown["n_events"] >= MIN_CELL).all()
    assert ((shown["n"] - shown["n_events"]) >= MIN_CELL).all()
    hidden = subgroups.loc[subgroups["suppressed"]]
    assert len(hidden) > 0
    assert hidden[["n", "n_events", "auroc"]].isna().all().all()
    per_variable = (
        subgroups.loc[subgroups["variable"] != "overall"].groupby("variable")["suppressed"].sum()
    )
    assert not (per_variable == 1).any(), per_variable.to_dict()
    for row in report["calibration"]["bins"]:
        assert row["n_events"] >= MIN_CELL
        assert row["n"] - row["n_events"] >= MIN_CELL
    for row in report["cohort"]["exclusions"]:
        assert row["excluded"] is None or row["excluded"] == 0 or row["excluded"] >= MIN_CELL
    assert report["disclosure"]["n_suppressed"] == int(subgroups["suppressed"].sum()) + sum(
        r["suppressed"] for r in report["intervals"]["table"]
    )


def test_one_headline_interval_and_a_verdict_on_calibration_in_the_large(validated):
    """The 'overall' row repeats the headline numbers; O/E and a verdict stand beside them."""
    report = validated.report
    overall = next(r for r in report["subgroups"] if r["variable"] == "overall")
    shared = [k for k in overall if k in report["metrics"] and k not in ("n", "n_events")]
    assert {"auroc", "auroc_ci_low", "auroc_ci_high"} <= set(shared)
    for key in shared:
        assert overall[key] == report["metrics"][key], key
    citl = report["calibration_in_the_large"]
    assert citl["observed"] == report["cohort"]["n_events"]
    assert citl["oe_ratio"] == pytest.approx(citl["observed"] / citl["expected"])
    assert citl["oe_ci_low"] < citl["oe_ratio"] < citl["oe_ci_high"]
    low = report["metrics"]["calibration_intercept_ci_low"]
    high = report["metrics"]["calibration_intercept_ci_high"]
    expected = "too_high" if high < 0 else "too_low" if low > 0 else "consistent"
    assert citl["verdict"] == expected
    html = validated.html_path.read_text(encoding="utf-8")
    assert "Calibration in the large." in html
    assert f"O/E {citl['oe_ratio']:.2f}" in html


def test_the_site_is_compared_with_the_leave_one_region_out_estimate(trained, validated):
    _cfg, result = trained
    run = MlflowClient(result.tracking_uri).get_run(result.run_id)
    ie = validated.report["comparison"]["development"]["internal_external"]
    assert ie["metrics"]["auroc"] == run.data.metrics["loro/auroc"]
    assert ie["range"]["auroc"] == [
        run.data.metrics["loro/auroc_min"],
        run.data.metrics["loro/auroc_max"],
    ]
    assert ie["n_regions"] == run.data.metrics["loro/n_regions"] >= 2
    sentence = validated.report["comparison"]["transport"]
    assert f"AUROC {validated.report['metrics']['auroc']:.2f} lies " in sentence
    html = validated.html_path.read_text(encoding="utf-8")
    assert "each region held out in turn" in html
    assert sentence.split("site's ")[1] in html


def test_a_complementary_cell_does_not_read_as_small(validated):
    """A cell hidden only to protect a small one is not shown as "< 10"."""
    report = json.loads(validated.json_path.read_text(encoding="utf-8"))
    report["subgroups"][1] |= {"suppressed": True, "suppression": "complementary"}
    rows = report["subgroups"] + report["intervals"]["table"]
    html = render_validation_html(report)
    # the disclosure note names the complementary label once
    for reason, text, in_note in (("complementary", "suppressed (complementary)", 1),
                                  ("primary", f"&lt; {MIN_CELL} (suppressed)", 0)):  # fmt: skip
        cells = sum(r.get("suppression") == reason for r in rows)
        assert cells > 0, reason
        assert html.count(text) == cells + in_note, reason


def test_performance_recalibration_and_interval_coverage(trained, validated):
    _cfg, result = trained
    report = validated.report
    assert abs(report["metrics"]["auroc"] - result.metrics["auroc"]) < 0.1
    assert report["comparison"]["development"]["metrics"]["auroc"] == pytest.approx(
        result.metrics["auroc"]
    )
    assert report["comparison"]["development"]["validation"] == "grouped_kfold"
    logistic = report["recalibration"]["methods"]["logistic"]
    assert logistic["metrics_after"]["calibration_slope"] == pytest.approx(1.0, abs=1e-3)
    assert logistic["metrics_after"]["calibration_intercept"] == pytest.approx(0.0, abs=1e-3)
    assert logistic["metrics_after"]["brier"] <= report["metrics"]["brier"]
    large = report["recalibration"]["methods"]["in_the_large"]
    assert large["slope"] == 1.0
    assert large["metrics_after"]["calibration_intercept"] == pytest.approx(0.0, abs=1e-3)
    intervals = report["intervals"]
    assert intervals["available"]
    assert 0.6 < intervals["coverage"] < 0.97
    assert intervals["level"] == pytest.approx(0.8)
    assert len(report["discrimination"]["roc_points"]) >= 4


def test_cli_validates_one_registry_folder(trained, external, site, tmp_path, capsys):
    cfg, result = trained
    status = validate_main(
        [
            f"model=models:/sma-response-responder/{result.model_version}",
            f"model_tracking_uri={cfg.tracking.uri}",
            f"export_dir={external / 'nl_sma'}",
            "registry=nl_sma",
            f"tracking.uri={site['tracking'].uri}",
            f"tracking.artifact_location={site['root'] / 'artifacts'}",
            f"out_dir={tmp_path}",
            f"paths.output_root={tmp_path}",
            "n_boot=0",
            "recalibrate=false",
            "progress=false",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    (report_file,) = tmp_path.glob(f"*/{REPORT_JSON}")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["site"]["registries"] == ["nl_sma"]
    assert report["model"]["uri"] == f"models:/sma-response-responder/{result.model_version}"
    assert report["recalibration"] is None
    assert "sma-validate" in out


def test_cli_user_errors_exit_2_without_traceback(trained, external, site, capsys):
    cfg, _ = trained
    common = [f"tracking.uri={site['tracking'].uri}", f"export_dir={external}", "progress=false"]
    assert validate_main(["model=models:/no-such-model/1", "registry=all", *common]) == 2
    assert "no model version" in capsys.readouterr().err
    assert (
        validate_main(
            [f"model_tracking_uri={cfg.tracking.uri}", "run_id=abc", "registry=all", *common]
        )
        == 2
    )
    assert "no run 'abc'" in capsys.readouterr().err
    assert validate_main(["model=models:/x/1", *common]) == 2
    err = capsys.readouterr().err
    assert "registries: required" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_external_metrics_are_close_to_the_leave_one_region_out_estimates(train_tmp, tmp_path):
    """Acceptance: a second consortium (other seed and region mix) validates like LORO predicted."""
    loro = run_training(
        compose_train(
            train_tmp,
            "validation=loro",
            "explain.enabled=false",
            "evaluate.baseline=null",
            "evaluate.n_boot=100",
        )
    )
    cfg = compose_train(train_tmp)
    external = simulate_external(tmp_path, n_patients=2000)
    result = validate_model(
        run_id=loro.run_id,
        export_dir=external,
        registries="all",
        tracking=TrackingSpec(
            uri=f"sqlite:///{tmp_path / 'site.db'}", artifact_location=str(tmp_path / "art")
        ),
        model_tracking=TrackingSpec(uri=cfg.tracking.uri, artifact_location=None),
        registry_dir=CONFIG_DIR / "registry",
        pseudonym_key_file=tmp_path / "no_key_file",
        paths={
            "root_dir": str(CONFIG_DIR.parent),
            "data_dir": str(tmp_path),
            "output_root": str(tmp_path),
        },
        out_dir=tmp_path / "reports",
        n_boot=100,
    )
    ext, dev = result.report["metrics"], result.report["comparison"]["development"]
    assert dev["validation"] == "loro"
    assert abs(ext["auroc"] - dev["metrics"]["auroc"]) < 0.06, (
        ext["auroc"],
        dev["metrics"]["auroc"],
    )
    assert abs(ext["brier"] - dev["metrics"]["brier"]) < 0.04
    assert ext["auroc_ci_low"] <= dev["metrics"]["auroc_ci_high"]
    assert dev["metrics"]["auroc_ci_low"] <= ext["auroc_ci_high"]
