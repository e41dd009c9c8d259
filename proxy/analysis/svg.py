"""Small inline SVG charts: bars, a line and a histogram, no JavaScript, no external files.

Each function returns one `<svg>` element sized in CSS pixels, with its
numbers written as text labels too, so the figures survive printing and
can be found by searching the page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>'
            f'<text x="8" y="18" {FONT} font-weight="bold">{escape(title)}</text>' + "".join(body) + "</svg>")


def bars(title: str, labels: Sequence[str], values: Sequence[float], fmt: Callable[[float], str],
         *, width: int = 560) -> str:
    """Horizontal bars, one per label, each with its formatted value."""
    row, top, left = 28, 30, 190
    height = top + row * len(labels) + 10
    peak = max((abs(v) for v in values), default=0) or 1.0
    span = width - left - 120
    body = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + i * row
        w = max(1.0, span * abs(value) / peak)
        body.append(f'<text x="8" y="{y + 17}" {FONT}>{escape(label)}</text>')
        body.append(f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 10}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"/>')
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 17}" {FONT}>{escape(fmt(value))}</text>')
    return _frame(width, height, title, body)


def histogram(title: str, edges: Sequence[float], series: dict[str, Sequence[int]], *, width: int = 560,
              height: int = 220) -> str:
    """Counts per bin, one colour per series, bins side by side; `edges` has one more entry than each series."""
    left, bottom, top = 40, 36, 40
    bins = len(edges) - 1
    peak = max((max(s) for s in series.values() if len(s)), default=0) or 1
    plot_w, plot_h = width - left - 10, height - top - bottom
    slot = plot_w / max(1, bins)
    bar_w = slot / max(1, len(series)) * 0.9
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
            f'<text x="4" y="{top + 10}" {FONT}>{peak}</text>']
    for j, (name, counts) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        body.append(f'<rect x="{left + 110 * j}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{left + 14 + 110 * j}" y="{height - 5}" {FONT}>{escape(name)}</text>')
        for i, n in enumerate(counts):
            h = plot_h * n / peak
            x = left + i * slot + j * bar_w
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{escape(name)} {edges[i]:g}-{edges[i + 1]:g}: {n}</title></rect>')
    for i in range(0, bins + 1, max(1, bins // 5)):
        body.append(f'<text x="{left + i * slot - 8:.1f}" y="{top + plot_h + 14}" {FONT}>{edges[i]:g}</text>')
    return _frame(width, height, title, body)


def line(title: str, points: Sequence[tuple[float, float]], *, x_label: str, y_label: str,
         x_fmt: Callable[[float], str] = lambda v: f"{v:g}", y_fmt: Callable[[float], str] = lambda v: f"{v:g}",
         marks: Sequence[tuple[float, float, str]] = (), y_from_zero: bool = True, width: int = 560,
         height: int = 260) -> str:
    """A polyline through `points` with labelled axes; `marks` are highlighted points with a caption."""
    left, bottom, top, right = 70, 44, 36, 20
    if not points:
        return _frame(width, 60, title, [f'<text x="8" y="44" {FONT}>no data</text>'])
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0 = min(0.0, min(ys)) if y_from_zero else min(ys)
    y1 = max(ys) if max(ys) > y0 else y0 + 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * plot_w

    def sy(v: float) -> float:
        return top + plot_h - (v - y0) / ((y1 - y0) or 1) * plot_h

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
        f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>',
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" {FONT} text-anchor="middle">{escape(x_label)}</text>',
        (f'<text x="12" y="{top + plot_h / 2:.0f}" {FONT} transform="rotate(-90 12 {top + plot_h / 2:.0f})" '
         f'text-anchor="middle">{escape(y_label)}</text>'),
        f'<text x="{left - 4}" y="{sy(y1) + 4:.1f}" {FONT} text-anchor="end">{escape(y_fmt(y1))}</text>',
        f'<text x="{left - 4}" y="{sy(y0) + 4:.1f}" {FONT} text-anchor="end">{escape(y_fmt(y0))}</text>',
        f'<text x="{left}" y="{top + plot_h + 16}" {FONT}>{escape(x_fmt(x0))}</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 16}" {FONT} text-anchor="end">{escape(x_fmt(x1))}</text>',
    ]
    for x, y, caption in marks:
        # Captions near the right edge go to the left of their point, so they stay inside the chart.
        anchor, dx = ("end", -6) if sx(x) > left + plot_w * 0.8 else ("start", 6)
        body.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{PALETTE[1]}"/>'
                    f'<text x="{sx(x) + dx:.1f}" y="{sy(y) - 6:.1f}" {FONT} text-anchor="{anchor}">'
                    f'{escape(caption)}</text>')
    return _frame(width, height, title, body)
