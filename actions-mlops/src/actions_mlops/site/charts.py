"""Charts as inline SVG written here: no JavaScript, nothing from a CDN. Every text in them is
escaped; each chart is an image with a title and a description for screen readers."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56


@dataclass(frozen=True)
class Point:
    """One point with its interval: a version's metric on its test set."""

    label: str
    value: float
    low: float
    high: float
    highlight: bool = False  # e.g. the version in the champion stage


def _scale(low: float, high: float) -> tuple[float, float]:
    span = high - low or abs(high) or 1.0
    return low - span * 0.1, high + span * 0.1


def interval_chart(points: list[Point], title: str, description: str, chart_id: str) -> Markup:
    """Points with vertical interval bars, left to right in the given order."""
    if not points:
        return Markup("")
    bottom, top = _scale(min(p.low for p in points), max(p.high for p in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(points)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - bottom) / (top - bottom))

    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
    ]
    for tick in range(5):
        value = bottom + (top - bottom) * tick / 4
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
            f"{value:.4g}</text>"
        )
    for index, point in enumerate(points):
        x = LEFT + step * (index + 0.5)
        mark = " highlight" if point.highlight else ""
        parts += [
            f'<g class="point{mark}" data-label="{escape(point.label)}">',
            f"<title>{escape(point.label)}: {point.value:.4f} "
            f"[{point.low:.4f}, {point.high:.4f}]</title>",
            f'<line class="interval" x1="{x:.1f}" y1="{y(point.low):.1f}" x2="{x:.1f}" '
            f'y2="{y(point.high):.1f}"/>',
            f'<circle cx="{x:.1f}" cy="{y(point.value):.1f}" r="5"/>',
            f'<text class="tick" x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">'
            f"{escape(point.label)}</text>",
            "</g>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))
