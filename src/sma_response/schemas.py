"""Table schemas for every hand-off between stages (pandera), starting with the common data model.

The common data model (CDM, ``DESIGN.md`` section 4) is what harmonisation produces from every
registry export and what every later stage trusts:

* all times are ages in days (float; partial dates are imputed by a documented rule);
* ``patient_id`` is a pseudonymous key (a keyed hash of registry and local id): no names, record
  numbers or full dates ever reach these tables; birth year is the only calendar information;
* ``linked_id`` groups records of one person found in several registries (equal to
  ``patient_id`` for unlinked records), so that no split can put one person on both sides.

Each table is a :class:`pandera.pandas.DataFrameModel`; ``validate_cdm`` checks all tables and
the rules that span tables (treatment after birth, assessments within life, keys that exist).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.typing import Series

SMA_TYPE_CODES = ("0", "1", "2", "3", "3a", "3b", "4")  # "3" = type 3, subtype unknown
THERAPY_CODES = ("nusinersen", "risdiplam", "onasemnogene")
SCALE_CODES = ("chop_intend", "hine2", "hfmse", "rhs", "rulm", "mfm32", "6mwt")
MILESTONE_CODES = ("head_control", "sitting", "standing", "walking")
EVENT_CODES = (
    "death",
    "permanent_ventilation",
    "feeding_tube",
    "scoliosis_surgery",
    "loss_of_ambulation",
)
#: How a label was set (``cohort.target.OUTCOME_RULES`` describes each).
OUTCOME_RULE_CODES = ("observed", "death_or_ventilation", "scale_change_sitting")
SCALE_RANGES: dict[str, tuple[float, float]] = {
    "chop_intend": (0, 64),
    "hine2": (0, 26),
    "hfmse": (0, 66),
    "rhs": (0, 69),
    "rulm": (0, 37),
    "mfm32": (0, 100),
    "6mwt": (0, 900),
}
#: Oldest plausible age in the registries (days): 110 years.
MAX_AGE_DAYS = 110 * 365.25
PATIENT_ID_PATTERN = r"^[0-9a-f]{16}$"


class Patients(pa.DataFrameModel):
    """One row per registry record of a patient."""

    patient_id: Series[str] = pa.Field(unique=True, str_matches=PATIENT_ID_PATTERN)
    linked_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    registry: Series[str]
    region: Series[str]
    sex: Series[pd.StringDtype] = pa.Field(isin=["F", "M"], nullable=True)
    birth_year: Series[pd.Int64Dtype] = pa.Field(ge=1900, le=2100)
    sma_type: Series[pd.StringDtype] = pa.Field(isin=list(SMA_TYPE_CODES), nullable=True)
    smn2_copies: Series[pd.Int64Dtype] = pa.Field(ge=1, le=8, nullable=True)
    onset_age_days: Series[pd.Float64Dtype] = pa.Field(ge=0, le=MAX_AGE_DAYS, nullable=True)
    diagnosis_age_days: Series[pd.Float64Dtype] = pa.Field(ge=0, le=MAX_AGE_DAYS, nullable=True)
    presymptomatic: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    reporter: Series[str] = pa.Field(isin=["clinician", "patient"])

    class Config:
        """Strict: no extra column (an identifier could hide in one)."""

        strict = True
        coerce = True


class Treatments(pa.DataFrameModel):
    """One row per therapy course."""

    patient_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    therapy: Series[str] = pa.Field(isin=list(THERAPY_CODES))
    start_age_days: Series[float] = pa.Field(ge=0, le=MAX_AGE_DAYS)
    stop_age_days: Series[pd.Float64Dtype] = pa.Field(ge=0, le=MAX_AGE_DAYS, nullable=True)

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def stop_after_start(cls, df: pd.DataFrame) -> pd.Series:
        """Check that a course stops at or after it starts."""
        return df["stop_age_days"].isna() | (df["stop_age_days"] >= df["start_age_days"])


class Assessments(pa.DataFrameModel):
    """One row per motor-scale score."""

    patient_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    age_days: Series[float] = pa.Field(ge=0, le=MAX_AGE_DAYS)
    scale: Series[str] = pa.Field(isin=list(SCALE_CODES))
    score: Series[float]

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def score_in_scale_range(cls, df: pd.DataFrame) -> pd.Series:
        """Check that each score lies within its scale's range."""
        lo = df["scale"].map({k: float(v[0]) for k, v in SCALE_RANGES.items()}).astype(float)
        hi = df["scale"].map({k: float(v[1]) for k, v in SCALE_RANGES.items()}).astype(float)
        return (df["score"].astype(float) >= lo) & (df["score"].astype(float) <= hi)


class Milestones(pa.DataFrameModel):
    """Motor milestone status at a visit: currently able, and ever achieved where recorded."""

    patient_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    age_days: Series[float] = pa.Field(ge=0, le=MAX_AGE_DAYS)
    milestone: Series[str] = pa.Field(isin=list(MILESTONE_CODES))
    able: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    ever: Series[pd.BooleanDtype] = pa.Field(nullable=True)

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True


class Events(pa.DataFrameModel):
    """One row per clinical event."""

    patient_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    event: Series[str] = pa.Field(isin=list(EVENT_CODES))
    age_days: Series[float] = pa.Field(ge=0, le=MAX_AGE_DAYS)

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True


class ClinicalStatus(pa.DataFrameModel):
    """Clinical status at a visit."""

    patient_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    age_days: Series[float] = pa.Field(ge=0, le=MAX_AGE_DAYS)
    ventilation_hours_per_day: Series[pd.Float64Dtype] = pa.Field(ge=0, le=24, nullable=True)
    feeding_tube: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    scoliosis_surgery: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    ambulant: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    weight_kg: Series[pd.Float64Dtype] = pa.Field(gt=0, le=250, nullable=True)

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True


CDM_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    "patients": Patients,
    "treatments": Treatments,
    "assessments": Assessments,
    "milestones": Milestones,
    "events": Events,
    "clinical_status": ClinicalStatus,
}


def validate_cdm(
    tables: Mapping[str, pd.DataFrame], *, schemas: bool = True
) -> dict[str, pd.DataFrame]:
    """Validate every CDM table and the rules that span tables.

    Parameters
    ----------
    tables
        ``{name: DataFrame}`` for every name in :data:`CDM_SCHEMAS`.
    schemas
        Check each table against its schema (lazily). ``False`` checks only the rules that span
        tables, for tables already validated table by table (harmonisation validates each
        registry's rows and quarantines failures before combining them).

    Returns
    -------
    dict
        The validated (type-coerced) tables.

    Raises
    ------
    pandera.errors.SchemaErrors
        Listing every violation of a table schema (lazy validation).
    ValueError
        If a cross-table rule fails: unknown ``patient_id`` in a child table, or a time
        outside the patient's life (before birth is impossible by construction; after death).
    """
    missing = set(CDM_SCHEMAS) - set(tables)
    if missing:
        msg = f"CDM is missing tables: {sorted(missing)}"
        raise ValueError(msg)
    if schemas:
        out = {name: model.validate(tables[name], lazy=True) for name, model in CDM_SCHEMAS.items()}
    else:
        out = {name: tables[name] for name in CDM_SCHEMAS}
    # Arrow kernels: millions of ids are looked up without Python objects.
    known = _arrow_ids(out["patients"]["patient_id"])
    for name in ("treatments", "assessments", "milestones", "events", "clinical_status"):
        ids = _arrow_ids(out[name]["patient_id"])
        unknown = pc.invert(pc.is_in(ids, value_set=known))
        if pc.any(unknown).as_py():
            n_ids = len(pc.unique(pc.filter(ids, unknown)))
            msg = f"CDM table {name}: {n_ids} patient_id values not in patients"
            raise ValueError(msg)
    events = out["events"]
    is_death = (events["event"] == "death").to_numpy(dtype=bool, na_value=False)
    deaths = events.loc[is_death].groupby("patient_id")["age_days"].min()
    dead = _arrow_ids(deaths.index.to_series())
    for name, col in (("assessments", "age_days"), ("treatments", "start_age_days")):
        table = out[name]
        if deaths.empty or table.empty:
            continue
        where = pc.index_in(_arrow_ids(table["patient_id"]), value_set=dead)
        where = pc.fill_null(where, -1).to_numpy()
        death = np.where(where >= 0, deaths.to_numpy(dtype=float)[np.maximum(where, 0)], np.nan)
        after = table[col].astype(float).to_numpy() > death + 1.0
        if after.any():
            msg = f"CDM table {name}: {int(after.sum())} rows dated after the patient's death"
            raise ValueError(msg)
    return out


def _arrow_ids(ids: pd.Series) -> pyarrow.Array:
    """Ids as one Arrow ``large_string`` array (zero-copy for ``string[pyarrow]`` columns)."""
    return pyarrow.array(ids.astype("string[pyarrow]").array).cast(pyarrow.large_string())


# ----------------------------------------------------------------------------- modelling hand-offs
# Small schemas for the tables passed between cohort, models and evaluate (STYLE rule 5).
# ``index_id`` is ``<patient_id>#<line>``: one index event (a therapy start) of one patient record.

INDEX_ID_PATTERN = r"^[0-9a-f]{16}#[0-9]+$"
PRIOR_THERAPY_CODES = ("none", *THERAPY_CODES)


class Cohort(pa.DataFrameModel):
    """One row per index event (``cohort.build_cohort``)."""

    index_id: Series[str] = pa.Field(unique=True, str_matches=INDEX_ID_PATTERN)
    patient_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    linked_id: Series[str] = pa.Field(str_matches=PATIENT_ID_PATTERN)
    registry: Series[str]
    region: Series[str]
    index_age_days: Series[float] = pa.Field(ge=0, le=MAX_AGE_DAYS)
    therapy: Series[str] = pa.Field(isin=list(THERAPY_CODES))
    line: Series[int] = pa.Field(ge=1)
    prior_therapy: Series[str] = pa.Field(isin=list(PRIOR_THERAPY_CODES))

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True


class Targets(pa.DataFrameModel):
    """The label of each labelled index event (``cohort.define_target``)."""

    index_id: Series[str] = pa.Field(unique=True, str_matches=INDEX_ID_PATTERN)
    target: Series[float]
    primary_scale: Series[str] = pa.Field(isin=[*SCALE_CODES, "milestones"])
    baseline_score: Series[float]
    outcome_score: Series[float] = pa.Field(nullable=True)
    outcome_age_days: Series[float] = pa.Field(ge=0, le=MAX_AGE_DAYS)
    outcome_rule: Series[str] = pa.Field(isin=list(OUTCOME_RULE_CODES))

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True


class Splits(pa.DataFrameModel):
    """Validation folds (``models.assign_splits``): the fold in which a row is held out.

    ``fold`` is ``-1`` for rows never held out (the training part of a hold-out split).
    """

    index_id: Series[str] = pa.Field(str_matches=INDEX_ID_PATTERN)
    repeat: Series[int] = pa.Field(ge=0)
    fold: Series[int] = pa.Field(ge=-1)

    class Config:
        """Strict and coercing; one row per index event and repeat."""

        strict = True
        coerce = True
        unique = ("index_id", "repeat")


class Predictions(pa.DataFrameModel):
    """Out-of-fold (or held-out) predictions (``models.fit_cv``).

    ``y_pred`` is the predicted probability of the positive class for classification.
    Not strict: callers may add columns (e.g. the oracle's prediction) beside these.
    """

    index_id: Series[str] = pa.Field(str_matches=INDEX_ID_PATTERN)
    repeat: Series[int] = pa.Field(ge=0)
    fold: Series[int] = pa.Field(ge=0)
    y_true: Series[float]
    y_pred: Series[float]

    class Config:
        """Coercing; one row per index event and repeat."""

        coerce = True
        unique = ("index_id", "repeat")


# ----------------------------------------------------------------------------- explanations
class ShapValues(pa.DataFrameModel):
    """SHAP values (``explain.explain``): one row per index event and clinical concept.

    ``value`` is the patient's raw value as text (null when missing); ``shap`` is in raw model
    output units (log-odds for a classifier); per ``index_id``, ``base_value + sum(shap)`` is the
    raw model output. Not strict: out-of-fold tables add ``repeat`` and ``fold``.
    """

    index_id: Series[str] = pa.Field(str_matches=INDEX_ID_PATTERN)
    feature: Series[str]
    value: Series[str] = pa.Field(nullable=True)
    shap: Series[float]
    base_value: Series[float]

    class Config:
        """Coercing; one row per index event and feature (per repeat for out-of-fold)."""

        coerce = True


# ----------------------------------------------------------------------------- features
class FeatureFrame(pa.DataFrameModel):
    """The model's input (``features.make_features``): one row per index event.

    Indexed by ``index_id``; every column numeric, boolean or categorical (the preprocessors
    take nothing else) and no infinite value. Not strict: the feature set is configurable.
    """

    index_id: pa.typing.Index[str] = pa.Field(unique=True, str_matches=INDEX_ID_PATTERN)

    class Config:
        """Not coercing: the model sees exactly these dtypes."""

        coerce = False

    @pa.dataframe_check
    @classmethod
    def model_ready_columns(cls, df: pd.DataFrame) -> bool:
        """Check that every column is numeric, boolean or categorical."""
        return all(
            pd.api.types.is_numeric_dtype(t)
            or pd.api.types.is_bool_dtype(t)
            or isinstance(t, pd.CategoricalDtype)
            for t in df.dtypes
        )

    @pa.dataframe_check
    @classmethod
    def no_infinite_values(cls, df: pd.DataFrame) -> pd.Series:
        """Check that no numeric value of a row is infinite (missing is fine: NaN)."""
        numeric = df.select_dtypes("number").to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(~np.isinf(numeric).any(axis=1), index=df.index)
