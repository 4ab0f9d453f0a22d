"""Report languages: complete catalogues, locale numbers, right-to-left Arabic, Chromium and PDF."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract
from PIL import Image
from pypdf import PdfReader
from tests.report._chromium import chromium, load_page

from sma_response.report.i18n import LANGUAGES, LOCALE_DIR, catalogue_path, placeholders
from sma_response.report.render import render_family_html, render_index_html, write_report

TEMPLATES = Path(__file__).parents[2] / "src" / "sma_response" / "report" / "templates"
TRANSLATED = ("family.html.j2", "index.html.j2")
needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="chromium not installed (.ci/run installs it)"
)


def _english_messages() -> set[str]:
    """Every message of the translated templates, extracted now (as make i18n-extract does)."""
    found = set()
    for name in TRANSLATED:
        with (TEMPLATES / name).open("rb") as fileobj:
            for _, message, _, _ in extract(
                babel_extract, fileobj, options={"extensions": "jinja2.ext.i18n", "trimmed": "true"}
            ):
                found.add(message)
    return found


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_english_message_has_a_complete_translation(language):
    """A new or changed English string without a translation fails here."""
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    entries = {m.id: m for m in catalog if m.id}
    english = _english_messages()
    assert english - set(entries) == set(), "run make i18n-update and translate"
    for msgid in english:
        entry = entries[msgid]
        assert entry.string, f"{language}: {msgid!r} is not translated"
        assert not entry.fuzzy, f"{language}: {msgid!r} is fuzzy"
        assert placeholders(entry.string) == placeholders(msgid), (language, msgid)
    assert not catalog.fuzzy


def test_the_committed_template_matches_the_templates():
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        assert {m.id for m in read_po(pot) if m.id} == _english_messages()


def test_the_german_summary_writes_decimal_commas(report):
    html = render_family_html(report, "de")
    assert '<html lang="de" dir="ltr">' in html
    assert "etwa +6,3 Punkte" in html  # expected change +6.3
    assert "zwischen +0,5 und +12,0" in html
    assert "72 %" in html
    assert "CHOP INTEND" in html  # the scale keeps its name
    assert "SHAP" not in html


def test_every_language_renders_the_same_numbers(report):
    """One set of numbers: each summary carries the clinician report's chance and change."""
    for language in LANGUAGES:
        html = render_family_html(report, language)
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
def test_each_summary_renders_in_chromium_without_errors_or_blank_regions(
    report, tmp_path, language
):
    paths = write_report(report, tmp_path / "out", formats=["html"], family_language=language)
    family = next(p for p in paths if p.name.endswith(".family.html"))
    page = load_page(family, user_data_dir=tmp_path / "profile")
    assert page["console"] == []
    assert page["exceptions"] == []
    assert page["requests"] == []
    assert page["scroll_width"] <= page["inner_width"]
    image = Image.open(io.BytesIO(page["screenshot"]))
    assert image.height > 600
    assert _longest_blank_share(image) < 0.15


def test_the_arabic_summary_is_right_to_left_and_its_pdf_reads_back_arabic(report, tmp_path):
    paths = write_report(report, tmp_path, formats=["html", "pdf"], family_language="ar")
    html = next(p for p in paths if p.name.endswith(".family.html")).read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in html
    pdf = next(p for p in paths if p.name.endswith(".family.pdf"))
    reader = PdfReader(pdf)
    assert len(reader.pages) == 1  # one page
    text = unicodedata.normalize("NFKC", " ".join(p.extract_text() for p in reader.pages))
    arabic = [c for c in text if "\u0600" <= c <= "\u06ff"]
    assert len(arabic) > 200
    assert "فريق الرعاية" in text or "فريق الرعاية"[::-1] in text  # "the care team"
