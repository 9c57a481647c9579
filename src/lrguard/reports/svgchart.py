"""Inline SVG line charts for the HTML reports: no plotting library, no network, no JavaScript needed to see them.

A chart is rendered server-side to an ``<svg>`` (viewBox-scaled, so it fits any width). Long series
are reduced to the minimum and maximum per pixel column, so a one-row jump in a 5000-epoch run stays
visible and the file stays small. The hover read-out (``html.py``'s small script) uses the full-precision
data embedded next to each chart as JSON.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

import numpy as np

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
SEVERITY_COLOR = {"info": "#4a90c2", "warning": "#d89000", "error": "#c62828"}


@dataclass
class Series:
    """One line: ``x``/``y`` arrays (NaN breaks the line)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    color: str
    dash: str | None = None
    width: float = 1.8
    opacity: float = 1.0
    hover: bool = True
    dash_offset: float = 0.0


@dataclass
class VLine:
    """A vertical marker: a session boundary or a numbered finding."""

    x: float
    label: str = ""
    color: str = "#777"
    dash: str | None = "5 4"
    badge: str | None = None
    href: str | None = None
    title: str = ""


@dataclass
class Band:
    """A shaded x range (alternate sessions, warmup)."""

    x0: float
    x1: float
    color: str = "#f1f3f6"
    label: str = ""


@dataclass
class ChartSpec:
    """Everything one chart shows."""

    chart_id: str
    title: str
    series: list[Series]
    x_label: str = "epoch"
    y_label: str = ""
    vlines: list[VLine] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    width: int = 960
    height: int = 280
    link: str | None = None
    note: str = ""
    legend_note: str = ""
    css_class: str = "chart"
    integer_x: bool = True


def nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values covering ``lo .. hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def fmt_num(v: float) -> str:
    """Short tick label."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.1e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:.4g}"


def decimate(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the min and max of ``y`` in each of ``buckets`` equal x ranges, in x order (NaN kept as gaps).

    At one bucket per pixel column the drawn line is the same as the full one (a one-row jump is the
    max of its column), with at most two points per pixel. Of equal values the first row is kept;
    a bucket without a finite value becomes one NaN point at its first row (a gap in the line).
    Array operations only: a per-bucket Python loop dominated the HTML report's cost on long runs.
    """
    n = x.shape[0]
    if n <= 2 * buckets:
        return x, y
    edges = np.linspace(0, n, buckets + 1).astype(np.intp)
    starts = np.unique(edges[:-1])  # n > 2 * buckets: no bucket is empty, unique() only guards
    seg = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
    finite = np.isfinite(y)
    lo_val = np.fmin.reduceat(np.where(finite, y, np.inf), starts)
    hi_val = np.fmax.reduceat(np.where(finite, y, -np.inf), starts)
    idx = np.arange(n)
    i_min = np.minimum.reduceat(np.where(finite & (y == lo_val[seg]), idx, n), starts)
    i_max = np.minimum.reduceat(np.where(finite & (y == hi_val[seg]), idx, n), starts)
    empty = i_min == n  # no finite value in the bucket
    first = np.where(empty, starts, np.minimum(i_min, i_max))
    second = np.where(empty, starts, np.maximum(i_min, i_max))
    keep = np.column_stack([np.ones(starts.size, dtype=bool), second != first]).ravel()
    picks = np.column_stack([first, second]).ravel()[keep]
    ys = y[picks].astype(float)
    ys[np.repeat(empty, 2)[keep]] = math.nan
    return x[picks].astype(float), ys


def _path(px: np.ndarray, py: np.ndarray) -> str:
    """SVG path data through the points; a non-finite point lifts the pen (a gap)."""
    ok = np.isfinite(px) & np.isfinite(py)
    pen_up = ok & ~np.concatenate([[False], ok[:-1]])
    idx = np.nonzero(ok)[0]
    # One %-format over every point: a per-point f-string was most of the report's cost on long runs.
    fmt = "".join(np.where(pen_up[idx], "M%.1f %.1f", "L%.1f %.1f").tolist())
    return fmt % tuple(np.column_stack([px[idx], py[idx]]).ravel().tolist())


def _json_numbers(v: np.ndarray) -> str:
    """A JSON array of ``v`` to 5 significant digits, ``null`` for a non-finite value.

    5 significant digits: what YOLOv5 writes to results.csv (Ultralytics writes 6; the read-out shows 5).
    """
    if v.size == 0:
        return "[]"
    finite = np.isfinite(v)
    text = ("%.5g," * v.size)[:-1] % tuple(np.where(finite, v, 0.0).tolist())
    if not finite.all():
        parts = text.split(",")
        for i in np.nonzero(~finite)[0].tolist():
            parts[i] = "null"
        text = ",".join(parts)
    return f"[{text}]"


def _dash_attr(dash: str | None, offset: float = 0.0) -> str:
    if not dash:
        return ""
    return f' stroke-dasharray="{dash}"' + (f' stroke-dashoffset="{offset:g}"' if offset else "")


def _json_script(data: object, arrays: dict[str, str] | None = None) -> str:
    """JSON safe inside a <script> element; each string ``key`` of ``arrays`` in ``data`` becomes its raw JSON."""
    text = json.dumps(data, separators=(",", ":"))
    for key, raw in (arrays or {}).items():
        text = text.replace(json.dumps(key), raw, 1)
    return text.replace("</", "<\\/")


def render_chart(spec: ChartSpec) -> str:
    """Return ``<figure>`` HTML with the SVG chart and its hover data."""
    W, H = spec.width, spec.height
    L, R, T, B = 70, 14, 26, 40
    pw, ph = W - L - R, H - T - B
    xs_all = [s.x[np.isfinite(s.y)] for s in spec.series if s.x.size]
    if spec.x_range:
        x0, x1 = spec.x_range
    elif xs_all and any(a.size for a in xs_all):
        x0 = float(min(a.min() for a in xs_all if a.size))
        x1 = float(max(a.max() for a in xs_all if a.size))
    else:
        x0, x1 = 0.0, 1.0
    if x1 <= x0:
        x1 = x0 + 1
    if spec.y_range:
        y0, y1 = spec.y_range
    else:
        ys = np.concatenate([s.y[np.isfinite(s.y)] for s in spec.series] or [np.zeros(1)])
        y0 = min(0.0, float(ys.min())) if ys.size else 0.0
        y1 = float(ys.max()) * 1.08 if ys.size and ys.max() > 0 else 1.0
    if y1 <= y0:
        y1 = y0 + 1

    def sx(v):
        return L + (np.asarray(v, dtype=float) - x0) / (x1 - x0) * pw

    def sy(v):
        return T + ph - (np.asarray(v, dtype=float) - y0) / (y1 - y0) * ph

    cid = html.escape(spec.chart_id)
    out: list[str] = []
    out.append(
        f'<svg class="plot" viewBox="0 0 {W} {H}" style="min-width:{W}px" preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-label="{html.escape(spec.title)}" data-l="{L}" data-r="{W - R}" data-x0="{x0:.6g}" data-x1="{x1:.6g}">'
    )
    out.append(
        f'<defs><clipPath id="clip-{cid}"><rect x="{L}" y="{T - 1}" width="{pw}" height="{ph + 2}"/></clipPath></defs>'
    )
    for band in spec.bands:
        a, b = float(sx(max(band.x0, x0))), float(sx(min(band.x1, x1)))
        if b > a:
            out.append(
                f'<rect class="band" x="{a:.1f}" y="{T}" width="{b - a:.1f}" height="{ph}" fill="{band.color}">'
                f"<title>{html.escape(band.label)}</title></rect>"
            )
    for t in nice_ticks(y0, y1):
        y = float(sy(t))
        out.append(f'<line class="grid" x1="{L}" x2="{L + pw}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_num(t)}</text>')
    xt = [t for t in nice_ticks(x0, x1, 9) if x0 <= t <= x1]
    if spec.integer_x:  # epochs: no 1.25 / 1.75 ticks on a 3-epoch run
        xt = [t for t in xt if abs(t - round(t)) < 1e-9]
        if len(xt) < 2:
            xt = [float(t) for t in range(math.ceil(x0), math.floor(x1) + 1)]
    for t in xt:
        x = float(sx(t))
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{T}" y2="{T + ph}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{T + ph + 15}" text-anchor="middle">{fmt_num(t)}</text>')
    out.append(f'<rect class="frame" x="{L}" y="{T}" width="{pw}" height="{ph}"/>')
    out.append(
        f'<text class="axis" x="{L + pw / 2:.0f}" y="{H - 6}" text-anchor="middle">{html.escape(spec.x_label)}</text>'
    )
    out.append(
        f'<text class="axis" transform="translate(14 {T + ph / 2:.0f}) rotate(-90)" text-anchor="middle">'
        f"{html.escape(spec.y_label)}</text>"
    )
    out.append(f'<g clip-path="url(#clip-{cid})">')
    for s in spec.series:
        if s.x.size == 0:
            continue
        dx, dy = decimate(np.asarray(s.x, float), np.asarray(s.y, float), pw)
        d = _path(sx(dx), sy(dy))
        if not d:
            continue
        dash = _dash_attr(s.dash, s.dash_offset)
        single = dx.shape[0] == 1 or np.isfinite(dy).sum() == 1
        if single:
            fx, fy = float(sx(dx[np.isfinite(dy)][0])), float(sy(dy[np.isfinite(dy)][0]))
            out.append(f'<circle cx="{fx:.1f}" cy="{fy:.1f}" r="3" fill="{s.color}"/>')
        out.append(
            f'<path class="line" data-name="{html.escape(s.name)}" d="{d}" stroke="{s.color}" stroke-width="{s.width}"'
            f' fill="none" opacity="{s.opacity}"{dash}/>'
        )
    out.append("</g>")
    placed: list[float] = []
    for v in spec.vlines:
        if not (x0 <= v.x <= x1):
            continue
        x = float(sx(v.x))
        dash = f' stroke-dasharray="{v.dash}"' if v.dash else ""
        out.append(
            f'<line class="vline" x1="{x:.1f}" x2="{x:.1f}" y1="{T}" y2="{T + ph}" stroke="{v.color}"{dash}>'
            f"<title>{html.escape(v.title or v.label)}</title></line>"
        )
        if v.badge:
            # badges that would overlap (findings on the same or neighbouring rows) sit side by side
            bx = x
            while any(abs(bx - p) < 18 for p in placed):
                bx += 19
            placed.append(bx)
            badge = (
                f'<g class="badge"><circle cx="{bx:.1f}" cy="{T - 11}" r="9" fill="{v.color}"/>'
                f'<text x="{bx:.1f}" y="{T - 7}" text-anchor="middle">{html.escape(v.badge)}</text>'
                f"<title>{html.escape(v.title)}</title></g>"
            )
            out.append(f'<a href="{html.escape(v.href)}">{badge}</a>' if v.href else badge)
        elif v.label:
            anchor = "start" if x < L + pw * 0.8 else "end"
            off = 4 if anchor == "start" else -4
            out.append(
                f'<text class="vlabel" x="{x + off:.1f}" y="{T + 12}" text-anchor="{anchor}">{html.escape(v.label)}</text>'
            )
    if spec.note:
        out.append(f'<text class="note" x="{L + pw}" y="{H - 6}" text-anchor="end">{html.escape(spec.note)}</text>')
    out.append(f'<line class="cross" x1="0" x2="0" y1="{T}" y2="{T + ph}" visibility="hidden"/>')
    out.append("</svg>")
    legend = "".join(
        f'<span class="key"><svg width="22" height="8"><line x1="0" x2="22" y1="4" y2="4" stroke="{s.color}" '
        f'stroke-width="{max(s.width, 2)}"{_dash_attr(s.dash, s.dash_offset)}/></svg>{html.escape(s.name)}</span>'
        for s in spec.series
    )
    if spec.legend_note:
        legend += f'<span class="legend-note">{html.escape(spec.legend_note)}</span>'

    hovered = [s for s in spec.series if s.hover and s.x.size]
    shared = bool(hovered) and all(
        s.x.shape == hovered[0].x.shape and np.array_equal(s.x, hovered[0].x) for s in hovered
    )
    data: dict = {"series": []}
    arrays: dict[str, str] = {}

    def numbers(v: np.ndarray) -> str:
        key = f"\x00{len(arrays)}"  # a placeholder no series name can hold
        arrays[key] = _json_numbers(np.asarray(v, float))
        return key

    if shared:
        data["x"] = numbers(hovered[0].x)
    for s in hovered:
        item = {"name": s.name, "color": s.color, "y": numbers(s.y)}
        if not shared:
            item["x"] = numbers(s.x)
        data["series"].append(item)
    link = f' data-link="{html.escape(spec.link)}"' if spec.link else ""
    return (
        f'<figure class="{spec.css_class}" id="{cid}"{link}><figcaption>{html.escape(spec.title)}</figcaption>'
        f'<div class="plotwrap">{"".join(out)}<div class="readout" hidden></div></div>'
        f'<div class="legend">{legend}</div>'
        f'<script type="application/json" class="chart-data">{_json_script(data, arrays)}</script>'
        "</figure>"
    )
