"""Terminal report of a diagnosis (rich)."""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.result import Diagnosis
from lrguard.model import Severity

_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "bold yellow", Severity.ERROR: "bold red"}
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: np.ndarray, width: int = 64) -> str:
    """A one-line unicode sketch of ``values`` (max per bucket), NaN shown as a space."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return ""
    buckets = np.array_split(v, min(width, v.size))
    peaks = np.array([np.nanmax(b) if np.isfinite(b).any() else np.nan for b in buckets])
    finite = peaks[np.isfinite(peaks)]
    if finite.size == 0:
        return " " * len(peaks)
    lo, hi = float(finite.min()), float(finite.max())
    span = hi - lo if hi > lo else 1.0
    return "".join(" " if not np.isfinite(p) else _BARS[int((p - lo) / span * (len(_BARS) - 1))] for p in peaks)


def render_terminal(d: Diagnosis, console=None, verbose: bool = False) -> None:
    """Print ``d`` to ``console`` (a ``rich.console.Console``; stdout by default)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console or Console(highlight=False)
    run = d.run
    version = run.framework_version or "version not recorded"
    con.print(f"[bold]{escape(str(run.path))}[/]")
    con.print(f"  {run.framework.value} ({escape(version)}; maths of {escape(d.profile.label)})")
    if d.version.get("summary") and not d.version.get("recorded"):
        con.print(f"  version: {escape(d.version['summary'])}")
    s = d.spec
    sched = "cosine" if s.cos_lr else "linear"
    nb = f", {s.nb} batches/epoch" if s.nb else ""
    con.print(
        f"  planned: {sched} lr0 {s.lr0:.6g} -> lrf {s.lrf:g} over {s.epochs} epochs, warmup {s.warmup_epochs:g} "
        f"epochs{nb}; {run.n_rows} rows, reference column {escape(run.lr_columns[d.reference_group])}"
    )
    ref = run.lr[:, d.reference_group]
    peak = f"{np.nanmax(ref):.3g} max" if np.isfinite(ref).any() else "no finite value"
    con.print(f"  LR  [green]{sparkline(ref)}[/]  {peak}")
    if len(d.sessions) > 1 or verbose:
        t = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        t.add_column("session")
        t.add_column("epochs")
        t.add_column("start")
        t.add_column("evidence", overflow="fold")
        for sess in d.sessions:
            t.add_row(str(sess.index + 1), f"{sess.first_epoch}-{sess.last_epoch}", sess.start, escape(sess.evidence))
        con.print(t)
    shown = [f for f in d.findings if verbose or f.severity is not Severity.INFO or f.cause.value == "warmup"]
    for f in shown:
        style = _STYLE[f.severity]
        where = f"epoch {f.epoch}" if f.epoch is not None else ("the next resume" if f.data.get("predicted") else "run")
        con.print(f"  [{style}]{f.severity.value.upper():7}[/] [bold]{f.cause.value}[/] at {where}: {escape(f.title)}")
        if f.severity is not Severity.INFO or verbose:
            for line in f.evidence:
                con.print(f"           - {escape(line)}")
            if f.fix:
                con.print(f"           [green]fix:[/] {escape(f.fix)}")
    hidden = len(d.findings) - len(shown)
    if hidden:
        con.print(f"  [dim]{hidden} more info finding(s); --verbose shows them[/]")
    for note in d.notes:
        con.print(f"  [dim]note: {escape(note)}[/]")
    worst = d.worst
    if worst is None or worst is Severity.INFO:
        con.print("  [bold green]OK[/]: the logged LR follows its schedule")
    else:
        n = sum(1 for f in d.findings if f.severity is not Severity.INFO)
        con.print(f"  [{_STYLE[worst]}]{n} problem(s) found[/]")
    con.print()
