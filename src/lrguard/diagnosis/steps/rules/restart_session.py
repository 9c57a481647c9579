"""``restart-from-weights`` within one log: a restarted session begins again on trained weights.

When the step counter starts again at 0 and the LR repeats the run's first values, but the loss
starts where the previous session ended rather than where the first one started, the weights came
from that session and only the schedule (and optimizer) began again: the LR jumps back to its
peak (or warmup) on a trained model.
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, Session, Severity

#: Rows compared at the start and end of sessions.
ROWS = 4
#: The new session's first loss is this much below the first session's for the weights to be trained.
LOSS_RATIO = 0.5
#: The restarted LR repeats the first session's first values within this (relative).
REL_TOL = 0.02


def applies(tl: Timeline) -> bool:
    """A restarted session and a logged loss."""
    return "loss" in tl.run.series and any(s.start == "restart" for s in tl.sessions)


def _head(x: np.ndarray, a: int, b: int) -> float:
    seg = x[a : min(a + ROWS, b + 1)]
    seg = seg[np.isfinite(seg)]
    return float(np.median(seg)) if seg.size else float("nan")


def _finding(tl: Timeline, s: Session) -> Finding | None:
    first, prev = tl.sessions[0], tl.sessions[s.index - 1]
    lr, loss = tl.lr, tl.run.series["loss"]
    m = min(ROWS, s.last_row - s.first_row + 1, first.last_row - first.first_row + 1)
    same_lr = m >= 2 and all(
        abs(lr[s.first_row + j] - lr[first.first_row + j]) <= REL_TOL * max(abs(lr[first.first_row + j]), 1e-300)
        for j in range(m)
    )
    start_loss, new_loss = _head(loss, first.first_row, first.last_row), _head(loss, s.first_row, s.last_row)
    tail = loss[max(prev.first_row, prev.last_row - ROWS + 1) : prev.last_row + 1]
    tail = tail[np.isfinite(tail)]
    end_loss = float(np.median(tail)) if tail.size else float("nan")
    if not (same_lr and np.isfinite(start_loss) and np.isfinite(new_loss) and new_loss <= LOSS_RATIO * start_loss):
        return None
    r = s.first_row
    return Finding(
        cause=Cause.RESTART_FROM_WEIGHTS,
        severity=Severity.WARNING,
        epoch=tl.epoch_of(r),
        row=r,
        title=f"a new training started from trained weights at step {int(tl.steps[r])}: the schedule began again",
        evidence=[
            f"{tl.where(r)}: LR {lr[r]:.6g}, the run's first LR again ({s.evidence})",
            f"the loss starts at {new_loss:.4g}, near where the previous session ended ({end_loss:.4g}), "
            f"not where the first one started ({start_loss:.4g}): the weights were loaded, the scheduler was not",
            f"the previous session ended at step {int(tl.steps[prev.last_row])} with LR {lr[prev.last_row]:.6g}",
        ],
        fix=f"resume with {tl.trainer.resume_command()} to restore the optimizer, scheduler and step counter; to "
        "start a new run from the weights on purpose, start its schedule at the LR where the old one ended",
        data={"step": int(tl.steps[r]), "row": r, "lr_before": float(lr[prev.last_row]), "lr_after": float(lr[r])},
    )


def explain(tl: Timeline) -> list[Finding]:
    """One finding per restarted session that begins on trained weights."""
    return [f for s in tl.sessions if s.index > 0 and s.start == "restart" if (f := _finding(tl, s)) is not None]
