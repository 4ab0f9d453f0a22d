"""Plain clinical wording: values with units, factor sentences, therapy names."""

from __future__ import annotations

import math

from sma_response.features.labels import LEVEL_LABELS, feature_label, feature_unit

__all__ = ["describe_value", "factor_sentence", "format_change", "format_months", "strength"]


def format_months(months: float) -> str:
    """Write an age or duration in months in the words a clinic uses, once.

    Months under 2 years, years and months from then on (no "24 months (2 years)": a factor
    sentence already puts the value in parentheses).

    Examples
    --------
    >>> format_months(8.2), format_months(30.0), format_months(24.0), format_months(150.0)
    ('8 months', '2 years 6 months', '2 years', '12 years 6 months')
    """
    m = round(months)
    if m < 24:
        return f"{m} month" + ("" if m == 1 else "s")
    years, rest = divmod(m, 12)
    return f"{years} years" + (f" {rest} month" + ("" if rest == 1 else "s") if rest else "")


#: Units that read differently for exactly one (``1 copy``, ``1 point``).
_SINGULAR = {"copies": "copy", "points": "point", "metres": "metre"}


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
        return "not recorded"
    unit = feature_unit(feature)
    if feature in LEVEL_LABELS or not _is_number(value):
        return LEVEL_LABELS.get(feature, {}).get(str(value), str(value))
    x = float(value)
    if unit == "months":
        return format_months(x)
    if unit == "yes/no":
        return "yes" if x >= 0.5 else "no"
    if unit in ("points", "metres", "hours per day", "copies"):
        if x == 1 and unit in _SINGULAR:
            unit = _SINGULAR[unit]
        return f"{x:.0f} {unit}" if float(x).is_integer() else f"{x:.1f} {unit}"
    if unit == "points per year":
        return f"{x:+.1f} {unit}"
    return f"{x:g}" + (f" {unit}" if unit else "")


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
    verb = "raises" if direction == "up" else "lowers"
    what = "the chance of a meaningful gain" if task == "classification" else "the expected change"
    label, shown = feature_label(feature), describe_value(feature, value)
    # A label with its own parenthesis takes the value inside it: one pair, not two.
    named = f"{label[:-1]}; {shown})" if label.endswith(")") else f"{label} ({shown})"
    return f"{named} {strength(share)} {verb} {what}."


def format_change(change: float, unit: str = "points") -> str:
    """Write a signed change with its unit.

    Examples
    --------
    >>> format_change(2.04), format_change(-0.5, "metres")
    ('+2.0 points', '-0.5 metres')
    """
    return f"{change:+.1f} {unit}"
