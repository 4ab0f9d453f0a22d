"""Typed settings of the cohort stage: index events (``CohortSpec``) and labels (``TargetSpec``).

Plain, non-frozen dataclasses so Hydra can compose into them (STYLE rule 8).

The clinical definitions used by both live here too, in one place: the meaningful change of each
motor scale and the primary scale chosen by function at baseline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ESTIMANDS",
    "FUNCTION_LEVELS",
    "INDEX_KINDS",
    "MEANINGFUL_CHANGE",
    "PRIMARY_SCALES",
    "SCALE_CHANGE_RULES",
    "TARGET_KINDS",
    "CohortSpec",
    "TargetSpec",
]

INDEX_KINDS = ("first_start", "every_start")
TARGET_KINDS = ("responder", "delta", "milestone_gain")
#: What a death or permanent ventilation inside the outcome window does to the label.
#: ``composite`` (treatment policy): the event is non-response (target 0), for binary targets;
#: ``while_alive``: the label is read from the scores alone, so an event without a later score
#: leaves the index event unlabelled (the target is conditioned on survival).
ESTIMANDS = ("composite", "while_alive")
#: What a baseline on CHOP INTEND with only another scale at the outcome visit gives.
#: ``sitting``: responder when independent sitting is recorded after the index and by the
#: outcome visit (the gain that moves a child off CHOP INTEND), otherwise unlabelled;
#: ``exclude``: unlabelled (the rule of runs logged before the estimand was configurable).
SCALE_CHANGE_RULES = ("sitting", "exclude")
#: Motor function at baseline, from weakest to strongest.
FUNCTION_LEVELS = ("non_sitter", "sitter", "walker")

#: Smallest change (points; metres for the 6MWT) that counts as a clinically meaningful gain.
#: Sources: SMA_FACTS section 2 (ENDEAR for CHOP INTEND, CHERISH for HFMSE, RULM >= 2); RHS has no
#: formal value and takes HFMSE's by analogy. HINE-2, MFM32 and 6MWT are used only by ``delta``
#: targets and summaries.
MEANINGFUL_CHANGE: dict[str, float] = {
    "chop_intend": 4.0,
    "hine2": 2.0,
    "hfmse": 3.0,
    "rhs": 3.0,
    "rulm": 2.0,
    "mfm32": 3.0,
    "6mwt": 30.0,
}

#: Primary scale by function at baseline: the first scale in the list with a baseline score.
#: CHOP INTEND for non-sitters; HFMSE for sitters and walkers, RHS then RULM where HFMSE is missing
#: (DESIGN section 5). Two last resorts keep patients whom clinics score on another scale by
#: design: RULM for non-sitters without CHOP INTEND (weak adults are rarely scored on an infant
#: scale), and CHOP INTEND for sitters under 2 years (HFMSE, RHS and RULM start at 2-2.5 years).
PRIMARY_SCALES: dict[str, list[str]] = {
    "non_sitter": ["chop_intend", "rulm"],
    "sitter": ["hfmse", "rhs", "rulm", "chop_intend"],
    "walker": ["hfmse", "rhs", "rulm"],
}


@dataclass
class CohortSpec:
    """Who enters the analysis cohort, and at which index event.

    Attributes
    ----------
    index
        ``first_start``: the first therapy start of each patient (line 1) is the index;
        ``every_start``: every start, switches included, is an index event of its own.
    baseline_window_days
        Look-back from the index for the baseline assessment (days, inclusive).
    outcome_days
        Time from index to the outcome assessment (days; 365 = 12 months).
    outcome_tolerance_days
        The outcome assessment is the one nearest to ``index + outcome_days`` within +- this.
    therapies
        Therapies whose start can be an index event (default: all three).
    min_index_age_days, max_index_age_days
        Inclusive bounds on age at index (days); ``None``: open.
    require_baseline_score
        Keep only index events with at least one motor score in the baseline window. This is
        what removes patient-reported registries (milestone checklists, no scales).
    deduplicate_linked
        Keep one registry record per linked person (the one with the most assessments), so a
        person shared between registries is not counted twice.
    """

    index: str = "first_start"
    baseline_window_days: float = 180.0
    outcome_days: float = 365.0
    outcome_tolerance_days: float = 90.0
    therapies: list[str] = field(
        default_factory=lambda: ["nusinersen", "risdiplam", "onasemnogene"]
    )
    min_index_age_days: float | None = None
    max_index_age_days: float | None = None
    require_baseline_score: bool = True
    deduplicate_linked: bool = True


@dataclass
class TargetSpec:
    """The label of each index event.

    Attributes
    ----------
    kind
        ``responder``: 1 when the primary scale gains at least its meaningful change
        (:data:`MEANINGFUL_CHANGE`) from baseline to outcome, else 0. ``delta``: outcome minus
        baseline score on ``scale`` (regression). ``milestone_gain``: 1 when a motor milestone
        not held at baseline is held at the outcome assessment, else 0.
    scale
        Scale of a ``delta`` target (e.g. ``hfmse``); ``None`` for the other kinds, or
        ``"primary"`` for the change on the primary scale.
    primary_scales
        Primary scale by function at baseline (first one with a baseline score wins).
    estimand
        One of :data:`ESTIMANDS`. The shipped configs use ``composite`` for ``responder`` and
        ``milestone_gain`` and ``while_alive`` for ``delta`` (a change has no value for a
        child who died). The dataclass default, ``while_alive``, is the rule of runs logged
        before the key existed, so that they reproduce.
    scale_change
        One of :data:`SCALE_CHANGE_RULES` (``responder`` only; shipped config: ``sitting``;
        dataclass default ``exclude`` for the same reason).
    """

    kind: str = "responder"
    scale: str | None = None
    primary_scales: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in PRIMARY_SCALES.items()}
    )
    estimand: str = "while_alive"
    scale_change: str = "exclude"
