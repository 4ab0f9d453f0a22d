"""Plain clinical wording: values with units, factor sentences, therapy names.

Every word goes through the report's gettext catalogue (:mod:`sma_response.report.i18n`), in
the language of the report being built (``use_language``; English by default), and every
number through the language's number format.
"""

from __future__ import annotations

import math

from sma_response.features.labels import (
    LEVEL_LABELS,
    SCALE_NAMES,
    feature_label,
    feature_unit,
)
from sma_response.report.i18n import N_, current_format, gettext, ngettext

__all__ = [
    "describe_value",
    "factor_sentence",
    "format_change",
    "format_months",
    "label",
    "scale_name",
    "strength",
    "unit_text",
]

#: Units as shown (translated where shown).
_UNITS = {
    "points": N_("points"),
    "metres": N_("metres"),
    "hours per day": N_("hours per day"),
    "copies": N_("copies"),
    "points per year": N_("points per year"),
    "milestones": N_("milestones"),
    "months": N_("months"),
}
_BASELINE = N_("%(scale)s score at start")


def scale_name(scale: str) -> str:
    """Return a scale's name as clinicians write it (CHOP INTEND stays CHOP INTEND).

    Examples
    --------
    >>> scale_name("chop_intend"), scale_name("6mwt")
    ('CHOP INTEND', '6-minute walk test')
    """
    return gettext(SCALE_NAMES.get(scale, scale))


def label(feature: str) -> str:
    """Return a feature's plain name in the report's language.

    Examples
    --------
    >>> label("age_at_index_months"), label("baseline_hfmse")
    ('Age at treatment start', 'HFMSE score at start')
    """
    scale = feature.removeprefix("baseline_")
    if feature.startswith("baseline_") and scale in SCALE_NAMES:
        return gettext(_BASELINE) % {"scale": scale_name(scale)}
    return gettext(feature_label(feature))


def unit_text(unit: str) -> str:
    """Return a unit in the report's language (``points`` -> ``Punkte`` in German)."""
    return gettext(_UNITS[unit]) if unit in _UNITS else unit


def format_months(months: float) -> str:
    """Write an age or duration in months in the words a clinic uses, once.

    Months under 2 years, years and months from then on (no "24 months (2 years)": a factor
    sentence already puts the value in parentheses).

    Examples
    --------
    >>> format_months(8.2), format_months(30.0), format_months(24.0), format_months(150.0)
    ('8 months', '2 years 6 months', '2 years', '12 years 6 months')
    >>> format_months(1.0)
    '1 month'
    """
    m = round(months)
    if m < 24:
        return ngettext("%(n)s month", "%(n)s months", m) % {"n": m}
    years, rest = divmod(m, 12)
    text = ngettext("%(n)s year", "%(n)s years", years) % {"n": years}
    if rest:
        text += " " + ngettext("%(n)s month", "%(n)s months", rest) % {"n": rest}
    return text


def describe_value(feature: str, value: str | None) -> str:
    """Write a feature's raw value (text, as stored with SHAP values) in words, with its unit.

    Examples
    --------
    >>> describe_value("age_at_index_months", "8.2"), describe_value("feeding_tube", "1")
    ('8 months', 'yes')
    >>> describe_value("baseline_hfmse", None), describe_value("therapy", "onasemnogene")
    ('not recorded', 'onasemnogene abeparvovec')
    >>> describe_value("smn2_copies", "1"), describe_value("smn2_copies", "3")
    ('1 copy', '3 copies')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return gettext("not recorded")
    unit = feature_unit(feature)
    if feature in LEVEL_LABELS or not _is_number(value):
        return gettext(LEVEL_LABELS.get(feature, {}).get(str(value), str(value)))
    x = float(value)
    fmt = current_format()
    if unit == "months":
        return format_months(x)
    if unit == "yes/no":
        return gettext("yes") if x >= 0.5 else gettext("no")
    if unit == "copies":
        n = round(x)
        return ngettext("%(n)s copy", "%(n)s copies", n) % {"n": n}
    if unit in ("points", "metres", "hours per day"):
        digits = 0 if float(x).is_integer() else 1
        if x == 1 and unit == "points":
            return gettext("1 point")
        if x == 1 and unit == "metres":
            return gettext("1 metre")
        return f"{fmt.number(x, digits)} {unit_text(unit)}"
    if unit == "points per year":
        return f"{fmt.signed(x)} {unit_text(unit)}"
    return f"{x:g}" + (f" {unit_text(unit)}" if unit else "")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def strength(share: float) -> str:
    """How strongly a factor pushes, from its share of the patient's total absolute SHAP.

    Examples
    --------
    >>> strength(0.3), strength(0.12), strength(0.02)
    ('strongly', 'moderately', 'slightly')
    """
    if share >= 0.25:
        return "strongly"
    if share >= 0.10:
        return "moderately"
    return "slightly"


#: One sentence per strength, direction and task (whole sentences translate; words do not).
_FACTOR_SENTENCES = {
    ("strongly", "up", "classification"): N_(
        "%(factor)s strongly raises the chance of a meaningful gain."
    ),
    ("moderately", "up", "classification"): N_(
        "%(factor)s moderately raises the chance of a meaningful gain."
    ),
    ("slightly", "up", "classification"): N_(
        "%(factor)s slightly raises the chance of a meaningful gain."
    ),
    ("strongly", "down", "classification"): N_(
        "%(factor)s strongly lowers the chance of a meaningful gain."
    ),
    ("moderately", "down", "classification"): N_(
        "%(factor)s moderately lowers the chance of a meaningful gain."
    ),
    ("slightly", "down", "classification"): N_(
        "%(factor)s slightly lowers the chance of a meaningful gain."
    ),
    ("strongly", "up", "regression"): N_("%(factor)s strongly raises the expected change."),
    ("moderately", "up", "regression"): N_("%(factor)s moderately raises the expected change."),
    ("slightly", "up", "regression"): N_("%(factor)s slightly raises the expected change."),
    ("strongly", "down", "regression"): N_("%(factor)s strongly lowers the expected change."),
    ("moderately", "down", "regression"): N_("%(factor)s moderately lowers the expected change."),
    ("slightly", "down", "regression"): N_("%(factor)s slightly lowers the expected change."),
}


def factor_sentence(
    feature: str, value: str | None, *, direction: str, share: float, task: str
) -> str:
    """One sentence on one factor, e.g. "Age at treatment start (8 months) strongly raises ...".

    Examples
    --------
    >>> factor_sentence("age_at_index_months", "8", direction="up", share=0.4,
    ...                 task="classification")
    'Age at treatment start (8 months) strongly raises the chance of a meaningful gain.'
    >>> factor_sentence("presymptomatic", "1", direction="up", share=0.2, task="regression")
    'Treated before symptoms (newborn screening; yes) moderately raises the expected change.'
    """
    name, shown = label(feature), describe_value(feature, value)
    # A label with its own parenthesis takes the value inside it: one pair, not two.
    named = f"{name[:-1]}; {shown})" if name.endswith(")") else f"{name} ({shown})"
    key = (strength(share), "up" if direction == "up" else "down",
           "classification" if task == "classification" else "regression")  # fmt: skip
    return gettext(_FACTOR_SENTENCES[key]) % {"factor": named}


def format_change(change: float, unit: str = "points") -> str:
    """Write a signed change with its unit.

    Examples
    --------
    >>> format_change(2.04), format_change(-0.5, "metres")
    ('+2.0 points', '-0.5 metres')
    """
    return f"{current_format().signed(change)} {unit_text(unit)}"
