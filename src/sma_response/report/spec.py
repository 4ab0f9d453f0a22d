"""Typed settings of the per-patient reports (plain, non-frozen dataclass: STYLE rule 8)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["INTERVAL_GROUPS", "REPORT_FORMATS", "ReportError", "ReportSpec"]

REPORT_FORMATS = ("html", "pdf")
#: Groups after the scale that an interval cell may use (``ReportSpec.interval_groups``).
INTERVAL_GROUPS = ("age_band", "therapy", "sma_type")


class ReportError(Exception):
    """The reports cannot be made for a reason the user can fix (one line, no traceback)."""


@dataclass
class ReportSpec:
    """What the per-patient reports show and how they are written.

    Attributes
    ----------
    enabled
        Write example reports in the training run and log them (``reports/``).
    n_examples
        Example patients reported when none are chosen: the held-out patients with the lowest,
        middle and highest predicted outcome (and evenly between for more).
    formats
        Subset of :data:`REPORT_FORMATS`.
    top_k
        Factors listed in each direction (raising, lowering).
    interval_level
        Nominal coverage of the per-patient interval of the predicted change (0.8 = 80 %).
    interval_min_n
        Smallest number of held-out residuals behind an interval: a cell with fewer uses the
        next coarser cell, and a scale with fewer uses all scales together.
    interval_groups
        Groups after the scale that make an interval's cell (Mondrian conformal prediction):
        any of ``age_band``, ``therapy``, ``sma_type``, finest last; empty: one cell per scale.
    min_subgroup_n
        Training patients below which a subgroup, category or therapy-by-age cell is "rare"
        and flagged in the report.
    n_jobs
        Processes rendering reports in parallel (PDF rendering is the slow part).
    tripod
        Write the run's TRIPOD+AI report (``report/tripod_ai.md``, ``.html``, ``.pdf``).
    family_summary
        Write each patient's one-page family summary beside the report
        (``<id>.family.html`` / ``.pdf``).
    language
        Language of the family summaries and the index page (one of
        :data:`~sma_response.report.i18n.LANGUAGES`); ``None``: each patient's region's
        language from ``region_languages`` (English for a region not listed). The clinician
        report itself is in English.
    region_languages
        Default language per region.
    """

    enabled: bool = True
    n_examples: int = 3
    formats: list[str] = field(default_factory=lambda: list(REPORT_FORMATS))
    top_k: int = 4
    interval_level: float = 0.8
    interval_min_n: int = 30
    interval_groups: list[str] = field(default_factory=lambda: ["age_band", "sma_type", "therapy"])
    min_subgroup_n: int = 20
    n_jobs: int = 1
    tripod: bool = True
    family_summary: bool = True
    language: str | None = None
    region_languages: dict[str, str] = field(
        default_factory=lambda: {"DE": "de", "IT": "it", "NL": "nl", "US": "en"}
    )

    def language_of(self, region: str) -> str:
        """Return the family summary language of a patient of ``region``.

        Examples
        --------
        >>> ReportSpec().language_of("IT"), ReportSpec(language="ar").language_of("IT")
        ('it', 'ar')
        """
        return self.language or self.region_languages.get(region, "en")
