"""A line chart as a small SVG document, drawn on the server: the page needs no script library and
no network (no CDN)."""
from __future__ import annotations

from html import escape

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 380, 140, 72, 8, 20, 18


def line_chart(points: list[tuple[float, float]], title: str, unit: str, step: bool = False) -> str:
    """`points`: (time ms, value) in time order. `step`: a staircase (a running total changes at
    events, it does not glide between them)."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
            f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="10">'
            f'<rect width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>'
            f'<text x="{PAD_L}" y="13" font-size="11" fill="#333">{escape(title)}</text>')
    if not points:
        return head + f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#999">no data yet</text></svg>'
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = xs[0], xs[-1] if xs[-1] > xs[0] else xs[0] + 1
    lo, hi = min(ys + [0.0]), max(ys + [0.0])
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def sx(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return PAD_T + (hi - y) / (hi - lo) * ph

    coords = []
    for i, (x, y) in enumerate(points):
        if step and i:
            coords.append(f"{sx(x):.1f},{sy(points[i - 1][1]):.1f}")
        coords.append(f"{sx(x):.1f},{sy(y):.1f}")
    if step:
        coords.append(f"{PAD_L + pw:.1f},{sy(ys[-1]):.1f}")
    span_s = (x1 - x0) / 1000
    parts = [head,
             f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#bbb" '
             f'stroke-dasharray="3,3"/>',
             f'<text x="{PAD_L - 4}" y="{PAD_T + 8}" text-anchor="end" fill="#555">{_num(hi)}</text>',
             f'<text x="{PAD_L - 4}" y="{PAD_T + ph}" text-anchor="end" fill="#555">{_num(lo)}</text>',
             f'<text x="{PAD_L}" y="{H - 4}" fill="#555">-{_span(span_s)}</text>',
             f'<text x="{PAD_L + pw}" y="{H - 4}" text-anchor="end" fill="#555">now: '
             f'{_num(ys[-1])} {escape(unit)}</text>',
             f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{" ".join(coords)}"/>',
             "</svg>"]
    return "".join(parts)


def _num(v: float) -> str:
    return f"{v:.8f}".rstrip("0").rstrip(".") if abs(v) < 0.01 and v else f"{v:,.2f}"


def _span(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m" if seconds < 7200 \
        else f"{seconds / 3600:.1f}h"
