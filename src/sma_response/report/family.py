"""The family summary: one plain-language page from the same numbers as the clinician report.

:func:`family_summary` reads a :class:`~sma_response.report.context.PatientReport` (nothing is
predicted again: one set of numbers) and keeps only what a family needs: the chance of a clear
improvement, the expected change and its likely range, how sure the estimate is, what it cannot
tell, and to talk it over with the care team. No SHAP, no model names, no jargon; the scale's
established name (CHOP INTEND, HFMSE, RULM) is kept, as on the clinician report.
"""

from __future__ import annotations

from dataclasses import dataclass

from sma_response.report.context import PatientReport

__all__ = ["FamilySummary", "family_summary"]


@dataclass(frozen=True)
class FamilySummary:
    """What the family summary shows (numbers formatted by the template, per language)."""

    report_id: str
    patient_id: str
    scale_name: str
    unit: str  # points | milestones
    meaningful_change: float | None
    probability: float | None
    in_ten: int | None  # of 10 patients like this one, how many would improve clearly
    expected_change: float | None
    lower: float | None
    upper: float | None
    composite: bool  # death or permanent ventilation counts as no improvement
    less_certain: bool  # the clinician report flags the prediction
    created: str
    run_id: str


def family_summary(report: PatientReport) -> FamilySummary:
    """Return the family summary of one clinician report (pure).

    Examples
    --------
    >>> from sma_response.report.context import PatientReport
    >>> r = PatientReport(report_id="0123456789abcdef", patient_id="0123456789abcdef",
    ...     index_id="0123456789abcdef#1", source="new", task="classification", scale="hfmse",
    ...     scale_name="HFMSE", unit="points", meaningful_change=3.0, baseline_score=20.0,
    ...     probability=0.64, expected_change=2.5, lower=-2.0, upper=7.0, level=0.8,
    ...     interval_note="", facts=[], factors_up=[], factors_down=[], positions=[], flags=[],
    ...     performance=[], coverage_text="", alternatives=[], provenance={"run_id": "abc",
    ...     "created": "2026-12-07"}, explain={})
    >>> s = family_summary(r)
    >>> s.in_ten, s.less_certain, s.created
    (6, False, '2026-12-07')
    """
    probability = report.probability
    return FamilySummary(
        report_id=report.report_id,
        patient_id=report.patient_id,
        scale_name=report.scale_name,
        unit="milestones" if report.unit == "milestones" else "points",
        meaningful_change=report.meaningful_change,
        probability=probability,
        in_ten=None if probability is None else round(10 * probability),
        expected_change=report.expected_change,
        lower=report.lower,
        upper=report.upper,
        composite=report.estimand == "composite" and probability is not None,
        less_certain=bool(report.flags),
        created=str(report.provenance.get("created", "")),
        run_id=str(report.provenance.get("run_id", ""))[:12],
    )
