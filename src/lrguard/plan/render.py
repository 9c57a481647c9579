"""Terminal and JSON renderings of a :class:`~lrguard.plan.scenario.Plan`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lrguard.model import Severity
from lrguard.plan.scenario import Plan
from lrguard.schedules.curve import nw_of

_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "bold yellow", Severity.ERROR: "bold red"}


def key_rows(plan: Plan, limit: int = 18) -> list[tuple[int, str]]:
    """Rows worth a table line: start, end of warmup, every seam and jump, a few in between, the end."""
    n = plan.lr.shape[0]
    picks: dict[int, str] = {0: "first epoch"}
    prof = plan.config.profile
    for seg in plan.segments:
        if seg.first_row > 0:
            picks[seg.first_row - 1] = picks.get(seg.first_row - 1, "last epoch before " + seg.kind)
            picks[seg.first_row] = {"resume": "first resumed epoch", "from-weights": "new run, epoch 0"}.get(
                seg.kind, seg.kind
            )
        nb = seg.spec.nb
        nw = nw_of(seg.spec, prof)
        if nb and nw > 0 and seg.kind != "resume":
            end = seg.first_row + nw // nb
            if end <= seg.last_row:
                picks.setdefault(end, "warmup ends")
                if end + 1 <= seg.last_row:
                    picks.setdefault(end + 1, "after warmup")
    for j in plan.jumps[:6]:
        picks[j.row] = (
            (f"JUMP {j.rel * 100:+.1f}%" if j.span == 1 else f"RISE {j.rel * 100:+.1f}% over {j.span} epochs")
            if math.isfinite(j.rel)
            else "JUMP"
        )
        if j.row - 1 >= 0:
            picks.setdefault(j.row - 1, "before the jump")
        if j.row + 1 < n:
            picks.setdefault(j.row + 1, "")
    for j in plan.drops[:6]:
        picks[j.row] = f"DROP {j.rel * 100:+.1f}%"
        if j.row - 1 >= 0:
            picks.setdefault(j.row - 1, "before the drop")
    picks.setdefault(n - 1, "last epoch")
    room = max(limit - len(picks), 0)
    if room:
        for r in np.linspace(0, n - 1, room + 2)[1:-1].round().astype(int):
            picks.setdefault(int(r), "")
    return sorted(picks.items())


def render_plan(plan: Plan, console=None) -> None:
    """Print ``plan`` (its config, segments, key rows, sparkline, jumps and lints) with rich."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lrguard.reports.terminal import sparkline

    con = console or Console(highlight=False)
    cfg = plan.config
    s = cfg.spec
    con.print(f"[bold]lrguard plan[/]: {cfg.framework} ({escape(cfg.profile.label)})")
    src = ", ".join(cfg.sources) or "defaults + options"
    nb = f"{s.nb} batches/epoch" if s.nb else "batches/epoch unknown"
    con.print(f"  config: {escape(src)}; batch {cfg.batch}, {nb}, optimizer {escape(cfg.optimizer)}")
    con.print(f"  scenario: {escape(plan.scenario)}")
    if len(plan.segments) > 1:
        t = Table(box=None, pad_edge=False, header_style="dim")
        t.add_column("process")
        t.add_column("epochs (as logged)")
        t.add_column("schedule")
        for k, seg in enumerate(plan.segments):
            a, b = int(plan.epoch_label[seg.first_row]), int(plan.epoch_label[seg.last_row])
            t.add_row(str(k + 1), f"{a}-{b}", escape(seg.label))
        con.print(t)
    cols = plan.columns
    t = Table(box=None, pad_edge=False, header_style="dim", title=None)
    t.add_column("epoch", justify="right")
    for j, c in enumerate(cols):
        name = cfg.profile.group_names[j] if j < len(cfg.profile.group_names) else ""
        t.add_column(f"{c}\n[dim]{escape(name)}[/]", justify="right")
    t.add_column("")
    jump_rows = {j.row for j in plan.jumps}
    drop_rows = {j.row for j in plan.drops}
    for row, what in key_rows(plan):
        style = "bold red" if row in jump_rows else "bold yellow" if row in drop_rows else None
        t.add_row(str(int(plan.epoch_label[row])), *(f"{v:.5g}" for v in plan.lr[row]), escape(what), style=style)
    con.print(t)
    ref = plan.lr[:, plan.ref]
    con.print(f"  {cols[plan.ref]} [green]{sparkline(ref)}[/]  {float(np.nanmax(ref)):.3g} max, per epoch")
    for lint in plan.lints:
        style = _STYLE[lint.severity]
        con.print(f"  [{style}]{lint.severity.value.upper():7}[/] [bold]{lint.rule}[/]: {escape(lint.title)}")
        if lint.detail:
            con.print(f"           {escape(lint.detail)}")
        if lint.fix and lint.severity is not Severity.INFO:
            con.print(f"           [green]fix:[/] {escape(lint.fix)}")
    for note in [*cfg.notes, *plan.notes]:
        con.print(f"  [dim]note: {escape(note)}[/]")
    if not plan.jumps and not plan.drops:
        con.print("  [bold green]no jump and no step down outside warmup: one continuous schedule[/]")
    elif not plan.jumps:
        con.print(f"  [bold green]no upward jump outside warmup[/]; {len(plan.drops)} downward step(s), listed above")
    con.print()


def _step_dict(j) -> dict[str, Any]:
    return {
        "row": j.row,
        "epoch": j.epoch,
        "kind": j.kind,
        "direction": j.direction,
        "column": j.column,
        "before": j.before,
        "after": j.after,
        "relative": j.rel,
        "expected": j.expected,
        "why": j.why,
        "others": {k: list(v) for k, v in j.others.items()},
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    """JSON-ready dict of a plan.

    Keys: config, segments, per-epoch curve, ``jumps`` (up), ``drops`` (down), both again as
    ``discontinuities`` in row order (each with ``direction``), lints, notes.
    """
    from lrguard.reports.jsonreport import plain

    cfg = plan.config
    s = cfg.spec
    return plain(
        {
            "framework": cfg.framework,
            "profile": cfg.profile.name,
            "scenario": plan.scenario,
            "config": {
                "lr0": s.lr0,
                "requested_lr0": cfg.requested_lr0,
                "lrf": s.lrf,
                "epochs": s.epochs,
                "cos_lr": s.cos_lr,
                "warmup_epochs": s.warmup_epochs,
                "warmup_bias_lr": s.warmup_bias_lr,
                "batches_per_epoch": s.nb,
                "warmup_iterations": nw_of(s, cfg.profile) if s.nb else None,
                "batch": cfg.batch,
                "images": cfg.images,
                "optimizer": cfg.optimizer,
                "weight_decay": cfg.weight_decay,
                "time": cfg.time,
                "sources": cfg.sources,
            },
            "segments": [
                {
                    "kind": seg.kind,
                    "first_epoch": int(plan.epoch_label[seg.first_row]),
                    "last_epoch": int(plan.epoch_label[seg.last_row]),
                    "first_row": seg.first_row,
                    "last_row": seg.last_row,
                    "label": seg.label,
                    "epochs": seg.spec.epochs,
                    "lr0": seg.spec.lr0,
                    "lrf": seg.spec.lrf,
                    "cos_lr": seg.spec.cos_lr,
                }
                for seg in plan.segments
            ],
            "lr_columns": plan.columns,
            "curve": {
                "epoch": [int(v) for v in plan.epoch_label],
                "lr": {c: [float(f"{v:.6g}") for v in plan.lr[:, j]] for j, c in enumerate(plan.columns)},
            },
            "jumps": [_step_dict(j) for j in plan.jumps],
            "drops": [_step_dict(j) for j in plan.drops],
            "discontinuities": [_step_dict(j) for j in plan.discontinuities],
            "lints": [
                {
                    "rule": x.rule,
                    "severity": x.severity.value,
                    "title": x.title,
                    "detail": x.detail,
                    "fix": x.fix,
                    "row": x.row,
                }
                for x in plan.lints
            ],
            "notes": [*cfg.notes, *plan.notes],
        }
    )
