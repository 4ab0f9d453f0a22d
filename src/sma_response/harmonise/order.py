"""Row order of the written CDM tables, and linkage quality against a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sma_response.harmonise.linkage import linkage_quality
from sma_response.harmonise.pseudonym import PseudonymKey, pseudonymise

__all__ = ["SORT_KEYS", "linkage_against_truth", "sort_table"]

#: Row order of each written table (then the input order, which is deterministic).
SORT_KEYS: dict[str, list[str]] = {
    "patients": ["patient_id"],
    "treatments": ["patient_id", "start_age_days", "therapy"],
    "assessments": ["patient_id", "age_days", "scale"],
    "milestones": ["patient_id", "age_days", "milestone"],
    "events": ["patient_id", "age_days", "event"],
    "clinical_status": ["patient_id", "age_days"],
}


def sort_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in :data:`SORT_KEYS` order (stable; text keys sorted as their sorted codes).

    Examples
    --------
    >>> f = pd.DataFrame({"patient_id": pd.array(["b", None, "a"], dtype="string")})
    >>> sort_table("patients", f)["patient_id"].isna().tolist(), sort_table("patients", f).iat[0, 0]
    ([False, False, True], 'a')
    """
    keys = {}
    for k in SORT_KEYS[name]:
        column = frame[k]
        if isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
            codes, _ = pd.factorize(column, sort=True)
            keys[k] = pa.array(codes, mask=codes < 0)
        else:
            keys[k] = pa.array(column.to_numpy(dtype=float, na_value=np.nan), from_pandas=True)
    order = pc.sort_indices(pa.table(keys), sort_keys=[(k, "ascending", "at_end") for k in keys])
    return frame.take(order.to_numpy()).reset_index(drop=True)


def linkage_against_truth(
    links: pd.DataFrame, truth: pd.DataFrame, *, key: PseudonymKey | bytes
) -> dict[str, float] | None:
    """Measure the links' precision and recall against the true persons.

    ``truth`` holds ``registry, local_id, person_id``; local ids are pseudonymised with the
    same key as the CDM. ``None`` for an empty truth.
    """
    parts = [
        pd.DataFrame(
            {
                "patient_id": pseudonymise(part["local_id"], registry=str(reg), key=key).to_numpy(),
                "person_id": part["person_id"].to_numpy(),
            }
        )
        for reg, part in truth.groupby("registry", sort=True)
    ]
    return linkage_quality(links, pd.concat(parts, ignore_index=True)) if parts else None
