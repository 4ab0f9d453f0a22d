"""Report languages: complete catalogues, locale numbers, right-to-left Arabic, Chromium and PDF."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from PIL import Image
from pypdf import PdfReader
from tests.report._chromium import chromium, load_page
from tests.report.conftest import synthetic_basis, synthetic_inputs

from sma_response.report.context import build_patient_context
from sma_response.report.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    catalogue_path,
    placeholders,
    use_language,
)
from sma_response.report.render import (
    render_family_html,
    render_index_html,
    render_patient_html,
    write_report,
)
from sma_response.report.spec import ReportSpec

ROOT = Path(__file__).parents[2]
needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="chromium not installed (.ci/run installs it)"
)


def _english_messages() -> set[str | tuple[str, ...]]:
    """Every message of the translated templates and Python wording, extracted now.

    The same extraction as ``make i18n-extract`` (``babel.cfg``, keywords ``_``, ``gettext``,
    ``ngettext`` and ``N_``).
    """
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    return {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords
        )
    }


def _key(message_id: str | tuple[str, ...]) -> str | tuple[str, ...]:
    return tuple(message_id) if isinstance(message_id, list | tuple) else message_id


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_english_message_has_a_complete_translation(language):
    """A new or changed English string without a translation fails here."""
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    entries = {_key(m.id): m for m in catalog if m.id}
    english = {_key(m) for m in _english_messages()}
    assert len(english) > 150
    assert english - set(entries) == set(), "run make i18n-update and translate"
    for msgid in english:
        entry = entries[msgid]
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        sources = msgid if isinstance(msgid, tuple) else (msgid,)
        assert all(strings), f"{language}: {msgid!r} is not translated"
        assert not entry.fuzzy, f"{language}: {msgid!r} is fuzzy"
        for string in strings:
            assert placeholders(string) == placeholders(sources[-1]), (language, msgid)
            assert string.count("%%") == sources[-1].count("%%"), (language, msgid)
    assert not catalog.fuzzy


def _report(language: str):
    """The synthetic patient's report, built in ``language``."""
    shap, patient, alternatives = synthetic_inputs()
    with use_language(language):
        return build_patient_context(
            shap, patient=patient, alternatives=alternatives, basis=synthetic_basis(),
            spec=ReportSpec(), created="2026-01-01",
        )  # fmt: skip


def test_the_committed_template_matches_the_templates():
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        committed = {_key(m.id) for m in read_po(pot) if m.id}
    assert committed == {_key(m) for m in _english_messages()}, "run make i18n-update"


def test_the_german_summary_writes_decimal_commas():
    html = render_family_html(_report("de"))
    assert '<html lang="de" dir="ltr">' in html
    assert "etwa +6,3 Punkte" in html  # expected change +6.3
    assert "zwischen +0,5 und +12,0" in html
    assert "72 %" in html
    assert "CHOP INTEND" in html  # the scale keeps its name
    assert "SHAP" not in html


def test_every_language_renders_the_same_numbers():
    """One set of numbers: each summary carries the clinician report's chance and change."""
    for language in LANGUAGES:
        html = render_family_html(_report(language))
        digits = re.sub(r"[^\d]", " ", html[html.index("<body>") :]).split()
        assert "72" in digits, language  # 72% chance
        assert "7" in digits, language  # about 7 in 10
        assert {"6", "3"} <= set(digits), language  # +6.3 (either decimal mark)


def test_the_index_page_is_translated(report):
    html = render_index_html(
        [report], run_id="runabc123", model_name="xgboost", created="2026-01-01",
        has_pdf=True, has_family=True, language="it",
    )  # fmt: skip
    assert "Referti dei pazienti" in html
    assert "+6,3 punti" in html
    assert f'href="{report.report_id}.family.html"' in html


def _longest_blank_share(image: Image.Image) -> float:
    """Longest run of blank rows inside the page's content, as a share of the content height."""
    rows = (np.asarray(image.convert("L")) < 200).any(axis=1)
    inked = np.flatnonzero(rows)
    content = rows[inked[0] : inked[-1] + 1]
    longest = run = 0
    for has_ink in content:
        run = 0 if has_ink else run + 1
        longest = max(longest, run)
    return longest / len(content)


@needs_chromium
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_report_and_summary_renders_in_chromium_without_errors_or_blank_regions(
    tmp_path, language
):
    paths = write_report(_report(language), tmp_path / "out", formats=["html"], family=True)
    assert [p.name.count(".family.") for p in paths] == [0, 1]
    for path in paths:
        page = load_page(path, user_data_dir=tmp_path / f"profile-{path.stem}")
        assert page["console"] == [], path.name
        assert page["exceptions"] == []
        assert page["requests"] == []
        assert page["scroll_width"] <= page["inner_width"], path.name
        image = Image.open(io.BytesIO(page["screenshot"]))
        assert image.height > 600
        assert _longest_blank_share(image) < 0.15, path.name


def _pdf_text(path: Path) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    return unicodedata.normalize("NFKC", text)


def test_the_arabic_report_and_summary_are_right_to_left_and_their_pdfs_read_back_arabic(
    tmp_path,
):
    paths = write_report(_report("ar"), tmp_path, formats=["html", "pdf"], family=True)
    for html in (p for p in paths if p.suffix == ".html"):
        assert '<html lang="ar" dir="rtl">' in html.read_text(encoding="utf-8")
    report_pdf, family_pdf = (p for p in paths if p.suffix == ".pdf")
    assert len(PdfReader(family_pdf).pages) == 1  # one page
    assert len(PdfReader(report_pdf).pages) <= 3
    for pdf, phrase in ((family_pdf, "فريق الرعاية"), (report_pdf, "خيارات العلاج")):
        text = _pdf_text(pdf)
        assert sum("\u0600" <= c <= "\u06ff" for c in text) > 200, pdf.name
        assert phrase in text or phrase[::-1] in text, pdf.name  # "care team", "therapy options"


def test_the_german_report_writes_decimal_commas_and_keeps_the_scale_names():
    html = render_patient_html(_report("de"))
    assert '<html lang="de" dir="ltr">' in html
    assert "+6,3 Punkte" in html
    assert "+0,5 bis +12,0 Punkte" in html
    assert "AUROC 0,78 (95%-KI 0,65 bis 0,88)" in html
    assert "CHOP INTEND" in html
    assert "Therapieoptionen" in html
    assert "Age at treatment start" not in html  # labels translated too
