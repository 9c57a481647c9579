"""Terminal report of a diagnosis (plain text, wrapped; ANSI styles on a terminal)."""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.result import Diagnosis
from lrguard.model import Finding, Severity
from lrguard.reports.layout import Writer, table

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


def render_terminal(d: Diagnosis, console=None, verbose: bool = False, *, stream=None) -> None:
    """Print ``d`` for people: to ``console`` (a ``rich.console.Console``) if given, else to ``stream`` (stdout).

    Lines are wrapped to the output's width with continuation lines indented under their text;
    a `backticked` command is never split (see :mod:`lrguard.reports.layout`). Without a console,
    rich is not imported: ANSI styles are written only to a terminal.
    """
    w = Writer.for_output(console, stream)
    run = d.run
    version = run.framework_version or "version not recorded"
    w.line([(str(run.path), "bold")])
    s = d.spec
    if s is None:  # a step-counted run: no results.csv schedule to state
        w.line([(f"{run.framework} ({version}; {d.profile.label})", None)], first="  ", hang=4)
        axis = run.axis
        spe = f", {axis.steps_per_epoch} steps/epoch" if axis is not None and axis.steps_per_epoch else ""
        planned = (
            ("the plan inferred from the logged LR" if _inferred(d) else "the plan rebuilt from the saved settings")
            if np.isfinite(d.planned).any()
            else "no plan on disk"
        )
        w.line(
            [(f"{run.n_rows} logged steps{spe}; {planned}; LR of {', '.join(run.group_names)}", None)],
            first="  ",
            hang=4,
        )
    else:
        w.line([(f"{run.framework} ({version}; maths of {d.profile.label})", None)], first="  ", hang=4)
        if d.version.get("summary") and not d.version.get("recorded"):
            w.line([(f"version: {d.version['summary']}", None)], first="  ", hang=4)
        sched = "cosine" if s.cos_lr else "linear"
        nb = f", {s.nb} batches/epoch" if s.nb else ""
        w.line(
            [
                (
                    f"planned: {sched} lr0 {s.lr0:.6g} -> lrf {s.lrf:g} over {s.epochs} epochs, warmup "
                    f"{s.warmup_epochs:g} epochs{nb}; {run.n_rows} rows, reference column "
                    f"{run.lr_columns[d.reference_group]}",
                    None,
                )
            ],
            first="  ",
            hang=4,
        )
    ref = run.lr[:, d.reference_group]
    peak = f"{np.nanmax(ref):.3g} max" if np.isfinite(ref).any() else "no finite value"
    spark = sparkline(ref, width=max(min(64, w.width - len(peak) - 8), 8))
    w.line([(spark, "green"), (f"  {peak}", None)], first="  LR  ")
    if len(d.sessions) > 1 or verbose:
        table(
            w,
            ("session", "steps" if run.unit == "step" else "epochs", "start", "evidence"),
            [(str(x.index + 1), f"{x.first_epoch}-{x.last_epoch}", x.start, x.evidence) for x in d.sessions],
            indent="  ",
        )
    guard = [f for f in d.findings if f.cause.value == "guard-action"]
    guard_shown = {id(f) for f in (guard if verbose else _guard_worth_showing(guard))}
    shown = [
        f
        for f in d.findings
        if verbose or f.severity is not Severity.INFO or f.cause.value == "warmup" or id(f) in guard_shown
    ]
    for f in shown:
        style = _STYLE[f.severity]
        if run.unit == "step" and f.row is not None and run.axis is not None:
            where = f"step {int(run.axis.values[f.row])}"
        elif f.epoch is not None:
            where = f"epoch {f.epoch}"
        else:
            where = "the next resume" if f.data.get("predicted") else "run"
        w.line(
            [
                (f"{f.severity.value.upper():7}", style),
                (" ", None),
                (f.cause.value, "bold"),
                (f" at {where}: {f.title}", None),
            ],
            first="  ",
            hang=10,
        )
        if f.severity is not Severity.INFO or verbose or f.data.get("explains"):
            for line in f.evidence:
                w.line([(line, None)], first="           - ")
            if f.fix:
                w.line([("fix:", "green"), (f" {f.fix}", None)], first="           ", hang=16)
    hidden = len(d.findings) - len(shown)
    if hidden:
        w.line([(f"{hidden} more info finding(s); --verbose shows them", "dim")], first="  ")
    for note in d.notes:
        w.line([(f"note: {note}", "dim")], first="  ", hang=8)
    worst = d.worst
    if worst is None or worst is Severity.INFO:
        w.line([("OK", "bold green"), (": the logged LR follows its schedule", None)], first="  ")
    else:
        n = sum(1 for f in d.findings if f.severity is not Severity.INFO)
        w.line([(f"{n} problem(s) found", _STYLE[worst])], first="  ")
    w.blank()


#: Guard events the terminal report shows without --verbose.
GUARD_SHOWN = 8


def _guard_worth_showing(guard: list[Finding]) -> list[Finding]:
    """The guard's actions a person wants to see: everything but ``log``, LR changes first, at most GUARD_SHOWN."""
    acted = [f for f in guard if f.data.get("action") != "log"]
    acted.sort(key=lambda f: (not f.data.get("explains"), f.data.get("action") not in ("lower-lr", "continue-curve")))
    return acted[:GUARD_SHOWN]


def _inferred(d: Diagnosis) -> bool:
    """True when the plan was read off the logged LR (the reader's ``planned: ... inferred`` note)."""
    return any(n.startswith("planned:") and "inferred" in n for n in d.notes)
