"""The harmonisation pipeline on a small simulated dataset: outputs, determinism, round trip,
identifier scan, a fifth registry from YAML alone, and linkage quality (issue #3)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from sma_response._utils.random import spawn_seeds
from sma_response.conf.harmonise import register_harmonise_configs
from sma_response.conf.resolvers import CONFIG_DIR, register_resolvers
from sma_response.conf.simulation import to_simulation_spec
from sma_response.conf.store import register_configs
from sma_response.harmonise.pseudonym import pseudonymise
from sma_response.pipelines.harmonise import HarmonisationError, run_harmonisation
from sma_response.pipelines.simulate import run_simulation
from sma_response.schemas import validate_cdm
from sma_response.simulate.cohort import simulate_patients
from sma_response.simulate.registries import observe_registries

N_PATIENTS = 400
SECRET = "pytest-secret-not-a-real-key"
REGISTRIES = ("smartcare_dach", "ismac_itu", "nl_sma", "cure_pr")


def _compose(name: str, *overrides: str):
    register_resolvers()
    register_configs()
    register_harmonise_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=list(overrides))
    GlobalHydra.instance().clear()
    return cfg


def harmonise_cfg(root: Path, *overrides: str):
    return _compose(
        "harmonise",
        f"paths.data_dir={root / 'data'}",
        f"pseudonym_key_file={root / 'key'}",
        "progress=false",
        *overrides,
    )


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """A small simulated dataset and what the simulator intended each registry to record."""
    root = tmp_path_factory.mktemp("harmonise")
    (root / "key").write_text(SECRET + "\n", encoding="utf-8")
    cfg = _compose(
        "simulate",
        f"simulation.n_patients={N_PATIENTS}",
        f"paths.data_dir={root / 'data'}",
        "progress=false",
    )
    run_simulation(cfg)
    spec = to_simulation_spec(cfg.simulation)
    patient_seed, observe_seed = spawn_seeds(int(cfg.seed), 2)
    params = spec.disease_params()  # what run_simulation used: the calibrated set
    sim = simulate_patients(spec, seed=patient_seed, params=params)
    intended = observe_registries(sim, spec, seed=observe_seed, params=params)
    return root, intended


@pytest.fixture(scope="session")
def harmonised(simulated, tmp_path_factory):
    root, _ = simulated
    logger = logging.getLogger("sma_response")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        result = run_harmonisation(harmonise_cfg(root))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    log_text = "\n".join(r.getMessage() for r in records)
    return root, result, log_text


def _tables(cdm_dir: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(cdm_dir.glob("*.parquet"))}


def test_outputs_are_written_and_valid(harmonised) -> None:
    root, result, _ = harmonised
    out = root / "data" / "interim" / "default"
    for name in (
        "rejects.parquet",
        "accounting.parquet",
        "corrections.parquet",
        "harmonise_summary.txt",
    ):
        assert (out / name).is_file()
    tables = _tables(out / "cdm")
    assert set(tables) == {
        "patients",
        "treatments",
        "assessments",
        "milestones",
        "events",
        "clinical_status",
    }
    validate_cdm(tables)  # full schemas and cross-table rules, as read back
    manifest = json.loads((out / "cdm" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["digest"] == result.digest
    assert manifest["pseudonym_key"] == "file"
    assert manifest["tables"] == {k: len(v) for k, v in tables.items()}
    acc = result.accounting
    assert (acc["n_in"] == acc["n_accepted"] + acc["n_corrected"] + acc["n_quarantined"]).all()
    assert set(tables["patients"]["registry"]) == set(REGISTRIES)
    summary = (out / "harmonise_summary.txt").read_text(encoding="utf-8")
    assert "Records:" in summary
    assert result.digest in summary


def test_same_input_gives_byte_identical_outputs(harmonised, tmp_path) -> None:
    root, result, _ = harmonised
    again = run_harmonisation(harmonise_cfg(root, f"out_dir={tmp_path / 'again'}"))
    assert again.digest == result.digest
    first = root / "data" / "interim" / "default"
    for path in [
        *sorted((first / "cdm").glob("*")),
        first / "rejects.parquet",
        first / "accounting.parquet",
    ]:
        other = tmp_path / "again" / path.relative_to(first)
        assert path.read_bytes() == other.read_bytes(), path.name


# ----------------------------------------------------------------------------- round trip


def _pid(frame: pd.DataFrame) -> pd.Series:
    parts = [
        pseudonymise(part["local_id"].astype(str), registry=reg, key=SECRET.encode())
        for reg, part in frame.groupby("registry", observed=True, sort=False)
    ]
    return pd.concat(parts).reindex(frame.index) if parts else pd.Series(dtype="string")


def _expected_type(patients: pd.DataFrame) -> pd.Series:
    """The type code each registry can express (subtype, Dutch classes, roman numerals)."""
    t = patients["sma_type"].astype(object)
    reg = patients["registry"].astype(str)
    sub3 = t.isin(["3a", "3b"])
    t = t.mask(
        sub3
        & ((reg == "cure_pr") | ((reg == "ismac_itu") & ~patients["subtype_known"].astype(bool))),
        "3",
    )
    unseen = patients["presymptomatic"].astype(bool) & patients["onset_age_days"].isna()
    t = t.mask((reg == "smartcare_dach") & unseen, None)
    return t


def test_round_trip_every_accepted_value_is_what_the_simulator_intended(
    harmonised, simulated
) -> None:
    root, _, _ = harmonised
    _, intended = simulated
    cdm = _tables(root / "data" / "interim" / "default" / "cdm")
    # patients
    ip = intended.patients.assign(patient_id=lambda d: _pid(d))
    got = cdm["patients"].merge(ip, on="patient_id", suffixes=("", "_want"), validate="one_to_one")
    assert len(got) == len(cdm["patients"])
    assert (got["sex"] == got["sex_want"]).all()
    assert (got["birth_year"] == pd.to_datetime(got["birth_date"]).dt.year).all()
    copies = got["smn2_copies_want"].astype("Float64")
    assert ((got["smn2_copies"].astype("Float64") == copies) | got["smn2_copies"].isna()).all()
    assert (got["smn2_copies"].isna() == copies.isna()).all()
    want_type = _expected_type(
        got.rename(columns={"sma_type_want": "sma_type", "sma_type": "got_type"})
    )
    same = (got["sma_type"].astype(object) == want_type) | (
        got["sma_type"].isna() & want_type.isna()
    )
    assert same.all(), got.loc[~same, ["registry", "sma_type", "sma_type_want"]].head()
    partial = got["registry"] == "cure_pr"
    for col in ("onset_age_days", "diagnosis_age_days"):
        diff = (got[col].astype(float) - got[f"{col}_want"].astype(float)).abs()
        tol = np.where(
            partial, 17.0, 1.6
        )  # partial dates: +-16 d; ages exported in months: 0.05 mo
        assert ((diff <= tol) | (got[col].isna() & got[f"{col}_want"].isna())).all(), col
    assert (got["presymptomatic"].astype(bool) == got["presymptomatic_want"].astype(bool)).all()
    # assessments: (patient, visit age, scale) -> score
    ia = intended.assessments.dropna(subset=["score"]).assign(patient_id=lambda d: _pid(d))
    ia = ia.assign(age_days=np.floor(ia["visit_age_days"]), scale=ia["scale"].astype(str))
    a = cdm["assessments"].merge(
        ia, on=["patient_id", "age_days", "scale"], how="left", suffixes=("", "_want")
    )
    assert a["score_want"].notna().all()
    assert np.allclose(a["score"], a["score_want"], atol=0.5)  # exports round to whole points
    assert len(cdm["assessments"]) == len(ia)  # every recorded score arrives
    # treatments
    it = intended.treatments.assign(
        patient_id=lambda d: _pid(d), therapy=lambda d: d["therapy"].astype(str)
    )
    t = cdm["treatments"].merge(it, on=["patient_id", "therapy"], suffixes=("", "_want"))
    t = t.loc[(t["start_age_days"] - t["start_age_days_want"]).abs() <= 1.0]
    assert t["patient_id"].nunique() == cdm["treatments"]["patient_id"].nunique()
    assert len(t.drop_duplicates(["patient_id", "therapy", "start_age_days"])) == len(
        cdm["treatments"]
    )
    stop_ok = (t["stop_age_days"].astype(float) - t["stop_age_days_want"]).abs() <= 1.0
    assert (stop_ok | (t["stop_age_days"].isna() & t["stop_age_days_want"].isna())).all()
    # events (cure_pr: partial dates)
    ie = intended.events.assign(
        patient_id=lambda d: _pid(d), event=lambda d: d["event"].astype(str)
    )
    e = cdm["events"].merge(ie, on=["patient_id", "event"], suffixes=("", "_want"))
    e = e.loc[(e["age_days"] - e["age_days_want"]).abs() <= 17.0]
    assert len(e.drop_duplicates(["patient_id", "event", "age_days"])) == len(cdm["events"])
    # visits: milestones and clinical status at (patient, visit age)
    iv = intended.visits.assign(
        patient_id=lambda d: _pid(d), age_days=lambda d: np.floor(d["visit_age_days"])
    )
    iv = iv.drop_duplicates(["patient_id", "age_days"])
    m = cdm["milestones"].merge(iv, on=["patient_id", "age_days"], how="left")
    assert m["visit_no"].notna().all()
    for ms in ("head_control", "sitting", "standing", "walking"):
        part = m.loc[m["milestone"] == ms]
        want = part[ms].astype("boolean")
        ok = (part["able"].astype("boolean") == want) | (part["able"].isna() & want.isna())
        assert ok.all(), ms
        ever = part[f"ever_{ms}"].astype("boolean")
        ok = part["ever"].isna() | (part["ever"].astype("boolean") == ever)
        assert ok.all(), ms
    c = cdm["clinical_status"].merge(
        iv, on=["patient_id", "age_days"], how="left", suffixes=("", "_want")
    )
    assert c["visit_no"].notna().all()
    for col, tol in (("ventilation_hours_per_day", 0.51), ("weight_kg", 0.06)):
        diff = (c[col].astype(float) - c[f"{col}_want"].astype(float)).abs()
        assert ((diff <= tol) | c[col].isna()).all(), col
    for col in ("feeding_tube", "scoliosis_surgery", "ambulant"):
        want = c[f"{col}_want"].astype("boolean")
        assert ((c[col].astype("boolean") == want) | c[col].isna()).all(), col


# ----------------------------------------------------------------------------- identifier scan


def _identifiers(intended) -> set[str]:
    p = intended.patients
    birth = pd.to_datetime(p["birth_date"])
    found = (
        set(p["first_name"].astype(str))
        | set(p["last_name"].astype(str))
        | set(p["record_number"].astype(str))
    )
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%m/%d/%Y", "%Y%m%d"):
        found |= set(birth.dt.strftime(fmt))
    found |= set(p["local_id"].astype(str))
    return {s for s in found if len(s) >= 3}


def test_no_identifier_reaches_cdm_rejects_summary_or_logs(harmonised, simulated) -> None:
    root, _, log_text = harmonised
    _, intended = simulated
    idents = _identifiers(intended)
    names = {s for s in idents if not any(ch.isdigit() for ch in s)}
    out = root / "data" / "interim" / "default"
    frames = [*_tables(out / "cdm").values()] + [
        pd.read_parquet(out / f)
        for f in ("rejects.parquet", "accounting.parquet", "corrections.parquet")
    ]
    for frame in frames:
        cells = {str(v) for v in frame.to_numpy(dtype=object).ravel()}
        assert not (cells & idents), sorted(cells & idents)[:5]
        words = {w for cell in cells for w in cell.replace("<", " ").replace(">", " ").split()}
        assert not (words & names)
    texts = [
        (out / "harmonise_summary.txt").read_text(encoding="utf-8"),
        log_text,
        (out / "cdm" / "manifest.json").read_text(encoding="utf-8"),
    ]
    for text in texts:
        for ident in idents:
            assert ident not in text
        assert SECRET not in text


# ----------------------------------------------------------------------------- a fifth registry

FIFTH_YAML = """
name: fifth_tsv
region: FR
reporter: clinician
missing: ["NR"]
dates: {format: "%Y%m%d"}
codes:
  sex: {"1": M, "2": F}
  scale: {HF: hfmse, CI: chop_intend}
files:
  patients:
    pattern: "pat.tsv"
    reader: {format: csv, delimiter: "\\t", encoding: utf-8}
    columns: {num: local_id, nom: name, naissance: birth_date, sexe: sex, copies: smn2_copies}
  scores:
    pattern: "scores.tsv"
    reader: {format: csv, delimiter: "\\t", encoding: utf-8}
    columns:
      num: local_id
      age_mois: {field: visit_age, unit: months}
      echelle: scale
      total: score
"""


def test_a_fifth_registry_needs_only_a_yaml_file(simulated, tmp_path) -> None:
    root, _ = simulated
    registry_dir = tmp_path / "registry"
    shutil.copytree(CONFIG_DIR / "registry", registry_dir)
    (registry_dir / "fifth_tsv.yaml").write_text(FIFTH_YAML, encoding="utf-8")
    data = tmp_path / "data"
    shutil.copytree(root / "data" / "raw", data / "raw")
    folder = data / "raw" / "default" / "fifth_tsv"
    folder.mkdir()
    (folder / "pat.tsv").write_text(
        "num\tnom\tnaissance\tsexe\tcopies\nF1\tJeanne Roux\t20200101\t2\t2\n"
        "F2\tLuc Petit\t20190615\t1\tNR\n",
        encoding="utf-8",
    )
    (folder / "scores.tsv").write_text(
        "num\tage_mois\techelle\ttotal\nF1\t6\tCI\t31\nF2\t24\tHF\t12\nF2\t30\tHF\t99\n",
        encoding="utf-8",
    )
    cfg = harmonise_cfg(
        root, f"paths.data_dir={data}", f"registry_dir={registry_dir}", "registries=[fifth_tsv]"
    )
    result = run_harmonisation(cfg)
    cdm = _tables(result.cdm_dir)
    fifth = cdm["patients"].loc[cdm["patients"]["registry"] == "fifth_tsv"]
    assert sorted(fifth["sex"]) == ["F", "M"]
    assert set(fifth["region"]) == {"FR"}
    scores = cdm["assessments"].loc[cdm["assessments"]["patient_id"].isin(fifth["patient_id"])]
    assert sorted(scores["score"]) == [12.0, 31.0]  # 99 is out of the HFMSE range: quarantined
    assert sorted(scores["age_days"]) == pytest.approx([6 * 30.4375, 24 * 30.4375])
    acc = result.accounting.loc[result.accounting["registry"] == "fifth_tsv"].set_index("table")
    assert acc.loc["assessments", "n_quarantined"] == 1
    assert acc.loc["assessments", "n_corrected"] == 2  # months -> days


# ----------------------------------------------------------------------------- errors and linkage


def test_missing_dataset_and_unknown_registry_are_clear_errors(simulated, tmp_path) -> None:
    root, _ = simulated
    with pytest.raises(HarmonisationError, match="no dataset folder"):
        run_harmonisation(harmonise_cfg(root, "dataset=nope"))
    with pytest.raises(HarmonisationError, match=r"registries: no mapping wrong\.yaml"):
        run_harmonisation(harmonise_cfg(root, "registries=[wrong]"))
    bad = tmp_path / "registry"
    bad.mkdir()
    (bad / "smartcare_dach.yaml").write_text(
        "name: smartcare_dach\nfiles: {p: {pattern: x}}\n", encoding="utf-8"
    )
    with pytest.raises(HarmonisationError, match=r"smartcare_dach.yaml: files.p.reader"):
        run_harmonisation(harmonise_cfg(root, f"registry_dir={bad}"))


def test_linked_records_of_shared_patients(harmonised, simulated) -> None:
    _, result, _ = harmonised
    _, intended = simulated
    assert result.linkage is not None
    n_shared = len(intended.shared)
    assert result.linkage["n_true_pairs"] == n_shared
    assert result.linkage["recall"] >= 0.9
    assert result.linkage["precision"] >= 0.9


@pytest.mark.slow
def test_linkage_quality_on_the_default_dataset(tmp_path) -> None:
    """Issue #3 acceptance: precision and recall >= 0.95 on the default synthetic dataset."""
    cfg = _compose("simulate", f"paths.data_dir={tmp_path / 'data'}", "progress=false")
    run_simulation(cfg)
    (tmp_path / "key").write_text(SECRET, encoding="utf-8")
    result = run_harmonisation(harmonise_cfg(tmp_path))
    assert result.linkage["precision"] >= 0.95
    assert result.linkage["recall"] >= 0.95


def test_a_truncated_ground_truth_file_costs_only_the_linkage_figures(
    simulated, harmonised, tmp_path, caplog
) -> None:
    """The truth is an extra: a corrupted file gives a note, not a traceback."""
    root, _ = simulated
    data = tmp_path / "data"
    shutil.copytree(root / "data" / "raw", data / "raw")
    truth = data / "raw" / "default" / "ground_truth" / "registry_links.parquet"
    truth.write_bytes(truth.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="sma_response"):
        result = run_harmonisation(harmonise_cfg(root, f"paths.data_dir={data}"))
    assert result.linkage is None
    assert harmonised[1].linkage is not None
    assert result.digest == harmonised[1].digest  # the CDM itself does not depend on the truth
    note = next(n for n in result.notes if "linkage quality not evaluated" in n)
    assert "registry_links.parquet: unreadable ground-truth file" in note
    assert "\n" not in note
    assert "linkage quality not evaluated" in result.summary
    assert "unreadable ground-truth file" in caplog.text
