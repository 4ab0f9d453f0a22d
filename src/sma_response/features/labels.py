"""Plain clinical names, units and value wording of every feature (for plots and reports).

Kept beside the feature definitions so that a new feature gets its label where it is made.
"""

from __future__ import annotations

from sma_response.schemas import SCALE_CODES

__all__ = [
    "FEATURE_LABELS",
    "LEVEL_LABELS",
    "N_",
    "SCALE_NAMES",
    "feature_label",
    "feature_unit",
]


def N_(message: str) -> str:
    """Mark an English label for the report catalogues (translated where it is shown)."""
    return message


#: Scale names as clinicians write them (SMA_FACTS section 2).
SCALE_NAMES: dict[str, str] = {
    "chop_intend": "CHOP INTEND",
    "hine2": "HINE-2",
    "hfmse": "HFMSE",
    "rhs": "RHS",
    "rulm": "RULM",
    "mfm32": "MFM32",
    "6mwt": N_("6-minute walk test"),
    "milestones": N_("motor milestones"),
}

#: ``feature -> (label, unit)``; unit ``""`` for categories and counts, ``"yes/no"`` for flags.
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "age_at_index_months": (N_("Age at treatment start"), "months"),
    "onset_age_months": (N_("Age at first symptoms"), "months"),
    "disease_duration_months": (N_("Time from first symptoms to treatment"), "months"),
    "sma_type": (N_("SMA type"), ""),
    "smn2_copies": (N_("SMN2 copies"), "copies"),
    "sex": (N_("Sex"), ""),
    "presymptomatic": (N_("Treated before symptoms (newborn screening)"), "yes/no"),
    "therapy": (N_("Therapy started"), ""),
    "line": (N_("Treatment line"), ""),
    "prior_therapy": (N_("Previous therapy"), ""),
    **{
        f"baseline_{s}": (f"{SCALE_NAMES[s]} score at start", "metres" if s == "6mwt" else "points")
        for s in SCALE_CODES
    },
    "baseline_primary_scale": (N_("Main motor scale at start"), ""),
    "baseline_primary_score": (N_("Main motor score at start"), "points"),
    "function_at_baseline": (N_("Motor function at start"), ""),
    "primary_slope_per_year": (
        N_("Change in main motor score before treatment"),
        "points per year",
    ),
    "ventilation_hours_per_day": (N_("Ventilation support"), "hours per day"),
    "feeding_tube": (N_("Feeding tube"), "yes/no"),
    "scoliosis_surgery": (N_("Scoliosis surgery before start"), "yes/no"),
    "region": (N_("Region"), ""),
}

#: Wording of categorical levels.
LEVEL_LABELS: dict[str, dict[str, str]] = {
    "sex": {"F": N_("female"), "M": N_("male")},
    "therapy": {
        "nusinersen": "nusinersen",
        "risdiplam": "risdiplam",
        "onasemnogene": "onasemnogene abeparvovec",
    },
    "prior_therapy": {
        "none": N_("none"),
        "nusinersen": "nusinersen",
        "risdiplam": "risdiplam",
        "onasemnogene": "onasemnogene abeparvovec",
    },
    "baseline_primary_scale": dict(SCALE_NAMES),
    "function_at_baseline": {
        "non_sitter": N_("not sitting"),
        "sitter": N_("sitting, not walking"),
        "walker": N_("walking"),
    },
    "sma_type": {"3": N_("3 (subtype unknown)")},
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
