"""Report languages: gettext catalogues (Babel) and locale-aware numbers and dates.

The catalogues live in ``report/locales/<language>/LC_MESSAGES/messages.po`` (committed; the
template ``messages.pot`` beside them is extracted from the templates with ``make i18n-extract``
and merged into every catalogue with ``make i18n-update``). They are compiled in memory when a
language is first used (``make i18n-compile`` writes ``.mo`` files too, for checking), so a
fresh checkout needs no build step. English is the source language: its catalogue is empty and
every message is its own translation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib.resources import files
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

__all__ = [
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "RTL_LANGUAGES",
    "LocaleFormat",
    "catalogue_path",
    "check_language",
    "check_report_languages",
    "current_format",
    "current_language",
    "gettext",
    "ngettext",
    "placeholders",
    "translations",
    "use_language",
]

#: Report languages: English (source), German, Italian, French, Spanish, Dutch, Arabic.
LANGUAGES: tuple[str, ...] = ("en", "de", "it", "fr", "es", "nl", "ar")
#: Languages written right to left.
RTL_LANGUAGES: frozenset[str] = frozenset({"ar"})
#: Where the catalogues are (inside the package, so an installed package has them).
LOCALE_DIR = Path(str(files("sma_response") / "report" / "locales"))
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def check_language(language: str, *, key: str = "report.language") -> str:
    """Return ``language`` if it is a report language; raise ``ValueError`` naming ``key``.

    Examples
    --------
    >>> check_language("de")
    'de'
    """
    if language not in LANGUAGES:
        msg = f"{key}: unknown language {language!r}; expected one of {list(LANGUAGES)}"
        raise ValueError(msg)
    return language


def check_report_languages(language: str | None, region_languages: Mapping[str, str]) -> None:
    """Refuse ``report.language`` or a ``report.region_languages`` value without a catalogue.

    Raises
    ------
    ValueError
        One line naming the key, e.g. ``report.region_languages.IT: unknown language 'pt'``.
    """
    check_language(language or "en", key="report.language")
    for region, value in sorted(region_languages.items()):
        check_language(value, key=f"report.region_languages.{region}")


def catalogue_path(language: str) -> Path:
    """Return the ``.po`` file of one language."""
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def placeholders(message: str) -> set[str]:
    """Return the named placeholders of a message.

    Examples
    --------
    >>> sorted(placeholders("%(chance)s chance of %(gain)s"))
    ['chance', 'gain']
    """
    return set(_PLACEHOLDER.findall(message))


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> NullTranslations:
    """Return the compiled translations of ``language`` (English: the messages themselves)."""
    check_language(language)
    if language == "en":
        return NullTranslations()
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


@dataclass(frozen=True)
class LocaleFormat:
    """Numbers, percentages and dates written the way a language writes them.

    Examples
    --------
    >>> de = LocaleFormat("de")
    >>> de.signed(6.25), de.percent(0.72), de.number(12.0), de.date("2026-12-07")
    ('+6,2', '72 %', '12,0', '7. Dezember 2026')
    >>> LocaleFormat("en").signed(-1.0)
    '-1.0'
    """

    language: str

    @cached_property
    def locale(self) -> Locale:
        """The Babel locale."""
        return Locale.parse(self.language)

    @property
    def direction(self) -> str:
        """``rtl`` or ``ltr``."""
        return "rtl" if self.language in RTL_LANGUAGES else "ltr"

    def number(self, value: float, digits: int = 1) -> str:
        """Format a number with ``digits`` decimals."""
        pattern = "0." + "0" * digits if digits else "0"
        return format_decimal(value, format=pattern, locale=self.locale)

    def signed(self, value: float, digits: int = 1) -> str:
        """Format a number with its sign (``+`` for gains)."""
        pattern = "0." + "0" * digits if digits else "0"
        return format_decimal(value, format=f"+{pattern};-{pattern}", locale=self.locale)

    def percent(self, value: float) -> str:
        """Format a share as a whole percentage."""
        return format_percent(value, format="#,##0 %" if self._spaced else "#,##0%",
                              locale=self.locale)  # fmt: skip

    @cached_property
    def _spaced(self) -> bool:
        """Whether the locale puts a space before the percent sign (German, French)."""
        return " " in format_percent(0.5, locale=self.locale).replace("\u00a0", " ")

    def date(self, iso: str) -> str:
        """Format an ISO date with the month in words (no day-month order to misread)."""
        return format_date(dt.date.fromisoformat(iso), format="long", locale=self.locale)


#: The language the report text being built is written in (``use_language``).
_LANGUAGE: ContextVar[str] = ContextVar("report_language", default="en")


@contextlib.contextmanager
def use_language(language: str) -> Iterator[None]:
    """Write the report text built inside the block in ``language``."""
    token = _LANGUAGE.set(check_language(language))
    try:
        yield
    finally:
        _LANGUAGE.reset(token)


def gettext(message: str) -> str:
    """Translate ``message`` into the current language (``use_language``).

    Examples
    --------
    >>> with use_language("de"):
    ...     gettext("points")
    'Punkte'
    >>> gettext("points")
    'points'
    """
    return translations(_LANGUAGE.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a number (the language's plural form for ``n``)."""
    return translations(_LANGUAGE.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown (``gettext``)."""
    return message


def current_language() -> str:
    """Return the language of the report text being built."""
    return _LANGUAGE.get()


def current_format() -> LocaleFormat:
    """Return the number and date formats of the current language (one object per language)."""
    return _locale_format(_LANGUAGE.get())


@lru_cache(maxsize=len(LANGUAGES))
def _locale_format(language: str) -> LocaleFormat:
    return LocaleFormat(language)
