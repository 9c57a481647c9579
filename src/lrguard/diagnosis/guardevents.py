"""The live guard's own actions in a diagnosis: one info finding per event, and the LR changes it made.

The guard writes what it saw and did (:attr:`lrguard.model.Run.guard_events`, read by
:mod:`lrguard.readers.guardevents`). Each event becomes a ``guard-action`` finding (severity info).
When the guard itself changed the LR (:attr:`~lrguard.model.GuardEvent.changes_lr`: a ``lower-lr``
action, a ``continue-curve`` re-plan), an LR finding whose row lies in the window it changed is not
a problem of the schedule: it is removed and named in the event's finding instead
(``data["explains"]``). Does no I/O.

Windows, in the run's own rows:

* step-counted runs: the guard counts steps from 0 and a log writes optimizer step ``k`` as
  ``k + 1`` (the global step after it, as HF, Lightning and ``SummaryWriter`` loops do), so an
  event at step ``s`` lands on the first row logged at ``s + 1`` or later. ``lower-lr`` covers the
  logged steps ``s + 1`` .. ``until`` (without ``until``: to the end of the session), a
  ``continue-curve`` the logged steps ``s + 1`` .. ``s + 2`` (the first resumed rows).
* epoch-counted runs (results.csv, one row per epoch): the rows of epochs ``epoch`` ..
  ``epoch + 2`` (the event's epoch counted from 0 or from 1, and the epoch after it, where the LR
  comes back to the schedule).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lrguard.model import Cause, Finding, GuardEvent, Run, Session, Severity

#: The LR findings an LR change of the guard shows up as in the log (a dip the diagnosis would
#: otherwise read as a changed setting, an off-plan LR, a blip).
LR_CAUSES = frozenset(
    {
        Cause.LR_OFF_PLAN,
        Cause.RESUME_LR_BLIP,
        Cause.HYP_CHANGED_ON_RESUME,
        Cause.EPOCHS_CHANGED_ON_RESUME,
        Cause.FINETUNE_EXTENSION,
        Cause.TIME_BUDGET_REESTIMATION,
        Cause.SCHEDULER_BUILT_AFTER_LOAD,
        Cause.RESUME_OFF_BY_ONE,
        Cause.SCHEDULE_PAST_END,
    }
)


def _row_of(run: Run, ev: GuardEvent) -> int | None:
    """The first row at or after the event (``None``: the log does not reach it or cannot place it)."""
    if run.unit == "step":
        if ev.step is None:
            return None
        values = run.axis.values if run.axis is not None else np.arange(run.n_rows)
        hits = np.nonzero(values >= ev.step + 1)[0]  # 0-based guard step k is logged as step k + 1
        return int(hits[0]) if hits.size else None
    if ev.epoch is None:
        return None
    hits = np.nonzero(run.epochs >= ev.epoch)[0]
    return int(hits[0]) if hits.size else None


def _window(run: Run, ev: GuardEvent, sessions: Sequence[Session]) -> tuple[int, int] | None:
    """First and last row (inclusive) whose LR the event changed, or ``None``."""
    first = _row_of(run, ev)
    if first is None or not ev.changes_lr:
        return None
    if run.unit != "step":
        assert ev.epoch is not None  # _row_of placed it
        rows = np.nonzero((run.epochs >= ev.epoch) & (run.epochs <= ev.epoch + 2))[0]
        return (int(rows[0]), int(rows[-1])) if rows.size else None
    values = run.axis.values if run.axis is not None else np.arange(run.n_rows)
    assert ev.step is not None  # _row_of placed it
    if ev.action == "continue-curve":
        end_step: float = ev.step + 2
    elif ev.until is not None:
        end_step = ev.until
    else:
        end_step = float("inf")
        session = next((s for s in sessions if s.first_row <= first <= s.last_row), None)
        if session is not None:
            end_step = float(values[session.last_row])
    rows = np.nonzero((values >= ev.step + 1) & (values <= end_step))[0]
    return (int(rows[0]), int(rows[-1])) if rows.size else None


def _span(run: Run, lo: int, hi: int) -> str:
    unit = "step" if run.unit == "step" else "epoch"
    values = run.axis.values if run.axis is not None and run.unit == "step" else run.epochs
    a, b = int(values[lo]), int(values[hi])
    return f"{unit} {a}" if a == b else f"{unit}s {a}-{b}"


def _where(run: Run, ev: GuardEvent) -> str:
    if ev.step is not None:
        return f"step {ev.step}"
    if ev.epoch is not None:
        return f"epoch {ev.epoch}"
    return "the start"


def apply_guard_events(run: Run, findings: list[Finding], sessions: Sequence[Session]) -> list[Finding]:
    """``findings`` with one ``guard-action`` finding per guard event and the guard's LR changes explained.

    Unchanged (the same list) when the run has no guard events.
    """
    if not run.guard_events:
        return findings
    events_file = run.files.get("events")
    source = events_file.name if events_file is not None else "the events file"
    kept = list(findings)
    added: list[Finding] = []
    for ev in run.guard_events:
        window = _window(run, ev, sessions)
        explains: list[Finding] = []
        if window is not None:
            lo, hi = window
            explains = [f for f in kept if f.cause in LR_CAUSES and f.row is not None and lo <= f.row <= hi]
            kept = [f for f in kept if not any(f is e for e in explains)]
        row = _row_of(run, ev)
        rank = f" (rank {ev.rank})" if ev.rank else ""
        evidence = [f"{source} line {ev.line}{rank}: {ev.message}" if ev.message else f"{source} line {ev.line}"]
        if window is not None:
            evidence.append(f"the guard changed the LR over {_span(run, *window)}")
        evidence += [f"explains the {e.cause.value} finding there: {e.title}" for e in explains]
        data: dict[str, object] = {
            "signal": ev.signal,
            "action": ev.action,
            "step": ev.step,
            "epoch": ev.epoch,
            "rank": ev.rank,
            "value": ev.value,
            "expected": ev.expected,
            "line": ev.line,
        }
        if ev.until is not None:
            data["until"] = ev.until
        if window is not None:
            data["window_rows"] = list(window)
        if explains:
            data["explains"] = [{"cause": e.cause.value, "row": e.row, "title": e.title} for e in explains]
        added.append(
            Finding(
                cause=Cause.GUARD_ACTION,
                severity=Severity.INFO,
                epoch=ev.epoch
                if run.unit != "step" or row is None
                else run.axis.whole_epoch(row)
                if run.axis
                else None,
                row=row,
                title=f"the guard at {_where(run, ev)}: {ev.signal} -> {ev.action}",
                evidence=evidence,
                data=data,
            )
        )
    out = kept + added
    out.sort(key=lambda f: (f.row if f.row is not None else run.n_rows, -f.severity.rank))
    return out
