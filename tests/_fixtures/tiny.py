"""Hand-made CDM tables of a few patients, for tests with known answers."""

from __future__ import annotations

import hashlib

import pandas as pd

from sma_response.schemas import validate_cdm

__all__ = ["pid", "tiny_cdm"]


def pid(name: str) -> str:
    """A valid 16-hex patient id derived from a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def tiny_cdm(
    *,
    patients: list[dict] | None = None,
    treatments: list[tuple] = (),
    assessments: list[tuple] = (),
    milestones: list[tuple] = (),
    events: list[tuple] = (),
    clinical_status: list[tuple] = (),
) -> dict[str, pd.DataFrame]:
    """Build validated CDM tables from readable rows keyed by patient *name*.

    ``treatments``: (name, therapy, start, stop); ``assessments``: (name, age, scale, score);
    ``milestones``: (name, age, milestone, able); ``events``: (name, event, age);
    ``clinical_status``: (name, age, ventilation_hours, feeding_tube, scoliosis_surgery).
    """
    rows = []
    for p in patients or []:
        name = p["name"]
        rows.append(
            {
                "patient_id": pid(name),
                "linked_id": pid(p.get("linked", name)),
                "registry": p.get("registry", "reg_a"),
                "region": p.get("region", "DE"),
                "sex": p.get("sex", "F"),
                "birth_year": p.get("birth_year", 2015),
                "sma_type": p.get("sma_type", "2"),
                "smn2_copies": p.get("smn2_copies", 3),
                "onset_age_days": p.get("onset_age_days", 300.0),
                "diagnosis_age_days": p.get("diagnosis_age_days", 400.0),
                "presymptomatic": p.get("presymptomatic", False),
                "reporter": p.get("reporter", "clinician"),
            }
        )
    tables = {
        "patients": pd.DataFrame(rows),
        "treatments": pd.DataFrame(
            [(pid(n), t, s, e) for n, t, s, e in treatments],
            columns=["patient_id", "therapy", "start_age_days", "stop_age_days"],
        ),
        "assessments": pd.DataFrame(
            [(pid(n), a, sc, v) for n, a, sc, v in assessments],
            columns=["patient_id", "age_days", "scale", "score"],
        ),
        "milestones": pd.DataFrame(
            [(pid(n), a, m, able, able) for n, a, m, able in milestones],
            columns=["patient_id", "age_days", "milestone", "able", "ever"],
        ),
        "events": pd.DataFrame(
            [(pid(n), e, a) for n, e, a in events], columns=["patient_id", "event", "age_days"]
        ),
        "clinical_status": pd.DataFrame(
            [(pid(n), a, v, f, s, None, None) for n, a, v, f, s in clinical_status],
            columns=[
                "patient_id",
                "age_days",
                "ventilation_hours_per_day",
                "feeding_tube",
                "scoliosis_surgery",
                "ambulant",
                "weight_kg",
            ],
        ),
    }
    # Cast to the CDM dtypes here: the CDM models' ``coerce`` is not in effect (see schemas.py).
    pats = tables["patients"]
    if len(pats):
        tables["patients"] = pats.astype(
            {
                "sex": "string",
                "birth_year": "Int64",
                "sma_type": "string",
                "smn2_copies": "Int64",
                "onset_age_days": "Float64",
                "diagnosis_age_days": "Float64",
                "presymptomatic": "boolean",
            }
        )
    tables["treatments"]["start_age_days"] = tables["treatments"]["start_age_days"].astype(float)
    for name in ("assessments", "milestones", "events", "clinical_status"):
        tables[name]["age_days"] = tables[name]["age_days"].astype(float)
    tables["assessments"]["score"] = tables["assessments"]["score"].astype(float)
    for table in tables.values():
        for col in (
            "patient_id",
            "linked_id",
            "registry",
            "region",
            "reporter",
            "therapy",
            "scale",
            "milestone",
            "event",
        ):
            if col in table:
                table[col] = table[col].astype("str")
    tables["treatments"]["stop_age_days"] = tables["treatments"]["stop_age_days"].astype(float)
    for name in ("milestones", "clinical_status"):
        for col in ("able", "ever", "feeding_tube", "scoliosis_surgery", "ambulant"):
            if col in tables[name]:
                tables[name][col] = tables[name][col].astype("boolean")
    tables["clinical_status"]["weight_kg"] = tables["clinical_status"]["weight_kg"].astype(float)
    tables["clinical_status"]["ventilation_hours_per_day"] = tables["clinical_status"][
        "ventilation_hours_per_day"
    ].astype(float)
    return validate_cdm(tables)
