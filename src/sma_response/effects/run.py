"""The effects stage of a training run: estimate, guard, score, summarise (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from sma_response.effects.eligibility import eligible_options
from sma_response.effects.estimate import estimate_effects
from sma_response.effects.overlap import overlap_figure, overlap_table
from sma_response.effects.score import apply_eligibility, e_values, policy_regret, score_effects
from sma_response.effects.spec import ARMS, EffectsSpec
from sma_response.features.design import Design, observed_change

__all__ = ["EffectsResult", "effects_of_design", "run_effects"]


@dataclass
class EffectsResult:
    """Per-therapy estimates of a run, their guards and (on synthetic data) their score."""

    estimates: pd.DataFrame  # index_id, outcome, contrast, estimate, lower, upper, status
    eligibility: pd.DataFrame  # index_id x therapy: the label allows it
    rules: pd.DataFrame  # index_id x therapy: the rule's words where the label does not allow it
    support_estimates: pd.DataFrame  # estimates before the label (blank outside support only)
    propensity: pd.DataFrame  # index_id x therapy: held-out propensity
    overlap: pd.DataFrame  # per therapy: starts, effective n, share in support
    population: pd.DataFrame  # per outcome and contrast: average contrast, E-values
    scores: pd.DataFrame  # per outcome and contrast: PEHE and references (empty: no truth)
    spec: EffectsSpec = field(default_factory=EffectsSpec)
    adjusted_for: list[str] = field(default_factory=list)  # the features the contrasts adjust for
    metrics: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)


def run_effects(
    features: pd.DataFrame,
    outcomes: dict[str, pd.Series],
    patients: pd.Series,
    regions: pd.Series,
    *,
    spec: EffectsSpec,
    seed: int,
    truth: dict[str, pd.DataFrame] | None = None,
) -> EffectsResult:
    """Estimate every contrast, blank it outside support and label, score it against the truth.

    Parameters
    ----------
    features
        The run's feature frame (indexed by ``index_id``).
    outcomes
        ``change`` and/or ``response`` per index event (missing where not observed).
    patients, regions
        Patient (fold groups) and region (eligibility rules) of each index event.
    spec, seed
        Settings.
    truth
        :func:`sma_response.evaluate.oracle.option_truth` (synthetic data only; never fitted).
    """
    fitted = estimate_effects(features, outcomes, patients, spec=spec, seed=seed)
    eligible, rules = eligible_options(features, regions, spec.eligibility)
    estimates = apply_eligibility(fitted.estimates, eligible, spec.reference)
    population = fitted.population.merge(
        e_values(fitted.population)[["outcome", "contrast", "e_value", "e_value_interval"]],
        on=["outcome", "contrast"],
    )
    overlap = overlap_table(fitted.propensity.to_numpy(), fitted.therapy, spec.min_propensity)
    estimated = estimates["status"] == "estimated"
    outside = estimates["estimate"].notna() & (~estimates["in_support"] | ~estimated)
    metrics = {
        "effects/share_in_support": float(estimated.mean()),
        "effects/estimates_outside_support": float(outside.sum()),
    }
    for row in overlap.itertuples(index=False):
        metrics[f"effects/overlap/{row.therapy}/effective_n"] = float(row.effective_n)
    for row in population.itertuples(index=False):
        base = f"effects/{row.outcome}/{row.contrast}"
        metrics[f"{base}/average"] = float(row.ate)
        metrics[f"{base}/e_value"] = float(row.e_value)
    scores = pd.DataFrame()
    if truth:
        found, scores = score_effects(
            estimates, truth, Z=fitted.covariates, groups=patients, seed=seed
        )
        metrics.update(found)
        if "response" in truth and "response" in outcomes:
            metrics.update(
                policy_regret(
                    estimates, truth["response"][list(ARMS)], eligible, population,
                    outcome="response", reference=spec.reference,
                )
            )  # fmt: skip
    figure = overlap_figure(fitted.propensity.to_numpy(), fitted.therapy, spec.min_propensity)
    return EffectsResult(
        estimates=estimates,
        eligibility=eligible,
        rules=rules,
        support_estimates=fitted.estimates,
        propensity=fitted.propensity,
        overlap=overlap,
        population=population,
        scores=scores,
        spec=spec,
        adjusted_for=[str(c) for c in features.columns if c != "therapy"],
        metrics=metrics,
        figures={"effects/overlap.png": figure},
    )


def effects_of_design(
    design: Design,
    regions: pd.Series,
    *,
    spec: EffectsSpec,
    seed: int,
    truth: dict[str, pd.DataFrame] | None = None,
) -> EffectsResult | None:
    """Run :func:`run_effects` on a training run's design (``None`` without responder labels).

    The outcomes are the observed 12-month change on the outcome scale and the run's
    responder label; folds group the linked patient; ``regions`` picks the label rules.
    """
    X, targets, y = design.X, design.targets, design.y
    if targets is None or y is None:
        return None
    cohort = design.cohort.set_index("index_id").reindex(X.index)
    outcomes = {"change": observed_change(targets, X.index), "response": y.astype(float)}
    return run_effects(
        X, outcomes, cohort["linked_id"], regions.reindex(X.index), spec=spec, seed=seed,
        truth=truth,
    )  # fmt: skip
