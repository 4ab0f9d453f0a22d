"""Per-therapy effects: which therapy for this patient, with overlap guards and the truth's score.

Causal questions on observational registry data (DESIGN section 5): a cross-fitted doubly robust
learner per contrast, propensities and common support per patient, label eligibility per region,
and (on synthetic data) the estimates scored against the simulator's per-patient truth.
"""

from __future__ import annotations

from sma_response.effects.eligibility import eligible_options
from sma_response.effects.estimate import EffectEstimates, estimate_effects, treatment_codes
from sma_response.effects.overlap import (
    cross_fitted_propensity,
    in_support,
    overlap_figure,
    overlap_table,
)
from sma_response.effects.run import EffectsResult, effects_of_design, run_effects
from sma_response.effects.score import apply_eligibility, e_values, policy_regret, score_effects
from sma_response.effects.spec import (
    ARMS,
    CONTRASTS,
    EFFECT_ESTIMATORS,
    OUTCOMES,
    EffectsSpec,
    EligibilityRule,
)

__all__ = [
    "ARMS",
    "CONTRASTS",
    "EFFECT_ESTIMATORS",
    "OUTCOMES",
    "EffectEstimates",
    "EffectsResult",
    "EffectsSpec",
    "EligibilityRule",
    "apply_eligibility",
    "cross_fitted_propensity",
    "e_values",
    "effects_of_design",
    "eligible_options",
    "estimate_effects",
    "in_support",
    "overlap_figure",
    "overlap_table",
    "policy_regret",
    "run_effects",
    "score_effects",
    "treatment_codes",
]
