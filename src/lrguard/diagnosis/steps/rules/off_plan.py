"""``lr-off-plan``: the logged LR leaves the schedule the trainer's saved settings plan."""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, Severity
from lrguard.signals.plan import off_plan

REL_TOL = 1e-3


def applies(tl: Timeline) -> bool:
    """Only when the trainer rebuilt the plan from its settings."""
    return tl.planned is not None


def explain(tl: Timeline) -> list[Finding]:
    """The first off-plan row of each session that no other rule explains (boundaries are the resume rule's)."""
    assert tl.planned is not None
    mask = off_plan(tl.run.lr, tl.planned, REL_TOL).any(axis=1) & np.isfinite(tl.run.lr).all(axis=1)
    out = []
    for s in tl.sessions:
        if s.index > 0 and mask[s.first_row : s.first_row + 2].any():
            continue  # off plan from the resume on: the resume rule explains the session
        rows = np.nonzero(mask[s.first_row + (0 if s.index == 0 else 2) : s.last_row + 1])[0]
        if rows.size == 0:
            continue
        r = s.first_row + (0 if s.index == 0 else 2) + int(rows[0])
        lr, plan = float(tl.run.lr[r, 0]), float(tl.planned[r, 0])
        out.append(
            Finding(
                cause=Cause.LR_OFF_PLAN,
                severity=Severity.WARNING,
                epoch=tl.epoch_of(r),
                row=r,
                title=f"the LR leaves its planned schedule at step {int(tl.steps[r])}",
                evidence=[f"{tl.where(r)}: LR {lr:.6g}, planned {plan:.6g} from the saved settings"],
                fix="check what changes the LR outside the scheduler (a callback, a manual param_group edit)",
                data={"step": int(tl.steps[r]), "lr": lr, "planned": plan},
            )
        )
    return out
