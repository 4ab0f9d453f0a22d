"""Settings of the per-therapy effects stage (config group ``effects``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ARMS",
    "CONTRASTS",
    "EFFECT_ESTIMATORS",
    "OUTCOMES",
    "EffectsSpec",
    "EligibilityRule",
]

#: Therapies a patient in the cohort can start (an index event is a therapy start, so
#: "untreated" is never observed at an index: contrasts against it are not estimable here).
ARMS: tuple[str, ...] = ("nusinersen", "risdiplam", "onasemnogene")
#: Contrasts estimated, ``<therapy>_vs_<reference>``.
CONTRASTS: tuple[str, ...] = ("onasemnogene_vs_nusinersen", "risdiplam_vs_nusinersen")
#: Outcomes: 12-month change on the primary scale (while alive, observed scores), and a
#: meaningful gain (the run's responder label, under the run's estimand).
OUTCOMES: tuple[str, ...] = ("change", "response")
#: ``dr``: cross-fitted doubly robust learner with an honest causal forest as final stage
#: (EconML ``ForestDRLearner``: per-patient intervals); ``t`` and ``s``: T- and S-learners
#: (EconML metalearners; point estimates only, for comparison).
EFFECT_ESTIMATORS: tuple[str, ...] = ("dr", "t", "s")


@dataclass
class EligibilityRule:
    """Who a therapy's label allows, in one region (open bounds are ``None``).

    Attributes
    ----------
    min_age_months, max_age_months
        Age at the index date, months (inclusive).
    max_smn2_copies
        Most SMN2 copies the label allows (unknown copies: not an option).
    or_sma_types
        SMA types that qualify whatever the copy number (the EU onasemnogene label: type 1
        clinical diagnosis, or up to 3 copies).
    label
        The rule in words, shown where the therapy is not an option.
    """

    min_age_months: float | None = None
    max_age_months: float | None = None
    max_smn2_copies: int | None = None
    or_sma_types: list[str] = field(default_factory=list)
    label: str = ""


@dataclass
class EffectsSpec:
    """How per-therapy effects are estimated, guarded and scored.

    Attributes
    ----------
    enabled
        Estimate per-therapy effects in the training run (responder targets only).
    estimator
        One of :data:`EFFECT_ESTIMATORS`.
    reference
        The therapy every contrast is taken against.
    min_propensity
        Common support: a contrast is estimable for a patient only when the cross-fitted
        probability of receiving each of its two therapies is at least this.
    interval_level
        Nominal level of each patient's contrast interval.
    n_splits
        Patient-grouped folds of the nuisance models (cross-fitting) and of the propensities.
    n_estimators, min_samples_leaf
        Causal forest of the ``dr`` final stage.
    nuisance_trees, nuisance_depth
        Gradient-boosted nuisance models (outcome and propensity).
    eligibility
        ``region -> therapy -> rule`` (:class:`EligibilityRule` keys); a region not listed
        uses ``default``.
    """

    enabled: bool = True
    estimator: str = "dr"
    reference: str = "nusinersen"
    min_propensity: float = 0.05
    interval_level: float = 0.8
    n_splits: int = 5
    n_estimators: int = 400
    min_samples_leaf: int = 10
    nuisance_trees: int = 200
    nuisance_depth: int = 3
    eligibility: dict[str, dict[str, Any]] = field(default_factory=dict)
