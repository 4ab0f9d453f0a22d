"""Pure step two of a report: :class:`~sma_response.report.context.PatientReport` to files.

One Jinja2 environment (templates in ``report/templates/``, autoescaped) renders
self-contained HTML: inline CSS and SVG, a content security policy that forbids every network
request, readable on a phone and printable on A4. The PDF is the same HTML through WeasyPrint,
with a URL fetcher that refuses everything but ``data:`` URLs. Files are named by pseudonymous
id only and written atomically.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sma_response._utils.io import atomic_path, atomic_write_text
from sma_response.report.context import PatientReport
from sma_response.report.family import family_summary
from sma_response.report.figures import change_svg, factors_svg, position_svg, probability_svg
from sma_response.report.i18n import LocaleFormat, gettext, translations, use_language

__all__ = [
    "family_file",
    "page_css",
    "render_family_html",
    "render_index_html",
    "render_patient_html",
    "render_pdf",
    "template_environment",
    "write_report",
]

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def template_environment(language: str = "en") -> Environment:
    """Return the Jinja2 environment of one report language (autoescaped, strict, gettext)."""
    env = Environment(
        loader=PackageLoader("sma_response", "report/templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    fmt = LocaleFormat(language)
    env.globals.update(f=fmt, lang=language, dir=fmt.direction)
    return env


def family_file(report_id: str, suffix: str) -> str:
    """File name of a family summary (``<report_id>.family.html`` / ``.pdf``)."""
    return f"{report_id}.family.{suffix}"


def render_family_html(report: PatientReport) -> str:
    """Render the one-page family summary of a report, in the report's language."""
    return (
        template_environment(report.language)
        .get_template("family.html.j2")
        .render(s=family_summary(report))
    )


def _figures(report: PatientReport) -> dict[str, object]:
    factors = [(f.label, f.shap) for f in report.factors_up] + [
        (f.label, f.shap) for f in report.factors_down
    ]
    change = ""
    if report.expected_change is not None and report.lower is not None and report.upper is not None:
        change = change_svg(
            report.expected_change,
            report.lower,
            report.upper,
            meaningful=report.meaningful_change,
            unit=report.unit_text,
        )
    return {
        "probability": probability_svg(report.probability)
        if report.probability is not None
        else "",
        "change": change,
        "factors": factors_svg(sorted(factors, key=lambda t: -t[1])),
        "positions": [position_svg(p.quantiles, p.value, flag=p.flag) for p in report.positions],
    }


def render_patient_html(report: PatientReport) -> str:
    """Render the report as one self-contained HTML page.

    Examples
    --------
    >>> from sma_response.report.context import PatientReport
    >>> r = PatientReport(report_id="0123456789abcdef", patient_id="0123456789abcdef",
    ...     index_id="0123456789abcdef#1", source="new", task="classification", scale="hfmse",
    ...     scale_name="HFMSE", unit="points", meaningful_change=3.0, baseline_score=20.0,
    ...     probability=0.6, expected_change=2.5, lower=-2.0, upper=7.0, level=0.8,
    ...     interval_note="", facts=[], factors_up=[], factors_down=[], positions=[], flags=[],
    ...     performance=[], coverage_text="", alternatives=[], provenance={"run_id": "abc"},
    ...     explain={}, headline="60% chance")
    >>> html = render_patient_html(r)
    >>> "60%" in html and "abc" in html and "http://" not in html.replace("http://www.w3.org", "")
    True
    """
    with use_language(report.language):
        figures = _figures(report)
        page = page_css(report)
    return (
        template_environment(report.language)
        .get_template("patient.html.j2")
        .render(r=report, figs=figures, page_css=page)
    )


def _css_string(text: str) -> str:
    """Quote text as a CSS string (backslashes and double quotes escaped, no line breaks)."""
    flat = text.replace("\n", " ").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{flat}"'


_PAGE_COUNTERS = {"%(page)s": "counter(page)", "%(pages)s": "counter(pages)"}


def page_css(report: PatientReport) -> Markup:
    """Write the printed report's running header and footer (``@page`` margin boxes).

    Every page after the first names the pseudonymous id (top left) and the run (top right);
    every page says "page x of y" (bottom). Text in the report's language.

    Examples
    --------
    >>> from types import SimpleNamespace  # only the id and the run are read
    >>> r = SimpleNamespace(patient_id="0123456789abcdef", provenance={"run_id": "abc"})
    >>> 'content: "Page " counter(page) " of " counter(pages);' in page_css(r)
    True
    """
    parts = re.split(r"(%\(pages?\)s)", gettext("Page %(page)s of %(pages)s"))
    pages = " ".join(_PAGE_COUNTERS.get(part) or _css_string(part) for part in parts if part)
    who = _css_string(gettext("Pseudonymous id %(id)s") % {"id": report.patient_id})
    run = _css_string(f"{gettext('Run id')} {str(report.provenance.get('run_id', ''))[:12]}")
    small = 'font: 7.5pt "DejaVu Sans", sans-serif; color: #666;'
    return Markup(
        f"@page {{ @bottom-center {{ content: {pages}; {small} }}"
        f" @top-left {{ content: {who}; {small} }} @top-right {{ content: {run}; {small} }} }}\n"
        "@page :first { @top-left { content: none; } @top-right { content: none; } }"
    )


def render_index_html(
    reports: Sequence[PatientReport],
    *,
    run_id: str,
    model_name: str,
    created: str,
    has_pdf: bool,
    has_family: bool = False,
    language: str = "en",
) -> str:
    """Render an index page listing a run's reports (links to the files beside it)."""
    return (
        template_environment(language)
        .get_template("index.html.j2")
        .render(
            reports=list(reports),
            run_id=run_id,
            model_name=model_name,
            created=created,
            has_pdf=has_pdf,
            has_family=has_family,
        )
    )


def _refuse_fetch() -> object:
    from weasyprint import URLFetcher

    return URLFetcher(allowed_protocols={"data"})


def render_pdf(html: str, path: Path) -> Path:
    """Write the HTML as an A4 PDF with WeasyPrint (atomic; no resource is fetched).

    Parameters
    ----------
    html
        Self-contained HTML from :func:`render_patient_html`.
    path
        Destination ``.pdf``; its folder must exist.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from weasyprint import HTML

    document = HTML(string=html, base_url=None, url_fetcher=_refuse_fetch())
    with atomic_path(path) as tmp:
        document.write_pdf(tmp, pdf_identifier=b"sma-response", uncompressed_pdf=False)
    return path


def write_report(
    report: PatientReport,
    folder: Path,
    *,
    formats: Sequence[str],
    family: bool = False,
) -> list[Path]:
    """Write one patient's report as ``<report_id>.html`` and/or ``.pdf`` in ``folder``.

    With ``family``, also the family summary (``<report_id>.family.html`` / ``.pdf``, the same
    formats), in the report's language.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    html = render_patient_html(report)
    out = []
    if "html" in formats:
        out.append(atomic_write_text(folder / f"{report.report_id}.html", html))
    if "pdf" in formats:
        out.append(render_pdf(html, folder / f"{report.report_id}.pdf"))
    if family:
        summary = render_family_html(report)
        if "html" in formats:
            out.append(atomic_write_text(folder / family_file(report.report_id, "html"), summary))
        if "pdf" in formats:
            out.append(render_pdf(summary, folder / family_file(report.report_id, "pdf")))
    log.info("report %s: %s", report.report_id, ", ".join(p.suffix for p in out))
    return out
