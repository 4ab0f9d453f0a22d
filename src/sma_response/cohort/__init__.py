"""Cohort stage: index events, labels and attrition from the common data model."""

from __future__ import annotations

from sma_response.cohort.build import build_cohort, cohort_exclusions
from sma_response.cohort.spec import CohortSpec, TargetSpec
from sma_response.cohort.target import define_target

__all__ = ["CohortSpec", "TargetSpec", "build_cohort", "cohort_exclusions", "define_target"]
