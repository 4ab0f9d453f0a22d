"""A second synthetic consortium for external validation, and the identifiers it must never leak."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sma_response.conf.compose import compose_config
from sma_response.pipelines.simulate import run_simulation

__all__ = ["raw_identifiers", "simulate_external"]


def simulate_external(tmp: Path, *, n_patients: int = 800, seed: int = 7) -> Path:
    """Simulate ``configs/simulation/external.yaml`` (other seed and region mix) under ``tmp``."""
    cfg = compose_config(
        "simulate",
        [
            "simulation=external",
            f"seed={seed}",
            f"simulation.n_patients={n_patients}",
            f"paths.data_dir={tmp}",
            "progress=false",
        ],
    )
    return run_simulation(cfg).output_dir


def raw_identifiers(export_dir: Path) -> set[str]:
    """Local ids, record numbers and full names found in the four export formats."""
    ids: set[str] = set()
    links = pd.read_parquet(export_dir / "ground_truth" / "registry_links.parquet")
    ids |= set(links["local_id"].astype(str))
    dach = pd.read_csv(
        export_dir / "smartcare_dach" / "patienten.csv", sep=";", encoding="cp1252", dtype=str
    )
    ids |= set(dach["Aktennummer"]) | set(dach["Vorname"] + " " + dach["Nachname"])
    nl = pd.read_parquet(export_dir / "nl_sma" / "patienten.parquet")
    ids |= set(nl["ziekenhuisnummer"].astype(str)) | set(nl["voornaam"] + " " + nl["achternaam"])
    it = pd.read_excel(
        export_dir / "ismac_itu" / "ismac_itu_export.xlsx", sheet_name="Patients", dtype=str
    )
    ids |= set(it["Hospital Record Number"]) | set(it["Name"] + " " + it["Surname"])
    cure = json.loads((export_dir / "cure_pr" / "cure_pr_export.json").read_text(encoding="utf-8"))
    ids |= {str(p["member_number"]) for p in cure} | {
        f"{p['first_name']} {p['last_name']}" for p in cure
    }
    return {i for i in ids if i and i != "nan" and len(i) >= 6}
