"""Inline SVG figures for the reports (strings; no matplotlib, no external resources).

Every figure has a ``viewBox`` and scales to the page width, so it reads on a phone and
prints on A4. Text inside is escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from sma_response.report.i18n import N_, current_format, gettext

_NO_CHANGE = N_("no change")
_MEANINGFUL = N_("meaningful gain (+%(points)s)")


def _anchor(at: float, left: float, right: float, text: str = "") -> str:
    """Anchor a label so that it stays inside the figure (long translations near an edge).

    The label's width is estimated from its length (about 5.6 px a character at font size
    10, at least 120 px).

    Examples
    --------
    >>> _anchor(380, 10, 390, "meaningful gain (+4)"), _anchor(200, 10, 390, "no change")
    ('end', 'middle')
    """
    half = max(120.0, 5.6 * len(text)) / 2
    if at - left < half:
        return "start"
    if right - at < half:
        return "end"
    return "middle"


def _bidi(text: str) -> str:
    """Embed right-to-left words so that an SVG renderer without bidi (WeasyPrint) keeps them.

    Examples
    --------
    >>> _bidi("no change")
    'no change'
    """
    if current_format().direction != "rtl":
        return text
    return f"\u202b{text}\u202c"


_CHANGE_LABEL = N_("Expected change %(change)s %(unit)s, interval %(low)s to %(high)s %(unit)s")

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["change_svg", "factors_svg", "inline_png", "position_svg", "probability_svg"]


def inline_png(fig: Figure, *, alt: str = "") -> Markup:
    """Return a matplotlib figure as an ``<img>`` with an inline PNG (no external request).

    The PNG carries no software metadata, so the same figure gives the same bytes.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return Markup('<img class="fig" alt="{}" src="data:image/png;base64,{}">').format(alt, data)


_UP = "#b2182b"
_DOWN = "#2166ac"
_INK = "#222"
_MUTED = "#888"


def _svg(width: int, height: int, body: str, label: str, kind: str = "") -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(label)}" class="fig {kind}">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def probability_svg(probability: float) -> Markup:
    """Draw a 0-100 % bar filled to the predicted probability.

    Examples
    --------
    >>> "72%" in probability_svg(0.72)
    True
    """
    p = min(max(float(probability), 0.0), 1.0)
    fmt = current_format()
    w, x0, x1 = 400, 16, 380  # room for the centred "0%" and "100%" tick labels
    fill = x0 + p * (x1 - x0)
    ticks = "".join(
        f'<line x1="{x0 + t * (x1 - x0):.1f}" y1="30" x2="{x0 + t * (x1 - x0):.1f}" y2="36" '
        f'stroke="{_MUTED}"/><text x="{x0 + t * (x1 - x0):.1f}" y="48" font-size="11" '
        f'text-anchor="middle" fill="{_MUTED}">{fmt.percent(t)}</text>'
        for t in (0, 0.25, 0.5, 0.75, 1)
    )
    body = (
        f'<rect x="{x0}" y="8" width="{x1 - x0}" height="22" rx="4" fill="#eee"/>'
        f'<rect x="{x0}" y="8" width="{fill - x0:.1f}" height="22" rx="4" fill="{_UP}"/>'
        f'<text x="{min(fill + 6, x1 - 40):.1f}" y="24" font-size="13" font-weight="bold" '
        f'fill="{_INK}">{fmt.percent(p)}</text>{ticks}'
    )
    label = gettext("Predicted chance of a meaningful gain: %(chance)s") % {
        "chance": fmt.percent(p)
    }
    return _svg(w, 52, body, label)


def change_svg(
    expected: float,
    lower: float,
    upper: float,
    *,
    meaningful: float | None,
    unit: str,
) -> Markup:
    """Draw the change on a number line: interval, expected change, no-change and gain marks.

    Examples
    --------
    >>> "+2.0" in change_svg(2.0, -3.0, 7.0, meaningful=3.0, unit="points")
    True
    """
    fmt = current_format()
    marks = [expected, lower, upper, 0.0] + ([meaningful] if meaningful is not None else [])
    lo, hi = min(marks), max(marks)
    pad = max((hi - lo) * 0.08, 1.0)
    lo, hi = lo - pad, hi + pad
    w, x0, x1 = 400, 10, 390

    def x(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    body = [
        f'<line x1="{x0}" y1="34" x2="{x1}" y2="34" stroke="{_MUTED}"/>',
        f'<rect x="{x(lower):.1f}" y="24" width="{max(x(upper) - x(lower), 1):.1f}" height="20" '
        f'rx="3" fill="{_DOWN}" fill-opacity="0.25"/>',
        f'<line x1="{x(0):.1f}" y1="14" x2="{x(0):.1f}" y2="54" stroke="{_INK}" '
        f'stroke-dasharray="2,2"/><text x="{x(0):.1f}" y="66" font-size="10" '
        f'text-anchor="{_anchor(x(0), x0, x1, gettext(_NO_CHANGE))}" '
        f'fill="{_INK}">{escape(_bidi(gettext(_NO_CHANGE)))}</text>',
    ]
    if meaningful is not None:
        text = gettext(_MEANINGFUL) % {"points": f"{meaningful:g}"}
        body.append(
            f'<line x1="{x(meaningful):.1f}" y1="14" x2="{x(meaningful):.1f}" y2="54" '
            f'stroke="{_UP}" stroke-dasharray="4,2"/><text x="{x(meaningful):.1f}" y="10" '
            f'font-size="10" text-anchor="{_anchor(x(meaningful), x0, x1, text)}" '
            f'fill="{_UP}">{escape(_bidi(text))}</text>'
        )
    body.append(
        f'<circle cx="{x(expected):.1f}" cy="34" r="6" fill="{_DOWN}"/>'
        f'<text x="{x(lower):.1f}" y="80" font-size="10" text-anchor="middle" fill="{_MUTED}">'
        f"{fmt.signed(lower)}</text>"
        f'<text x="{x(upper):.1f}" y="80" font-size="10" text-anchor="middle" fill="{_MUTED}">'
        f"{fmt.signed(upper)}</text>"
    )
    label = gettext(_CHANGE_LABEL) % {
        "change": fmt.signed(expected), "unit": unit, "low": fmt.signed(lower),
        "high": fmt.signed(upper),
    }  # fmt: skip
    return _svg(w, 86, "".join(body), label)


def factors_svg(factors: Sequence[tuple[str, float]]) -> Markup:
    """Diverging bars of SHAP values: right (red) raises, left (blue) lowers the prediction.

    Parameters
    ----------
    factors
        ``(label, shap)`` pairs, in display order.

    Examples
    --------
    >>> "Age" in factors_svg([("Age", 0.8), ("Therapy", -0.2)])
    True
    """
    if not factors:
        return Markup("")
    row, w, mid = 24, 440, 220
    scale = max(abs(v) for _, v in factors) or 1.0
    body = [f'<line x1="{mid}" y1="0" x2="{mid}" y2="{row * len(factors)}" stroke="{_MUTED}"/>']
    for i, (label, value) in enumerate(factors):
        y = i * row
        length = abs(value) / scale * (mid - 10)
        left = mid if value >= 0 else mid - length
        colour = _UP if value >= 0 else _DOWN
        anchor, tx = ("end", mid - 6) if value >= 0 else ("start", mid + 6)
        body.append(
            f'<rect x="{left:.1f}" y="{y + 4}" width="{max(length, 1):.1f}" height="{row - 8}" '
            f'fill="{colour}" fill-opacity="0.8"/><text x="{tx}" y="{y + row - 8}" font-size="12" '
            f'text-anchor="{anchor}" fill="{_INK}">{escape(_bidi(_short(label)))}</text>'
        )
    label = gettext("Factors raising and lowering the prediction")
    return _svg(w, row * len(factors), "".join(body), label, kind="factors")


def _short(label: str, n: int = 30) -> str:
    return label if len(label) <= n else label[: n - 1].rstrip() + "\u2026"


def position_svg(quantiles: Mapping[str, float], value: float, *, flag: str | None) -> Markup:
    """Draw the cohort's spread (range, 5-95 %, 25-75 %, median) and the patient's value.

    Examples
    --------
    >>> q = {"0": 0.0, "0.05": 1.0, "0.25": 2.0, "0.5": 3.0, "0.75": 4.0, "0.95": 5.0, "1": 6.0}
    >>> "circle" in position_svg(q, 2.5, flag=None)
    True
    """
    q = {float(k): float(v) for k, v in quantiles.items()}
    lo, hi = min(q[0.0], value), max(q[1.0], value)
    span = (hi - lo) or 1.0
    w, x0, x1 = 300, 8, 292

    def x(v: float) -> float:
        return x0 + (v - lo) / span * (x1 - x0)

    colour = "#d6604d" if flag == "outside" else _INK
    body = (
        f'<line x1="{x(q[0.0]):.1f}" y1="14" x2="{x(q[1.0]):.1f}" y2="14" stroke="{_MUTED}"/>'
        f'<rect x="{x(q[0.05]):.1f}" y="8" width="{max(x(q[0.95]) - x(q[0.05]), 1):.1f}" '
        f'height="12" fill="#ccc"/>'
        f'<rect x="{x(q[0.25]):.1f}" y="8" width="{max(x(q[0.75]) - x(q[0.25]), 1):.1f}" '
        f'height="12" fill="#999"/>'
        f'<line x1="{x(q[0.5]):.1f}" y1="6" x2="{x(q[0.5]):.1f}" y2="22" stroke="{_INK}"/>'
        f'<circle cx="{x(value):.1f}" cy="14" r="5" fill="{colour}" stroke="#fff"/>'
    )
    return _svg(w, 28, body, gettext("Patient's value against the training cohort"))
