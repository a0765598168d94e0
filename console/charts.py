"""Server-rendered SVG charts for the staff pages, sized from what they draw.

Each chart's ``viewBox`` is computed from its rows or days and every label is placed
inside it, so the SVG scales to its card (``width="100%"``) without cutting anything
off, at any card width. Every mark is a link to the list it counts and carries a
``<title>``; the chart's own ``<title>`` names it for screen readers, and the pages
show the same figures as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

FONT = 11
# A generous average advance of the admin's sans-serif at FONT px: labels are laid out
# with it, so a label never runs past the edge the layout gives it.
CHAR_WIDTH = 7.0
ROW = 22
BAR = 14
RED = "#b0413e"


def text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    href: str
    color: str
    note: str = ""  # shown after the value ("12.5%")


@dataclass(frozen=True)
class Series:
    """One stacked part of a column chart: a value per day (or per crawl), each linked."""

    name: str
    color: str
    values: Sequence[float]
    hrefs: Sequence[str]
    dashed: Sequence[bool] = field(default_factory=tuple)


def _svg(title: str, width: float, height: float, body: SafeString) -> SafeString:
    # Scaled to its card, but never past half again its size: labels stay text-sized on wide screens.
    return format_html(
        '<svg viewBox="0 0 {} {}" width="100%" role="img" preserveAspectRatio="xMinYMin meet" '
        'style="max-width: {}px" font-size="{}"><title>{}</title>{}</svg>',
        round(width),
        round(height),
        round(width * 1.5),
        FONT,
        title,
        body,
    )


def hbars(title: str, bars: Sequence[Bar], *, width: float = 480) -> SafeString:
    """Horizontal bars, one row each: label, bar, value."""
    label_w = max((text_width(b.label) for b in bars), default=0) + 8
    value_w = max((text_width(_value_text(b)) for b in bars), default=0) + 8
    span = max(width - label_w - value_w, 40)
    top = max((b.value for b in bars), default=0) or 1
    rows = []
    for i, b in enumerate(bars):
        y = 4 + ROW * i
        length = span * b.value / top
        rows.append(
            format_html(
                '<a href="{}"><text x="0" y="{}">{}</text><rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                '<title>{}: {}</title></rect><text x="{}" y="{}">{}</text></a>',
                b.href,
                y + BAR - 3,
                b.label,
                round(label_w, 1),
                y,
                round(length, 1),
                BAR,
                b.color,
                b.label,
                _value_text(b),
                round(label_w + length + 4, 1),
                y + BAR - 3,
                _value_text(b),
            )
        )
    return _svg(title, width, 8 + ROW * len(bars), mark_safe("".join(rows)))


def _value_text(bar: Bar) -> str:
    value = f"{bar.value:g}"
    return f"{value} ({bar.note})" if bar.note else value


def columns(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    percent: bool = False,
    tick_every: int = 7,
    height: float = 120,
) -> SafeString:
    """Stacked columns, one per label (a day, a crawl), with a labelled axis every ``tick_every``."""
    count = len(labels)
    step = 6 if count > 60 else 18
    axis_w = text_width("100%" if percent else _axis(_stack_top(series, count), unit)) + 6
    # The first and last labels are centred on their columns: room for their outer halves.
    left = max(axis_w, text_width(labels[0]) / 2 - step / 2 + 2) if labels else axis_w
    right = max(text_width(labels[-1]) / 2 - step / 2, 0) + 4 if labels else 4
    width = left + step * count + right
    chart_top, base = 8.0, 8 + height
    top = 100.0 if percent else (_stack_top(series, count) or 1)
    marks = [
        format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"></line>', left, base, width - right, base),
        format_html(
            '<text x="0" y="{}">{}</text><text x="0" y="{}">0</text>',
            chart_top + FONT,
            "100%" if percent else _axis(top, unit),
            base,
        ),
    ]
    for i in range(count):
        x = left + step * i + 1
        total = sum(s.values[i] for s in series)
        y = base
        for s in series:
            value = s.values[i]
            if not value:
                continue
            share = 100 * value / total if percent and total else value
            h = height * share / top
            y -= h
            dashed = bool(s.dashed) and s.dashed[i]
            marks.append(
                format_html(
                    '<a href="{}"><rect x="{}" y="{}" width="{}" height="{}" fill="{}"{}><title>{}, {}: {}</title>'
                    "</rect></a>",
                    s.hrefs[i],
                    round(x, 1),
                    round(y, 1),
                    step - 2,
                    round(h, 1),
                    s.color,
                    mark_safe(' fill-opacity="0.45"') if dashed else "",
                    labels[i],
                    s.name,
                    f"{share:.1f}%" if percent else f"{value:g}{unit}",
                )
            )
        # Every tick_every-th column is labelled, and the last unless it would crowd the one before.
        if i % tick_every == 0 or (i == count - 1 and i % tick_every > tick_every // 2):
            marks.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                    round(x + (step - 2) / 2, 1),
                    base + FONT + 6,
                    labels[i],
                )
            )
    return _svg(title, width, base + FONT + 12, mark_safe("".join(marks)))


def _stack_top(series: Sequence[Series], count: int) -> float:
    return max((sum(s.values[i] for s in series) for i in range(count)), default=0)


def _axis(value: float, unit: str) -> str:
    return f"{value:g}{unit}"


def line(
    title: str, labels: Sequence[str], values: Sequence[float | None], hrefs: Sequence[str], *, tick_every: int = 14
) -> SafeString:
    """A percentage over days, 0 to 100%, a point per day that has a value (linked)."""
    count = len(labels)
    step, height = 6.0, 100.0
    axis_w = text_width("100%") + 6
    width = axis_w + step * max(count - 1, 1) + text_width(labels[-1] if labels else "") / 2 + 4
    base = 8 + height
    points = [(axis_w + step * i, base - height * v / 100, i) for i, v in enumerate(values) if v is not None]
    marks = [
        format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"></line>', axis_w, base, width, base),
        format_html('<text x="0" y="{}">100%</text><text x="0" y="{}">0%</text>', 8 + FONT, base),
    ]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        marks.append(
            format_html('<polyline points="{}" fill="none" stroke="#b0413e" stroke-width="2"></polyline>', path)
        )
        marks.append(
            format_html_join(
                "",
                '<a href="{}"><circle cx="{}" cy="{}" r="3" fill="{}"><title>{}: {}%</title></circle></a>',
                ((hrefs[i], round(x, 1), round(y, 1), RED, labels[i], f"{values[i]:.1f}") for x, y, i in points),
            )
        )
    for i in range(0, count, tick_every):
        marks.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                round(axis_w + step * i, 1),
                base + FONT + 6,
                labels[i],
            )
        )
    return _svg(title, width, base + FONT + 12, mark_safe("".join(marks)))


def day_label(day: date) -> str:
    return day.strftime("%b %d").replace(" 0", " ")
