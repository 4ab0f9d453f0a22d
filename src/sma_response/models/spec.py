"""Typed settings of validation (plain, non-frozen dataclass: STYLE rule 8)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TASKS", "VALIDATION_KINDS", "ValidationSpec"]

VALIDATION_KINDS = ("grouped_kfold", "loro", "holdout")
TASKS = ("classification", "regression")


@dataclass
class ValidationSpec:
    """How index events are split for validation; always grouped by linked person.

    Attributes
    ----------
    kind
        ``grouped_kfold``: (stratified) k-fold grouped by person, repeated ``n_repeats``
        times with different shuffles. ``loro``: leave one region out, each region one fold
        (internal-external validation; ``n_repeats`` is ignored, the split is not random).
        ``holdout``: one grouped (stratified) test split of about ``test_fraction``.
    n_splits
        Folds of ``grouped_kfold``.
    n_repeats
        Repeats of ``grouped_kfold`` and ``holdout``.
    test_fraction
        Share of index events held out by ``holdout``.
    stratify
        Balance the target across folds (classes; quintiles of a continuous target).
    confirmation
        Share of persons reserved before any split (grouped by person, stratified, chosen by
        the run's seed alone, so every run of a sweep reserves the same ones): they are
        neither fitted on nor validated in the folds, and the final model is scored on them
        once (``confirm/*``). For a tuned model the folds' figures are those the search
        selected on; ``confirm/*`` is the held-out confirmation. ``0``: none (the default).
    """

    kind: str = "grouped_kfold"
    n_splits: int = 5
    n_repeats: int = 1
    test_fraction: float = 0.2
    stratify: bool = True
    confirmation: float = 0.0
