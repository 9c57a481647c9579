"""One finding per mechanism and session: repeats of the same finding are merged into one with a count.

A file with 99 appended one-epoch runs has one ``appended-runs`` finding that lists the 98 lines where a
run starts, not 98 findings; an edit that makes every row of one session depart from its plan is one
finding at its first row. Appended runs are merged across the whole file (each appended run is a
session of its own), and so are the warmups of the appended runs; every other cause is merged within a
session.
"""

from __future__ import annotations

from lrguard.diagnosis.context import Context
from lrguard.model import Cause, Finding

FILE_WIDE = frozenset({Cause.APPENDED_RUNS})
SHOWN_LINES = 20


def merge_repeats(findings: list[Finding], ctx: Context) -> list[Finding]:
    """Merge findings of the same cause and severity in the same session (file-wide for :data:`FILE_WIDE`).

    The merged finding is the first of its group, with ``data["count"]``, ``data["lines"]`` (1-based
    results.csv lines) and ``data["epochs"]`` of every occurrence, in row order.
    """
    groups: dict[tuple, list[Finding]] = {}
    for k, f in enumerate(findings):
        if f.row is None:
            key: tuple = ("single", k)
        elif f.cause in FILE_WIDE:
            key = (f.cause, f.severity)
        elif f.cause is Cause.WARMUP and ctx.sessions[int(ctx.session_of_row[f.row])].start == "restart":
            key = (f.cause, f.severity, "appended runs")  # the warmups of all appended runs together
        else:
            key = (f.cause, f.severity, int(ctx.session_of_row[f.row]))
        groups.setdefault(key, []).append(f)
    lines_of = ctx.run.table.line_numbers
    out: list[Finding] = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        group.sort(key=lambda f: f.row if f.row is not None else -1)
        first = group[0]
        lines = [int(lines_of[f.row]) for f in group if f.row is not None]
        epochs = [f.epoch for f in group]
        shown = ", ".join(str(x) for x in lines[:SHOWN_LINES]) + (" ..." if len(lines) > SHOWN_LINES else "")
        where = "in the file" if first.cause in FILE_WIDE or first.cause is Cause.WARMUP else "in this session"
        out.append(
            Finding(
                cause=first.cause,
                severity=first.severity,
                epoch=first.epoch,
                row=first.row,
                title=f"{first.title} ({len(group)} times {where})",
                evidence=[*first.evidence, f"{len(group)} occurrences {where}, at lines {shown}"],
                fix=first.fix,
                data={**first.data, "count": len(group), "lines": lines, "epochs": epochs},
            )
        )
    return out
