"""The visual report: one self-contained HTML file (inline SVG charts, inline CSS and a small script).

Nothing is fetched when the file is opened: no CDN, no fonts, no images. The charts are SVG drawn
here (see :mod:`lrguard.reports.svgchart`), so they show with JavaScript off; the inline script only
adds the linked hover read-out. ``docs/report.md`` explains the choice.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lrguard import __version__
from lrguard.reports.plans import plan_pieces, stitched
from lrguard.reports.svgchart import PALETTE, SEVERITY_COLOR, Band, ChartSpec, Series, VLine, render_chart

if TYPE_CHECKING:
    from lrguard.diagnosis.result import Diagnosis
    from lrguard.plan.scenario import Plan

E = html.escape

CSS = """
:root{--fg:#1d2330;--muted:#5d6675;--line:#d9dee6;--bg:#fff;--soft:#f6f8fb}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);margin:0;background:var(--soft)}
header.top{background:#1d2330;color:#fff;padding:14px 24px}
header.top h1{font-size:18px;margin:0}
header.top p{margin:2px 0 0;color:#c5cbd6;font-size:12.5px}
main{padding:16px 24px}
.overview{border-collapse:collapse;background:#fff;margin-bottom:16px;font-size:13px}
.overview td,.overview th{padding:4px 10px;border-bottom:1px solid var(--line);text-align:left}
.runs{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,1010px),1fr));gap:16px;align-items:start}
section.run{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 16px;min-width:0}
section.run h2{font-size:15px;margin:0 0 2px;word-break:break-all}
.meta{color:var(--muted);font-size:12.5px;margin:2px 0 8px}
.badge-sev{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;vertical-align:1px}
.sev-ok{background:#2e7d32}.sev-info{background:#4a90c2}.sev-warning{background:#d89000}.sev-error{background:#c62828}
figure.chart,figure.detail{margin:6px 0 10px}
figure.detail{max-width:980px}
figcaption{font-size:12.5px;font-weight:600;color:#394150;margin-bottom:2px}
.plotwrap{position:relative;overflow-x:auto}
svg.plot{width:100%;height:auto;display:block;background:#fff}
svg .grid{stroke:#eef1f5;stroke-width:1}
svg .frame{fill:none;stroke:#c9d0da}
svg .tick{font-size:11px;fill:#6b7280}
svg .axis{font-size:12px;fill:#394150}
svg .vlabel{font-size:11px;fill:#555}
svg .note{font-size:11px;fill:#8a5a00}
svg .badge text{font-size:11px;fill:#fff;font-weight:700}
svg .cross{stroke:#222;stroke-width:1;stroke-dasharray:2 2}
.legend{font-size:12px;color:#394150;display:flex;flex-wrap:wrap;gap:4px 14px;margin-top:2px}
.legend .key svg{vertical-align:middle;margin-right:4px}
.legend-note{color:var(--muted);font-style:italic}
.readout{position:absolute;top:30px;pointer-events:none;background:rgba(255,255,255,.94);border:1px solid #c9d0da;
 border-radius:4px;padding:3px 7px;font-size:12px;white-space:nowrap;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.readout b{font-weight:600}
ol.findings{padding-left:0;list-style:none;margin:8px 0}
ol.findings>li{border-left:4px solid #ccc;padding:6px 10px;margin:8px 0;background:var(--soft);border-radius:0 6px 6px 0}
ol.findings>li.sev-warning{border-color:#d89000}ol.findings>li.sev-error{border-color:#c62828}ol.findings>li.sev-info{border-color:#4a90c2}
ol.findings>li:target{outline:2px solid #4a90c2}
.fnum{display:inline-block;min-width:20px;height:20px;border-radius:10px;color:#fff;text-align:center;font-size:12px;font-weight:700;margin-right:6px}
.cause{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
ul.evidence{margin:4px 0 4px 18px;padding:0;font-size:13px}
.fix{margin:4px 0;font-size:13px}.fix b{color:#2e7d32}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;background:#eef1f5;padding:0 3px;border-radius:3px}
table.facts{border-collapse:collapse;font-size:12.5px;margin:6px 0;width:100%}
table.facts th,table.facts td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
table.facts th{color:var(--muted);font-weight:600}
h3{font-size:13.5px;margin:14px 0 4px;color:#394150}
.notes{color:var(--muted);font-size:12.5px;margin:4px 0 0 18px;padding:0}
.ok{color:#2e7d32;font-weight:600}
footer{color:var(--muted);font-size:12px;padding:8px 24px 20px}
"""

# Linked hover read-out: every chart in a section shares its x position with the others (data-link).
JS = """
(function(){
  function bisect(xs,x){var lo=0,hi=xs.length-1;if(hi<0)return -1;
    while(hi-lo>1){var m=(lo+hi)>>1;if(xs[m]<x)lo=m;else hi=m;}
    return Math.abs(xs[lo]-x)<=Math.abs(xs[hi]-x)?lo:hi;}
  function fmt(v){if(v===null||v===undefined)return '\\u2013';var a=Math.abs(v);
    return (a!==0&&(a<1e-3||a>=1e5))?v.toExponential(4):(+v.toPrecision(5)).toString();}
  var figs=[].slice.call(document.querySelectorAll('figure[data-link]'));
  figs.forEach(function(f){
    var el=f.querySelector('script.chart-data');f._data=el?JSON.parse(el.textContent):{series:[]};
    f._svg=f.querySelector('svg.plot');f._cross=f.querySelector('.cross');f._ro=f.querySelector('.readout');
    var s=f._svg;f._l=+s.dataset.l;f._r=+s.dataset.r;f._x0=+s.dataset.x0;f._x1=+s.dataset.x1;
  });
  function show(f,x){
    var px=f._l+(x-f._x0)/(f._x1-f._x0)*(f._r-f._l);
    if(px<f._l||px>f._r){hide(f);return;}
    f._cross.setAttribute('x1',px);f._cross.setAttribute('x2',px);f._cross.setAttribute('visibility','visible');
    var rows=[],at=null;
    f._data.series.forEach(function(s){var xs=s.x||f._data.x,i=bisect(xs,x);if(i<0)return;
      if(at===null)at=xs[i];
      rows.push('<span style="color:'+s.color+'">\\u25A0</span> '+s.name+': <b>'+fmt(s.y[i])+'</b>');});
    f._ro.innerHTML='<b>'+(f.dataset.xname||'x')+' '+fmt(at)+'</b><br>'+rows.join('<br>');
    f._ro.hidden=false;
    var w=f._svg.getBoundingClientRect().width,vb=f._svg.viewBox.baseVal.width,left=px*w/vb;
    f._ro.style.left=(left>w*0.6?Math.max(left-f._ro.offsetWidth-12,0):left+12)+'px';
  }
  function hide(f){f._cross.setAttribute('visibility','hidden');f._ro.hidden=true;}
  figs.forEach(function(f){
    f._svg.addEventListener('mousemove',function(ev){
      var p=f._svg.createSVGPoint();p.x=ev.clientX;p.y=ev.clientY;
      var q=p.matrixTransform(f._svg.getScreenCTM().inverse());
      var x=f._x0+(q.x-f._l)/(f._r-f._l)*(f._x1-f._x0);
      figs.forEach(function(g){if(g.dataset.link===f.dataset.link)show(g,x);});
    });
    f._svg.addEventListener('mouseleave',function(){
      figs.forEach(function(g){if(g.dataset.link===f.dataset.link)hide(g);});});
  });
  document.body.setAttribute('data-charts',figs.length);
  // smallest chart text as drawn, in CSS px (the headless-browser test reads it)
  var minpx=1e9;figs.forEach(function(f){var sc=f._svg.getBoundingClientRect().width/f._svg.viewBox.baseVal.width;
    [].forEach.call(f._svg.querySelectorAll('text'),function(t){
      var px=parseFloat(getComputedStyle(t).fontSize)*sc;if(px<minpx)minpx=px;});});
  if(figs.length)document.body.setAttribute('data-min-text-px',minpx.toFixed(1));
  // '#selftest' (used by the headless-browser test): hover the middle of the first chart.
  if(location.hash==='#selftest'&&figs.length){var r=figs[0]._svg.getBoundingClientRect();
    figs[0]._svg.dispatchEvent(new MouseEvent('mousemove',{clientX:r.left+r.width*0.5,clientY:r.top+r.height*0.5}));}
  console.log('lrguard report ready: '+figs.length+' charts');
})();
"""


def page(title: str, subtitle: str, body: str) -> str:
    """Wrap ``body`` in the report's HTML shell (inline CSS and script)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{E(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>{E(title)}</h1><p>{E(subtitle)}</p></header>'
        f"<main>{body}</main>"
        f"<footer>Written by lrguard {E(__version__)}. Self-contained: no network access is needed to view this file."
        " Hover a chart to read values; numbered markers link to the findings.</footer>"
        f"<script>{JS}</script></body></html>\n"
    )


def _lr_y_range(
    lr: np.ndarray, bias: int, warm: np.ndarray, extra: np.ndarray | None = None
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """Y range of every value, and a zoomed range for the post-warmup values when the full one squashes them.

    During warmup the bias group falls from warmup_bias_lr (0.1) while lr0 is 0.01. The full range
    always shows it (nothing is drawn off the chart); when it is more than twice the rest, a second,
    zoomed range (every value but the bias group's warmup rows) keeps the decay readable.
    """
    keep = np.ones(lr.shape, dtype=bool)
    if 0 <= bias < lr.shape[1]:
        keep[warm, bias] = False
    rest = lr[keep & np.isfinite(lr)]
    every = lr[np.isfinite(lr)]
    if extra is not None:
        fin = extra[np.isfinite(extra)]
        rest, every = np.concatenate([rest, fin]), np.concatenate([every, fin])
    if every.size == 0:
        return None, None

    def span(v: np.ndarray) -> tuple[float, float]:
        hi, lo = float(v.max()), min(0.0, float(v.min()))
        return lo, hi * 1.08 if hi > 0 else 1.0

    full = span(every)
    if rest.size == 0 or not float(every.max()) > 2 * float(rest.max()):
        return full, None
    return full, span(rest)


PLAN_COLOR = {"config": "#8d99ab", "as-run": "#8d99ab", "changed": "#b07cc6"}


def _plan_series(p, x: np.ndarray, n: int, ref: int, a: int = 0, b: int | None = None) -> Series:
    """The planned LR of piece ``p`` on rows ``a..b-1`` (NaN elsewhere), drawn as a pale band."""
    b = n if b is None else b
    y = np.full(b - a, np.nan)
    lo, hi = max(a, p.first_row), min(b, p.last_row + 1)
    if lo < hi:
        y[lo - a : hi - a] = p.lr[lo - p.first_row : hi - p.first_row, ref]
    return Series(p.label, x[a:b], y, PLAN_COLOR.get(p.kind, "#8d99ab"), width=7.0, opacity=0.45)


def _overlap_note(d: Diagnosis, warm: np.ndarray) -> str:
    """Legend note naming the groups drawn on top of each other (e.g. ``x/lr0 = x/lr1 after warmup``)."""
    lr, ref, cols = d.run.lr, d.reference_group, d.run.lr_columns
    bits = []
    for j in range(lr.shape[1]):
        if j == ref:
            continue
        a, b = lr[:, j], lr[:, ref]
        both = np.isfinite(a) & np.isfinite(b)
        if not both.any():
            continue
        same = np.zeros(a.shape, dtype=bool)
        same[both] = np.abs(a[both] - b[both]) <= 1e-4 * np.maximum(np.abs(b[both]), 1e-12)
        if same[both].all():
            bits.append(f"{cols[j]} = {cols[ref]} on every row")
        elif (both & ~warm).any() and same[both & ~warm].all():
            bits.append(f"{cols[j]} = {cols[ref]} after warmup")
    if not bits:
        return ""
    return "; ".join(bits) + " (drawn as alternating dashes over the solid line)"


def _x_axis(d: Diagnosis) -> tuple[np.ndarray, str]:
    axis = d.run.axis
    if axis is not None and axis.unit == "step":
        steps = axis.values.astype(float)
        if steps.size < 2 or np.all(np.diff(steps) > 0):
            return steps, "optimizer step (as logged)"
        return np.arange(steps.size, dtype=float), "logged row (the step goes back)"
    ep = d.run.epochs.astype(float)
    if ep.size < 2 or np.all(np.diff(ep) > 0):
        return ep, "epoch (as in results.csv)"
    return np.arange(ep.size, dtype=float), "row of results.csv (the epoch column goes back)"


def _warmup_rows(d: Diagnosis) -> np.ndarray:
    """Rows that contain warmup iterations (ramp rows when nb is unknown)."""
    from lrguard.schedules.curve import nw_of

    if d.spec is None:  # a step-counted run: its warmup is part of the plan, not marked apart
        return np.zeros(d.run.n_rows, dtype=bool)
    idx = d.run.epochs - d.profile.epoch_base
    nb = d.epoch_spec.nb
    if nb:
        nw = nw_of(d.epoch_spec, d.profile)
        return (idx * nb <= nw) & (nw > 0)
    return idx <= 3


#: Markers and shaded windows of the live guard's own actions on the timeline.
GUARD_COLOR = "#8e44ad"
GUARD_BAND = "#f3e9f8"


def _finding_color(sev: str) -> str:
    return SEVERITY_COLOR.get(sev, "#777")


def _run_section(d: Diagnosis, k: int) -> str:
    run = d.run
    x, x_label = _x_axis(d)
    rid = f"run{k}"
    n = run.n_rows
    groups = run.n_groups
    names = d.profile.group_names
    series: list[Series] = []
    ref = d.reference_group
    others = [j for j in range(groups) if j != ref]
    # The reference group is drawn first, wide and solid; the others on top of it in short dashes
    # whose offsets alternate, so groups that coincide (after warmup in YOLOv5, all of them) all show.
    period = 5 * (len(others) + 1)
    for k, j in enumerate([ref, *others] if ref < groups else others):
        label = f"{run.lr_columns[j]}" + (f" ({names[j]})" if j < len(names) else "")
        series.append(
            Series(
                label,
                x,
                run.lr[:, j],
                PALETTE[j % len(PALETTE)],
                width=2.6 if j == ref else 1.6,
                dash=None if j == ref else f"5 {period - 5}",
                dash_offset=0.0 if j == ref else -5.0 * (k - 1),
            )
        )
    # Plans are wide, pale bands under the logged lines: where the run followed its plan the line
    # runs inside the band, where it left it the line leaves the band.
    pieces = plan_pieces(d)
    series[:0] = [_plan_series(p, x, n, ref) for p in pieces]
    warm = _warmup_rows(d)
    planned_ref = stitched(pieces, n, ref) if pieces else None
    y_range, zoom_range = _lr_y_range(run.lr, d.profile.warmup_bias_group, warm, planned_ref)
    legend_note = _overlap_note(d, warm)
    bands, vlines = _sessions_marks(d, x)
    fl_lines = []
    for i, f in enumerate(d.findings):
        if f.row is None or f.row >= n:
            continue
        guard = f.cause.value == "guard-action"
        fl_lines.append(
            VLine(
                float(x[f.row]),
                label=f"guard: {f.data.get('action')}" if guard else "",
                color=GUARD_COLOR if guard else _finding_color(f.severity.value),
                dash=None if f.severity.value != "info" else "2 3",
                badge=str(i + 1),
                href=f"#{rid}-f{i + 1}",
                title=f"{i + 1}. {f.severity.value}: {f.title}",
            )
        )
        window = f.data.get("window_rows") if guard else None
        if window and 0 <= window[0] <= window[1] < n:
            lo, hi = float(x[window[0]]), float(x[window[1]])
            bands.append(
                Band(lo - 0.5, hi + 0.5, GUARD_BAND, f"the guard changed the LR here ({f.data.get('action')})")
            )
    lr_title = (
        (
            "Learning rate per param group as logged (lines) over the plan (pale band"
            + ("s: grey as planned when it ran, purple the changed plan" if len(pieces) > 1 else "")
            + ")"
        )
        if pieces
        else "Learning rate per param group as logged"
    )
    lr_chart = render_chart(
        ChartSpec(
            f"{rid}-lr",
            lr_title,
            series,
            x_label=x_label,
            y_label="learning rate",
            vlines=vlines + fl_lines,
            bands=bands,
            y_range=y_range,
            link=rid,
            legend_note=legend_note,
            height=300,
        )
    )
    if zoom_range is not None:
        lr_chart += render_chart(
            ChartSpec(
                f"{rid}-lrzoom",
                "The same, zoomed to the values after warmup (the bias group's warmup start is in the chart above)",
                series,
                x_label=x_label,
                y_label="learning rate",
                vlines=vlines + fl_lines,
                bands=bands,
                y_range=zoom_range,
                link=rid,
                legend_note=legend_note,
                note="y zoomed: the bias group's warmup start is above this range",
                height=260,
                css_class="chart zoom",
            )
        ).replace("<figure ", '<figure data-xname="epoch" ', 1)
    loss_series = [
        Series(name, x, v, PALETTE[(i + 3) % len(PALETTE)], width=1.6)
        for i, (name, v) in enumerate(run.train_losses.items())
    ]
    if len(loss_series) > 1:
        total = np.sum(np.vstack(list(run.train_losses.values())), axis=0)
        loss_series.append(Series("train total", x, total, "#333", width=1.2, dash="3 2"))
    loss_chart = (
        render_chart(
            ChartSpec(
                f"{rid}-loss",
                "Train losses (same x axis)",
                loss_series,
                x_label=x_label,
                y_label="loss",
                vlines=vlines + fl_lines,
                bands=bands,
                link=rid,
                height=200,
            )
        )
        if loss_series
        else '<p class="meta">no train loss columns in results.csv</p>'
    )
    worst = d.worst.value if d.worst else "ok"
    problems = sum(1 for f in d.findings if f.severity.value != "info")
    badge = "OK" if problems == 0 else f"{problems} problem{'s' if problems != 1 else ''}"
    s = d.spec
    if s is None:
        meta = (
            f"{run.framework} {run.framework_version or '(version not recorded)'} · {d.profile.label} · "
            f"{n} logged steps · "
            + (
                ("plan inferred from the logged LR" if _inferred(d) else "plan rebuilt from the saved settings")
                if np.isfinite(d.planned).any()
                else "no plan on disk"
            )
        )
    else:
        sched = "cosine" if s.cos_lr else "linear"
        meta = (
            f"{run.framework} {run.framework_version or '(version not recorded)'} · maths of {d.profile.label} · "
            f"planned {sched} lr0 {s.lr0:.6g} → lrf {s.lrf:g} over {s.epochs} epochs, warmup {s.warmup_epochs:g}"
            + (f", {s.nb} batches/epoch" if s.nb else "")
            + f" · {n} rows, reference column {run.lr_columns[ref]}"
        )
    xname = "step" if run.unit == "step" else "epoch"
    parts = [
        f'<section class="run" id="{rid}"><h2>{E(str(run.path))} '
        f'<span class="badge-sev sev-{"ok" if problems == 0 else worst}">{E(badge)}</span></h2>',
        f'<p class="meta">{E(meta)}</p>',
        lr_chart.replace("<figure ", f'<figure data-xname="{xname}" ', 1),
        loss_chart.replace("<figure ", f'<figure data-xname="{xname}" ', 1),
        _findings_html(d, x, rid),
        _sessions_table(d),
        _checkpoints_table(d),
    ]
    if d.notes:
        parts.append('<h3>Notes</h3><ul class="notes">' + "".join(f"<li>{E(nt)}</li>" for nt in d.notes) + "</ul>")
    parts.append("</section>")
    return "".join(parts)


def _sessions_marks(d: Diagnosis, x: np.ndarray) -> tuple[list[Band], list[VLine]]:
    bands, vlines = [], []
    for s in d.sessions:
        if s.index % 2 == 1:
            a = float(x[s.first_row]) - 0.5 if x.size > 1 else float(x[s.first_row])
            bands.append(Band(a, float(x[s.last_row]) + 0.5, "#eef3fa", f"session {s.index + 1}: {s.start}"))
        if s.index > 0:
            vlines.append(
                VLine(
                    float(x[s.first_row]) - 0.5,
                    label=f"{s.start} (session {s.index + 1})",
                    color="#7a8699",
                    title=f"session {s.index + 1} starts: {s.evidence}",
                )
            )
    return bands, vlines


def _findings_html(d: Diagnosis, x: np.ndarray, rid: str) -> str:
    if not d.findings:
        return '<h3>Findings</h3><p class="ok">No finding: the logged LR follows its schedule.</p>'
    items = []
    lines = d.run.table.line_numbers
    for i, f in enumerate(d.findings):
        sev = f.severity.value
        axis = d.run.axis
        if d.run.unit == "step" and axis is not None and f.row is not None and f.row < len(lines):
            where = f"step {int(axis.values[f.row])}" + (f", epoch {f.epoch}" if f.epoch is not None else "")
        else:
            where = f"epoch {f.epoch}" if f.epoch is not None else "whole run"
            if f.row is not None and f.row < len(lines):
                where += f", line {int(lines[f.row])}"
        ev = "".join(f"<li>{E(e)}</li>" for e in f.evidence)
        fix = f'<p class="fix"><b>Fix:</b> {_code_spans(f.fix)}</p>' if f.fix else ""
        detail = _detail_chart(d, x, f.row, f"{rid}-f{i + 1}-zoom", rid) if f.row is not None and sev != "info" else ""
        items.append(
            f'<li id="{rid}-f{i + 1}" class="finding sev-{sev}"><span class="fnum" style="background:{_finding_color(sev)}">{i + 1}</span>'
            f'<span class="badge-sev sev-{sev}">{E(sev)}</span> <span class="cause">{E(f.cause.value)}</span> '
            f"at {E(where)}: <b>{E(f.title)}</b>"
            f"{f'<ul class=evidence>{ev}</ul>' if ev else ''}{fix}{detail}</li>"
        )
    return '<h3>Findings</h3><ol class="findings">' + "".join(items) + "</ol>"


def _code_spans(text: str) -> str:
    """Escape ``text`` and show `backticked` parts as code."""
    parts = text.split("`")
    return "".join(f"<code>{E(p)}</code>" if i % 2 else E(p) for i, p in enumerate(parts))


def _detail_chart(d: Diagnosis, x: np.ndarray, row: int, cid: str, link: str) -> str:
    x_label = _x_axis(d)[1]
    n = d.run.n_rows
    if n <= 40:
        return ""
    w = max(8, min(60, n // 40))
    a, b = max(row - w, 0), min(row + w + 1, n)
    ref = d.reference_group
    series = [
        Series(f"{d.run.lr_columns[ref]} logged", x[a:b], d.run.lr[a:b, ref], PALETTE[ref % len(PALETTE)], width=2.2)
    ]
    series[:0] = [_plan_series(p, x, n, ref, a, b) for p in plan_pieces(d) if p.first_row < b and p.last_row >= a]
    chart = render_chart(
        ChartSpec(
            cid,
            f"Close-up: epochs {int(d.run.epochs[a])} to {int(d.run.epochs[b - 1])}"
            if x_label.startswith("epoch")
            else f"Close-up: steps {int(x[a])} to {int(x[b - 1])}"
            if x_label.startswith("optimizer step")
            else f"Close-up: lines {int(d.run.table.line_numbers[a])} to {int(d.run.table.line_numbers[b - 1])}",
            series,
            x_label=x_label,
            y_label="LR",
            vlines=[VLine(float(x[row]), color="#c62828", dash="2 2", title="here")],
            width=640,
            height=170,
            css_class="detail",
            link=f"{link}-zoom-{row}",
        )
    )
    return chart.replace("<figure ", '<figure data-xname="epoch" ', 1)


def _sessions_table(d: Diagnosis) -> str:
    lines = d.run.table.line_numbers
    rows = "".join(
        f"<tr><td>{s.index + 1}</td><td>{s.first_epoch}–{s.last_epoch}</td><td>{int(lines[s.first_row])}–{int(lines[s.last_row])}</td>"
        f"<td>{E(s.start)}</td><td>{E(s.evidence)}</td></tr>"
        for s in d.sessions
    )
    return (
        '<h3>Sessions</h3><table class="facts"><tr><th>#</th><th>epochs</th><th>lines</th><th>start</th><th>evidence</th></tr>'
        f"{rows}</table>"
    )


def _fmt_list(vals) -> str:
    return ", ".join("–" if v is None else f"{v:.6g}" for v in vals) or "–"


def _checkpoints_table(d: Diagnosis) -> str:
    cks = d.run.checkpoints
    if not cks:
        return '<h3>Checkpoints</h3><p class="meta">no checkpoint read (none under weights/, or --no-checkpoints)</p>'
    rows = []
    for c in cks:
        ta = c.train_args or {}
        state = "stripped (training finished)" if c.stripped else "resumable" if c.has_optimizer else "no optimizer"
        ratio = ""
        if c.lrs and c.initial_lrs and c.initial_lrs[0]:
            ratio = f"{c.lrs[0] / c.initial_lrs[0]:.6g}"
        rows.append(
            f"<tr><td>{E(Path(c.path).name)}</td><td>{'–' if c.epoch is None else c.epoch}</td><td>{E(state)}</td>"
            f"<td>{E(_fmt_list(c.lrs))}</td><td>{E(_fmt_list(c.initial_lrs))}</td><td>{E(ratio or '–')}</td>"
            f"<td>{'–' if c.updates is None else c.updates}</td><td>{E(str(ta.get('epochs', '–')))}</td>"
            f"<td>{E(c.version or '–')}</td><td>{E((c.date or '–')[:19])}</td></tr>"
        )
    return (
        '<h3>Checkpoints</h3><table class="facts"><tr><th>file</th><th>epoch</th><th>state</th><th>lr per group</th>'
        "<th>initial_lr</th><th>lf = lr/initial_lr</th><th>EMA updates</th><th>epochs (stored args)</th><th>version</th><th>date</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def render_html(diagnoses: list[Diagnosis]) -> str:
    """Return the report page for ``diagnoses``."""
    overview = ""
    if len(diagnoses) > 1:
        rows = []
        for k, d in enumerate(diagnoses):
            problems = sum(1 for f in d.findings if f.severity.value != "info")
            worst = d.worst.value if d.worst and problems else "ok"
            rows.append(
                f'<tr><td><a href="#run{k}">{E(str(d.run.path))}</a></td><td>{E(d.run.framework)}</td>'
                f"<td>{d.run.n_rows}</td><td>{len(d.sessions)}</td>"
                f'<td><span class="badge-sev sev-{worst}">{E("OK" if worst == "ok" else f"{problems} {worst}")}</span></td></tr>'
            )
        overview = (
            '<table class="overview"><tr><th>run</th><th>trainer</th><th>rows</th><th>sessions</th><th>result</th></tr>'
            + "".join(rows)
            + "</table>"
        )
    body = overview + '<div class="runs">' + "".join(_run_section(d, k) for k, d in enumerate(diagnoses)) + "</div>"
    n = len(diagnoses)
    return page("lrguard: learning-rate report", f"{n} run{'s' if n != 1 else ''}", body)


def write_html(diagnoses: list[Diagnosis], path: str | Path) -> Path:
    """Write the self-contained report for ``diagnoses`` to ``path``."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(diagnoses), encoding="utf-8")
    return p


# --- plans ---------------------------------------------------------------------------------------


def _plan_section(plan: Plan, k: int) -> str:
    from lrguard.plan.render import key_rows

    pid = f"plan{k}"
    x = plan.x.astype(float)
    cols = plan.columns
    names = plan.config.profile.group_names
    observed = getattr(plan, "observed_rows", 0)
    series = []
    for j in sorted(range(plan.lr.shape[1]), key=lambda g: g == plan.ref):
        label = cols[j] + (f" ({names[j]})" if j < len(names) else "")
        series.append(Series(label, x, plan.lr[:, j], PALETTE[j % len(PALETTE)], width=2.4 if j == plan.ref else 1.5))
    if observed:
        series.append(
            Series(
                f"{cols[plan.ref]} logged by the old run",
                x[:observed],
                plan.lr[:observed, plan.ref],
                "#111",
                width=1.2,
                dash="2 2",
            )
        )
    bands, vlines = [], []
    for i, seg in enumerate(plan.segments):
        if i % 2 == 1:
            bands.append(Band(x[seg.first_row] - 0.5, x[seg.last_row] + 0.5, "#eef3fa", seg.label))
        if seg.first_row > 0:
            vlines.append(VLine(x[seg.first_row] - 0.5, label=seg.kind, color="#7a8699", title=seg.label))
    for i, lint in enumerate(plan.lints):
        if lint.row is not None and lint.row < x.size:
            vlines.append(
                VLine(
                    float(x[lint.row]),
                    color=_finding_color(lint.severity.value),
                    dash=None,
                    badge=str(i + 1),
                    href=f"#{pid}-l{i + 1}",
                    title=lint.title,
                )
            )
    warm = np.zeros(x.size, dtype=bool)
    for seg in plan.segments:
        if seg.kind != "resume":
            from lrguard.schedules.curve import warmup_rows

            w = warmup_rows(seg.spec, plan.config.profile)
            warm[seg.first_row : seg.first_row + w] = True
    y_range, zoom_range = _lr_y_range(plan.lr, plan.config.profile.warmup_bias_group, warm)
    x_label = "training epoch" if len(plan.segments) > 1 and plan.segments[-1].kind == "from-weights" else "epoch"
    charts = [
        render_chart(
            ChartSpec(
                f"{pid}-lr",
                "Planned learning rate per param group, per epoch (as results.csv will log it)",
                series,
                x_label=x_label,
                y_label="learning rate",
                vlines=vlines,
                bands=bands,
                y_range=y_range,
                link=pid,
                height=300,
            )
        ).replace("<figure ", '<figure data-xname="epoch" ', 1)
    ]
    if zoom_range is not None:
        charts.append(
            render_chart(
                ChartSpec(
                    f"{pid}-lrzoom",
                    "The same, zoomed to the values after warmup (the bias group's warmup start is in the chart above)",
                    series,
                    x_label=x_label,
                    y_label="learning rate",
                    vlines=vlines,
                    bands=bands,
                    y_range=zoom_range,
                    link=pid,
                    note="y zoomed: the bias group's warmup start is above this range",
                    height=260,
                    css_class="chart zoom",
                )
            ).replace("<figure ", '<figure data-xname="epoch" ', 1)
        )
    for i, view in enumerate(plan.iterations):
        it_series = [
            Series(cols[j], view.epochs, view.lr[:, j], PALETTE[j % len(PALETTE)], width=2.0 if j == plan.ref else 1.4)
            for j in range(view.lr.shape[1])
        ]
        charts.append(
            render_chart(
                ChartSpec(
                    f"{pid}-it{i}",
                    f"Per iteration: {view.label}",
                    it_series,
                    x_label="epoch (fractional, per iteration)",
                    integer_x=False,
                    y_label="learning rate",
                    link=f"{pid}-it{i}",
                    height=220,
                )
            ).replace("<figure ", '<figure data-xname="epoch" ', 1)
        )
    lint_items = []
    for i, lint in enumerate(plan.lints):
        sev = lint.severity.value
        fix = f'<p class="fix"><b>Fix:</b> {_code_spans(lint.fix)}</p>' if lint.fix else ""
        lint_items.append(
            f'<li id="{pid}-l{i + 1}" class="finding sev-{sev}"><span class="fnum" style="background:{_finding_color(sev)}">{i + 1}</span>'
            f'<span class="badge-sev sev-{sev}">{E(sev)}</span> <span class="cause">{E(lint.rule)}</span>: <b>{E(lint.title)}</b>'
            f"{f'<ul class=evidence><li>{E(lint.detail)}</li></ul>' if lint.detail else ''}{fix}</li>"
        )
    lints = (
        '<h3>Lints and planned jumps</h3><ol class="findings">' + "".join(lint_items) + "</ol>"
        if lint_items
        else '<h3>Lints</h3><p class="ok">Nothing to report.</p>'
    )
    head = "".join(f"<th>{E(c)}</th>" for c in cols)
    rows = "".join(
        f"<tr><td>{int(plan.epoch_label[r])}</td>"
        + "".join(f"<td>{v:.5g}</td>" for v in plan.lr[r])
        + f"<td>{E(w)}</td></tr>"
        for r, w in key_rows(plan)
    )
    table = f'<h3>Key epochs</h3><table class="facts"><tr><th>epoch</th>{head}<th></th></tr>{rows}</table>'
    notes = [*plan.config.notes, *plan.notes]
    notes_html = (
        '<h3>Notes</h3><ul class="notes">' + "".join(f"<li>{E(n)}</li>" for n in notes) + "</ul>" if notes else ""
    )
    jumps = len(plan.jumps)
    badge = "no jump" if not jumps else f"{jumps} jump{'s' if jumps != 1 else ''}"
    sev = "ok" if not jumps else "error"
    cfg = plan.config
    meta = f"{cfg.framework} · {cfg.profile.label} · batch {cfg.batch}" + (
        f", {cfg.spec.nb} batches/epoch" if cfg.spec.nb else ""
    )
    return (
        f'<section class="run" id="{pid}"><h2>{E(plan.scenario)} <span class="badge-sev sev-{sev}">{E(badge)}</span></h2>'
        f'<p class="meta">{E(meta)}</p>{"".join(charts)}{lints}{table}{notes_html}</section>'
    )


def write_plan_html(plans: list[Plan], path: str | Path, title: str = "lrguard: planned learning rate") -> Path:
    """Write a self-contained page with the planned curves, seams, jumps and lints of ``plans``."""
    body = '<div class="runs">' + "".join(_plan_section(p, k) for k, p in enumerate(plans)) + "</div>"
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(page(title, plans[0].scenario if len(plans) == 1 else f"{len(plans)} plans", body), encoding="utf-8")
    return p


def _inferred(d: Diagnosis) -> bool:
    """True when the plan was read off the logged LR (the reader's ``planned: ... inferred`` note)."""
    return any(n.startswith("planned:") and "inferred" in n for n in d.notes)
