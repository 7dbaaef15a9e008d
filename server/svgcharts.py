"""Small server-rendered SVG charts for the reports page: bars, a donut and lines.

No JavaScript and no library: each function returns inline SVG markup. Every chart is an
``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (read out by screen readers), and
prints its numbers as text beside the marks, so nothing is shown by colour alone. All text
is escaped here; callers pass plain strings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

# Distinguishable on screen and in greyscale print, in the court's palette.
PALETTE = ("#a61b1b", "#1a4fa0", "#1f7a3d", "#a36200", "#6b3fa0", "#2d7f8c", "#7a7a7a", "#c2185b")


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>'
    )


def text_width(text: str, size: int = 13) -> int:
    """A generous estimate of the rendered width of ``text``: CJK characters are square,
    Latin ones about 0.6 em. SVG text does not wrap, so the layout reserves this much."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E80)
    return int(size * (wide + 0.6 * (len(text) - wide))) + 4


def describe(items: Sequence[tuple[str, int]]) -> str:
    """The chart's data as one sentence, for ``<desc>``: "a: 3; b: 5"."""
    return "; ".join(f"{label}: {value}" for label, value in items)


def bar_chart(
    chart_id: str, title: str, items: Sequence[tuple[str, int]], *, width: int = 560
) -> Markup:
    """Horizontal bars, one per item, label on the left and the count at the bar's end."""
    row, pad = 26, 8
    label_w = min(max((text_width(label) for label, _ in items), default=0) + 12, width // 2)
    height = max(row * len(items) + 2 * pad, 40)
    top = max((v for _, v in items), default=0) or 1
    span = width - label_w - 60
    parts = [_open(chart_id, title, describe(items), width, height)]
    for i, (label, value) in enumerate(items):
        y = pad + i * row
        w = round(span * value / top)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" font-size="13">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{w}" height="{row - 8}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 17}" font-size="13">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def donut_chart(
    chart_id: str, title: str, items: Sequence[tuple[str, int]], *, size: int = 220
) -> Markup:
    """A donut of shares with a legend giving each count and percentage."""
    total = sum(v for _, v in items)
    row = 22
    legend_w = 40 + max((text_width(f"{label}: {v} (100.0%)") for label, v in items), default=0)
    height = max(size, row * len(items) + 16)
    width = size + legend_w
    cx = cy = size / 2
    r_out, r_in = size / 2 - 6, size / 2 - 46
    parts = [_open(chart_id, title, describe(items), width, int(height))]
    angle = -math.pi / 2
    shown = [(i, label, v) for i, (label, v) in enumerate(items) if v > 0]
    for i, _label, value in shown:
        color = PALETTE[i % len(PALETTE)]
        if len(shown) == 1:  # a full ring: an arc cannot start and end at the same point
            parts.append(
                f'<circle cx="{cx}" cy="{cy}" r="{(r_out + r_in) / 2:.1f}" fill="none" '
                f'stroke="{color}" stroke-width="{r_out - r_in:.1f}"/>'
            )
            break
        sweep = 2 * math.pi * value / total
        parts.append(f'<path d="{_sector(cx, cy, r_out, r_in, angle, sweep)}" fill="{color}"/>')
        angle += sweep
    parts.append(
        f'<text x="{cx}" y="{cy + 6}" text-anchor="middle" font-size="20" '
        f'font-weight="700">{total}</text>'
    )
    for i, (label, value) in enumerate(items):
        y = 12 + i * row
        pct = f"{100 * value / total:.1f}%" if total else "–"
        parts.append(
            f'<rect x="{size + 10}" y="{y}" width="14" height="14" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{size + 30}" y="{y + 12}" font-size="13">'
            f"{escape(label)}: {value} ({pct})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _sector(cx: float, cy: float, r1: float, r2: float, start: float, sweep: float) -> str:
    end = start + sweep
    large = 1 if sweep > math.pi else 0

    def pt(r: float, a: float) -> str:
        return f"{cx + r * math.cos(a):.2f} {cy + r * math.sin(a):.2f}"

    return (
        f"M {pt(r1, start)} A {r1:.2f} {r1:.2f} 0 {large} 1 {pt(r1, end)} "
        f"L {pt(r2, end)} A {r2:.2f} {r2:.2f} 0 {large} 0 {pt(r2, start)} Z"
    )


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    width: int = 640,
    height: int = 260,
) -> Markup:
    """One line per series over the same x labels (months), each point labelled."""
    left, right, top, bottom = 36, 12, 28, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, vals in series for v in vals), default=0) or 1
    step = plot_w / max(len(labels) - 1, 1)
    desc = " | ".join(
        f"{name}: " + describe(list(zip(labels, vals, strict=True))) for name, vals in series
    )
    parts = [_open(chart_id, title, desc, width, height)]
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        f'stroke="#999"/>'
    )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{left + i * step:.1f}" y="{height - 8}" text-anchor="middle" '
            f'font-size="12">{escape(label)}</text>'
        )
    for s, (name, values) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        points = [(left + i * step, top + plot_h - plot_h * v / peak) for i, v in enumerate(values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (x, y), v in zip(points, values, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'
                f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" font-size="11" '
                f'fill="{color}">{v}</text>'
            )
        parts.append(
            f'<rect x="{left + s * 150}" y="4" width="12" height="12" fill="{color}"/>'
            f'<text x="{left + s * 150 + 18}" y="15" font-size="13">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
