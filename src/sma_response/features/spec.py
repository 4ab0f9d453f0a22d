"""Typed settings of the feature stage (plain, non-frozen dataclass: STYLE rule 8)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sma_response.cohort.spec import PRIMARY_SCALES
from sma_response.schemas import SCALE_CODES

__all__ = ["ALL_FEATURES", "DEFAULT_FEATURES", "FeatureSpec"]

#: Every feature :func:`~sma_response.features.engineer.make_features` knows, in output order.
#: Ages and durations in months; scores in scale points; ``*_slope_per_year`` in points per year.
ALL_FEATURES: tuple[str, ...] = (
    "age_at_index_months",
    "onset_age_months",
    "disease_duration_months",
    "sma_type",
    "smn2_copies",
    "sex",
    "presymptomatic",
    "therapy",
    "line",
    "prior_therapy",
    *(f"baseline_{scale}" for scale in SCALE_CODES),
    "baseline_primary_scale",
    "baseline_primary_score",
    "function_at_baseline",
    "primary_slope_per_year",
    "ventilation_hours_per_day",
    "feeding_tube",
    "scoliosis_surgery",
)

#: The default set: everything known at the index date (region is opt-in, ``include_region``).
DEFAULT_FEATURES: tuple[str, ...] = ALL_FEATURES


@dataclass
class FeatureSpec:
    """Which features to compute and the look-back windows they use.

    Attributes
    ----------
    features
        Feature names, a subset of :data:`ALL_FEATURES` (output keeps this order).
    include_region
        Add the patient's region as a categorical feature (off by default: a model that
        leans on region transports badly to a new region).
    baseline_window_days
        Look-back for baseline scores and function (days); keep equal to the cohort's.
    slope_window_days
        Look-back for the pre-index slope of the primary scale (days; 730 = 2 years).
    slope_min_span_days
        Shortest time between first and last assessment for a slope (days); shorter spans
        give a NaN slope rather than a noisy one.
    primary_scales
        Primary scale by function at baseline; keep equal to the target's.
    """

    features: list[str] = field(default_factory=lambda: list(DEFAULT_FEATURES))
    include_region: bool = False
    baseline_window_days: float = 180.0
    slope_window_days: float = 730.0
    slope_min_span_days: float = 90.0
    primary_scales: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in PRIMARY_SCALES.items()}
    )
