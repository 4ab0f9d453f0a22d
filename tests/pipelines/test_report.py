"""Explanations, intervals and reports of a real training run, and ``run_reports`` end to end.

Shares the session's training run (``trained`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pypdf import PdfReader
from rich.console import Console
from scipy.special import expit
from tests._fixtures.training import compose_report

from sma_response.cli._reports import report_summary
from sma_response.harmonise.io import read_registry, read_registry_spec
from sma_response.pipelines.report import ReportError, run_reports
from sma_response.report.options import disagreements, meaningful_change


def _artifact(cfg, run_id, path, dst):
    mlflow.set_tracking_uri(cfg.tracking.uri)
    return Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(dst))
    )


def _pdf_text(path: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(path).pages))


def test_run_logs_explanations_intervals_and_example_reports(trained):
    cfg, result = trained
    client = MlflowClient(tracking_uri=cfg.tracking.uri)
    run = client.get_run(result.run_id)
    names = {a.path for a in client.list_artifacts(result.run_id, "explain")}
    assert {"explain/shap_oof.parquet", "explain/shap_final.parquet", "explain/plots"} <= names
    plots = {Path(a.path).name for a in client.list_artifacts(result.run_id, "explain/plots")}
    assert {"importance_bar.png", "beeswarm.png", "importance_by_region.png"} <= plots
    assert sum(p.startswith("dependence_") for p in plots) == 4
    reports = {Path(a.path).name for a in client.list_artifacts(result.run_id, "reports")}
    assert "index.html" in reports
    clinician = {r for r in reports if ".family." not in r}
    family = reports - clinician
    assert (
        sum(r.endswith(".pdf") for r in clinician)
        == sum(r.endswith(".html") for r in clinician) - 1
        == 3
    )
    assert len(family) == 6  # each example's family summary, HTML and PDF
    assert run.data.tags["explain.method_used"] == "xgboost_native"
    assert run.data.params["explain.feature_perturbation"] == "tree_path_dependent"
    assert run.data.params["explain.model_output"] == "raw"
    assert "report" in {a.path for a in client.list_artifacts(result.run_id)}


def test_age_at_treatment_start_is_a_top_global_feature(trained, tmp_path):
    """The simulator's main effect modifier is age at treatment start: SHAP must find it."""
    cfg, result = trained
    importance = pd.read_csv(_artifact(cfg, result.run_id, "explain/importance.csv", tmp_path))
    rank = importance.set_index("feature").loc["age_at_index_months", "rank"]
    assert rank <= 3, importance.head(5)


def test_shap_values_sum_to_the_prediction_for_every_patient(trained, tmp_path):
    cfg, result = trained
    shap = pd.read_parquet(_artifact(cfg, result.run_id, "explain/shap_oof.parquet", tmp_path))
    oof = pd.read_parquet(_artifact(cfg, result.run_id, "predictions/oof.parquet", tmp_path))
    total = shap.groupby(["repeat", "index_id"]).agg(s=("shap", "sum"), b=("base_value", "first"))
    logged = oof.set_index(["repeat", "index_id"])["y_pred"].reindex(total.index)
    assert len(total) == len(oof) == result.n_index_events
    np.testing.assert_allclose(expit(total["s"] + total["b"]), logged, atol=1e-5)
    final = pd.read_parquet(_artifact(cfg, result.run_id, "explain/shap_final.parquet", tmp_path))
    assert final["index_id"].nunique() == result.n_index_events


def test_interval_coverage_is_reported_per_subgroup(trained, tmp_path):
    cfg, result = trained
    metrics = MlflowClient(tracking_uri=cfg.tracking.uri).get_run(result.run_id).data.metrics
    assert 0.7 <= metrics["interval/coverage"] <= 0.9
    regions = [k for k in metrics if k.startswith("interval/coverage/region/")]
    assert len(regions) >= 3
    table = pd.read_csv(_artifact(cfg, result.run_id, "evaluation/interval_coverage.csv", tmp_path))
    assert set(table["variable"]) == {
        "overall", "region", "sma_type", "therapy", "age_band", "scale",
        "predicted_change_quintile",
    }  # fmt: skip
    subgroup = ~table["variable"].isin(["overall", "predicted_change_quintile"])
    big = table.loc[subgroup & (table["n"] >= 50), "coverage"]
    quintiles = table.loc[table["variable"] == "predicted_change_quintile"]
    assert quintiles["level"].tolist() == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert metrics["interval/coverage_min_quintile"] == quintiles["coverage"].min()
    assert metrics["interval/coverage_min_subgroup"] == big.min()
    assert metrics["interval/coverage_max_subgroup"] == big.max()
    basis = json.loads(_artifact(cfg, result.run_id, "report/basis.json", tmp_path).read_text())
    assert basis["interval"]["level"] == 0.8
    assert basis["interval"]["groups"] == ["age_band", "sma_type", "therapy"]
    cells = [k for k in basis["interval"]["bounds"] if k.count("|") == 3]
    assert cells  # Mondrian cells: scale|age band|type|therapy
    assert all(
        basis["interval"]["bounds"][k.rsplit("|", 1)[0]][2] >= basis["interval"]["bounds"][k][2]
        for k in cells
    )
    assert basis["provenance"]["run_id"] == result.run_id


def test_reports_for_chosen_cohort_patients(trained, tmp_path):
    cfg, result = trained
    patients = pd.read_parquet(_artifact(cfg, result.run_id, "report/patients.parquet", tmp_path))
    chosen = patients.sort_values("probability")["patient_id"].iloc[[0, -1]].tolist()
    paths = run_reports(
        compose_report(
            cfg, f"run_id={result.run_id}", f"patients=[{','.join(chosen)}]", "report.language=en"
        )
    ).paths
    assert [p.name for p in paths] == [
        f"{chosen[0]}.html",
        f"{chosen[0]}.pdf",
        f"{chosen[0]}.family.html",
        f"{chosen[0]}.family.pdf",
        f"{chosen[1]}.html",
        f"{chosen[1]}.pdf",
        f"{chosen[1]}.family.html",
        f"{chosen[1]}.family.pdf",
        "index.html",
    ]
    assert paths[0].parent == Path(cfg.paths.output_root) / "reports" / result.run_id
    row = patients.set_index("patient_id").loc[chosen[1]]
    text = _pdf_text(paths[5])
    assert f"{100 * row['probability']:.0f}%" in text
    assert f"{row['lower']:+.1f} to {row['upper']:+.1f}" in text
    assert re.search(r"(raises|lowers) the chance of a meaningful gain", text)
    assert result.run_id in text
    assert "Therapy options" in text
    assert "confounding by indication" in text
    html = paths[4].read_text(encoding="utf-8")
    assert "Age at treatment start" in html
    assert dt.date.today().isoformat() in html


def test_report_options_come_from_the_effects_stage_and_never_contradict(trained, tmp_path):
    """Each option is the patient's own estimate plus a contrast, or says why it has no number."""
    cfg, result = trained
    options = pd.read_parquet(
        _artifact(cfg, result.run_id, "report/alternatives.parquet", tmp_path)
    )
    patients = pd.read_parquet(_artifact(cfg, result.run_id, "report/patients.parquet", tmp_path))
    assert set(options["index_id"]) == set(patients["index_id"])
    assert (
        options.groupby("index_id")["status"].apply(lambda s: (s == "current").sum()) == 1
    ).all()
    assert {"estimated", "not_estimable"} <= set(options["status"])
    blank = options.loc[options["status"].isin(["not_estimable", "not_an_option"])]
    assert blank[["probability", "expected_change", "diff_change"]].isna().all().all()
    assert (blank["reason"].str.len() > 0).all()
    metrics = MlflowClient(cfg.tracking.uri).get_run(result.run_id).data.metrics
    assert metrics["report/disagreements"] == 0
    assert metrics["report/reconciled"] == patients["reconciled"].sum()
    moved = patients.loc[patients["reconciled"], "reconciled_shift"].abs()
    if len(moved):
        assert metrics["report/reconciled_median_shift"] == pytest.approx(moved.median())
    shown = options.loc[options["status"] == "estimated"].merge(
        patients[["index_id", "scale", "expected_change"]], on="index_id", suffixes=("", "_own")
    )
    # an option's change is the patient's own plus the contrast, unless that contradicted its
    # chance (then it sits at the threshold)
    candidate = shown["expected_change_own"] + shown["diff_change"]
    threshold = meaningful_change(shown["scale"])
    clash = (shown["probability"] >= 0.5) != (candidate >= threshold)
    keep = candidate.notna() & ~clash
    assert keep.any()
    assert np.allclose(shown.loc[keep, "expected_change"], candidate[keep])
    assert disagreements(shown) == 0


def test_reports_for_new_patients_from_a_registry_export_file(trained, train_tmp, tmp_path):
    """One file of a registry export (XLSX), harmonised on the way in, scored by the final model.

    The export is the training registry's own file, so the same pseudonym key must give the
    same pseudonymous ids; three of them are reported (rendering hundreds would be slow).
    """
    cfg, result = trained
    patients = pd.read_parquet(_artifact(cfg, result.run_id, "report/patients.parquet", tmp_path))
    chosen = patients.loc[patients["region"] == "IT", "patient_id"].head(3).tolist()
    export = Path(cfg.harmonise.raw_dir) / "ismac_itu" / "ismac_itu_export.xlsx"
    paths = run_reports(
        compose_report(
            cfg,
            f"model_uri=models:/sma-response-responder/{result.model_version}",
            f"export_path={export}",
            "export_registry=ismac_itu",
            f"patients=[{','.join(chosen)}]",
            "out_dir=" + str(train_tmp / "new_reports"),
        )
    )
    assert paths.source == "export"
    assert paths.folder == train_tmp / "new_reports" / result.run_id / "export-ismac_itu"
    assert paths.patients["patient_id"].tolist() == chosen
    # every export patient who cannot be reported on is named, with the reason, in a file
    skipped = paths.skipped
    assert len(skipped) > 0
    assert not set(skipped["patient_id"]) & set(chosen)
    assert skipped["reason"].str.len().gt(0).all()
    written = pd.read_csv(paths.folder / "skipped_patients.csv", dtype=str)
    assert written.equals(skipped.astype(str))
    assert paths.n_export_patients > len(skipped)
    console = Console(record=True, width=100)
    report_summary(paths, console=console)
    out = console.export_text()
    assert f"{len(skipped)} of {paths.n_export_patients} patients in the export" in out
    first = skipped.iloc[0]
    assert f"{first.patient_id}: {first.reason}" in out
    assert str(paths.folder / "skipped_patients.csv") in out.replace("\n", "")
    paths = paths.paths
    assert [p.name for p in paths if p.suffix == ".html"] == [
        *(name for c in chosen for name in (f"{c}.html", f"{c}.family.html")),
        "index.html",
    ]
    assert len([p for p in paths if p.suffix == ".pdf"]) == 6
    family = next(p for p in paths if p.name.endswith(".family.html"))
    assert '<html lang="it" dir="ltr">' in family.read_text(encoding="utf-8")
    # a new patient has no per-therapy contrasts: every other option says why, in Italian
    report_html = paths[0].read_text(encoding="utf-8")
    assert "le differenze per terapia sono stimate per la coorte della sessione" in report_html
    page = paths[0].read_text(encoding="utf-8")
    # ismac_itu is an Italian registry: its patients' reports are in Italian by default
    assert '<html lang="it" dir="ltr">' in page
    assert "nuovo paziente, valutato dal modello finale" in page
    assert "Regione IT" in page
    assert "Variazione attesa nella" in page
    assert "intervallo 80%" in page


def test_report_errors_are_clear(trained):
    cfg, result = trained
    with pytest.raises(ReportError, match="run_id: give the run"):
        run_reports(compose_report(cfg))
    with pytest.raises(ReportError, match=r"1 id\(s\) not in the run's cohort"):
        run_reports(compose_report(cfg, f"run_id={result.run_id}", "patients=[ffffffffffffffff]"))
    with pytest.raises(ReportError, match=r"no mapping nope\.yaml"):
        run_reports(
            compose_report(
                cfg,
                f"run_id={result.run_id}",
                f"export_path={cfg.harmonise.raw_dir}",
                "export_registry=nope",
            )
        )


# ------------------------------------------------------------------ no identifier leaves the run
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}[./]\d{2}[./]\d{4}")
_ID_FIELDS = ("local_id", "record_number")
_NAME_FIELDS = ("name", "first_name")


def _identifiers(raw_dir: Path, registry_dir: Path) -> tuple[set[str], set[str], set[str]]:
    """Local ids and record numbers, names, and birth dates (raw text and ISO) of every export."""
    ids, names, births = set(), set(), set()
    for mapping in sorted(registry_dir.glob("*.yaml")):
        spec = read_registry_spec(mapping)
        folder = raw_dir / spec.folder
        if not folder.is_dir():
            continue
        for raw in read_registry(spec, folder).files:
            fields = {c.source: c.field for c in raw.spec.columns}
            for part in raw.parts.values():
                for source, field in fields.items():
                    if source not in part or field not in (
                        *_ID_FIELDS,
                        *_NAME_FIELDS,
                        "birth_date",
                    ):
                        continue
                    values = part[source].dropna()
                    if field == "birth_date":
                        for v in values:
                            births.add(str(v))
                            parsed = pd.to_datetime(
                                v,
                                format=spec.dates.format if isinstance(v, str) else None,
                                errors="coerce",
                            )
                            if not pd.isna(parsed):
                                births.update(
                                    {
                                        parsed.strftime("%Y-%m-%d"),
                                        parsed.strftime("%d.%m.%Y"),
                                        parsed.strftime("%m/%d/%Y"),
                                    }
                                )
                    else:
                        target = ids if field in _ID_FIELDS else names
                        target.update(str(v) for v in values if len(str(v)) >= 3)
    return ids, names, births


def _text_of(path: Path) -> str:
    if path.suffix == ".pdf":
        return " ".join(p.extract_text() for p in PdfReader(path).pages)
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_csv(index=False)
    if path.suffix == ".png":
        from PIL import Image

        return " ".join(f"{k} {v}" for k, v in Image.open(path).info.items())
    return path.read_bytes().decode("utf-8", errors="replace")


def test_no_name_record_number_or_birth_date_in_anything_a_run_writes(trained, train_tmp):
    cfg, result = trained
    # Make sure reports from sma-report are written too before scanning.
    run_reports(compose_report(cfg, f"run_id={result.run_id}"))
    ids, names, births = _identifiers(Path(cfg.harmonise.raw_dir), Path(cfg.harmonise.registry_dir))
    assert len(ids) > 1000
    assert len(names) > 300
    assert len(births) > 500
    roots = [train_tmp / "mlruns", Path(cfg.paths.output_root), train_tmp / "new_reports"]
    files = [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pdf" for p in files)
    assert any(p.name == "shap_oof.parquet" for p in files)
    assert _leaks(files, ids, names, births) == []
    # The scan has teeth: a planted name, record number and birth date are each found.
    planted = train_tmp / "planted"
    planted.mkdir(exist_ok=True)
    for i, secret in enumerate(
        (sorted(names)[0], sorted(ids)[0], sorted(b for b in births if "-" in b)[0])
    ):
        (planted / f"leak{i}.txt").write_text(f"report for {secret}.", encoding="utf-8")
    assert len(_leaks(sorted(planted.glob("*.txt")), ids, names, births)) == 3


def _leaks(files, ids, names, births):
    leaks = []
    for path in files:
        text = _text_of(path)
        tokens = set(re.findall(r"[A-Za-z0-9][\w\-]*", text))
        words = set(re.findall(r"\w+", text))
        hits = (tokens & ids) | (words & names) | (set(_DATE.findall(text)) & births)
        if hits:
            leaks.append((path.name, sorted(hits)[:3]))
    return leaks
