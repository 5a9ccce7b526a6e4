"""Bar charts as inline SVG, rendered on the gateway (no script, no CDN, a few kB per chart).

Strategy: one bar per quarter-hour (or day): import upwards from a middle line, export
downwards, each bar's status as its CSS class (measured solid, interpolated hatched, missing a
grey stripe over the whole height) so the difference is visible without colour too. Every bar
carries its figures as `data-` attributes and a `<title>` (the browser's tooltip), which is
also what the browser test compares with `edge-agent export`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

WIDTH: Final = 960
HEIGHT: Final = 260
TOP: Final = 14
AXIS: Final = 20  # room for the time labels below


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: label (axis / tooltip), values in Wh (None: unknown), status, data attributes."""

    label: str
    up: int | None
    down: int | None
    status: str
    title: str
    data: tuple[tuple[str, str], ...] = ()
    tick: str = ""  # text under the bar (every few bars)
    mark: bool = False  # e.g. the month's peak


def bars(chart_id: str, items: Sequence[Bar], unit: str) -> str:
    """The SVG of `items`, scaled to the largest value."""
    scale_max = max([abs(v) for b in items for v in (b.up, b.down) if v is not None] or [1]) or 1
    plot = HEIGHT - TOP - AXIS
    mid = TOP + plot * 2 // 3  # import gets two thirds: most homes take more than they give
    up_h, down_h = mid - TOP, TOP + plot - mid
    step = WIDTH / max(1, len(items))
    width = max(1.0, step - 1)
    parts = [
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'preserveAspectRatio="none" aria-label="{escape(unit)} per bar">',
        f'<text class="scale" x="2" y="{TOP - 3}">{_fmt(scale_max)} {escape(unit)}</text>',
    ]
    for index, bar in enumerate(items):
        x = index * step
        attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in bar.data)
        cls = f"bar st-{escape(bar.status)}" + (" mark" if bar.mark else "")
        parts.append(f'<g class="{cls}"{attrs}><title>{escape(bar.title)}</title>')
        if bar.status == "missing" or (bar.up is None and bar.down is None):
            parts.append(
                f'<rect class="gap" x="{x:.1f}" y="{TOP}" width="{width:.1f}" height="{plot}"/>'
            )
        else:
            if bar.up:
                h = max(1, round(up_h * min(abs(bar.up), scale_max) / scale_max))
                parts.append(
                    f'<rect class="in" x="{x:.1f}" y="{mid - h}" width="{width:.1f}" height="{h}"/>'
                )
            if bar.down:
                h = max(1, round(down_h * min(abs(bar.down), scale_max) / scale_max))
                parts.append(
                    f'<rect class="out" x="{x:.1f}" y="{mid}" width="{width:.1f}" height="{h}"/>'
                )
        parts.append("</g>")
        if bar.tick:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 5}">{escape(bar.tick)}</text>'
            )
    parts.append(f'<line class="zero" x1="0" y1="{mid}" x2="{WIDTH}" y2="{mid}"/></svg>')
    return "".join(parts)


def _fmt(wh: int) -> str:
    return f"{wh:,}".replace(",", " ")
