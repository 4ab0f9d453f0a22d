"""Plain clinical names, units and value wording of every feature (for plots and reports).

Kept beside the feature definitions so that a new feature gets its label where it is made.
"""

from __future__ import annotations

from sma_response.schemas import SCALE_CODES

__all__ = ["FEATURE_LABELS", "LEVEL_LABELS", "SCALE_NAMES", "feature_label", "feature_unit"]

#: Scale names as clinicians write them (SMA_FACTS section 2).
SCALE_NAMES: dict[str, str] = {
    "chop_intend": "CHOP INTEND",
    "hine2": "HINE-2",
    "hfmse": "HFMSE",
    "rhs": "RHS",
    "rulm": "RULM",
    "mfm32": "MFM32",
    "6mwt": "6-minute walk test",
    "milestones": "motor milestones",
}

#: ``feature -> (label, unit)``; unit ``""`` for categories and counts, ``"yes/no"`` for flags.
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "age_at_index_months": ("Age at treatment start", "months"),
    "onset_age_months": ("Age at first symptoms", "months"),
    "disease_duration_months": ("Time from first symptoms to treatment", "months"),
    "sma_type": ("SMA type", ""),
    "smn2_copies": ("SMN2 copies", "copies"),
    "sex": ("Sex", ""),
    "presymptomatic": ("Treated before symptoms (newborn screening)", "yes/no"),
    "therapy": ("Therapy started", ""),
    "line": ("Treatment line", ""),
    "prior_therapy": ("Previous therapy", ""),
    **{
        f"baseline_{s}": (f"{SCALE_NAMES[s]} score at start", "metres" if s == "6mwt" else "points")
        for s in SCALE_CODES
    },
    "baseline_primary_scale": ("Main motor scale at start", ""),
    "baseline_primary_score": ("Main motor score at start", "points"),
    "function_at_baseline": ("Motor function at start", ""),
    "primary_slope_per_year": ("Change in main motor score before treatment", "points per year"),
    "ventilation_hours_per_day": ("Ventilation support", "hours per day"),
    "feeding_tube": ("Feeding tube", "yes/no"),
    "scoliosis_surgery": ("Scoliosis surgery before start", "yes/no"),
    "region": ("Region", ""),
}

#: Wording of categorical levels.
LEVEL_LABELS: dict[str, dict[str, str]] = {
    "sex": {"F": "female", "M": "male"},
    "therapy": {
        "nusinersen": "nusinersen",
        "risdiplam": "risdiplam",
        "onasemnogene": "onasemnogene abeparvovec",
    },
    "prior_therapy": {
        "none": "none",
        "nusinersen": "nusinersen",
        "risdiplam": "risdiplam",
        "onasemnogene": "onasemnogene abeparvovec",
    },
    "baseline_primary_scale": dict(SCALE_NAMES),
    "function_at_baseline": {
        "non_sitter": "not sitting",
        "sitter": "sitting, not walking",
        "walker": "walking",
    },
    "sma_type": {"3": "3 (subtype unknown)"},
}


def feature_label(feature: str) -> str:
    """Plain name of a feature (the raw name when unknown).

    Examples
    --------
    >>> feature_label("age_at_index_months"), feature_label("new_thing")
    ('Age at treatment start', 'new_thing')
    """
    return FEATURE_LABELS.get(feature, (feature, ""))[0]


def feature_unit(feature: str) -> str:
    """Return the unit of a numeric feature (``""`` when none).

    Examples
    --------
    >>> feature_unit("ventilation_hours_per_day")
    'hours per day'
    """
    return FEATURE_LABELS.get(feature, (feature, ""))[1]
