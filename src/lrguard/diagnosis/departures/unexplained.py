"""The last rule: a step no mechanism reproduces is ``lr-off-plan``; a drop or a tiny blip is not reported.

A resumed row that repeats the previous LR (M13, a tiny blip, then back on plan) and a drop that no
mechanism explains are left alone: only upward departures are a problem on their own.
"""

from __future__ import annotations

from lrguard.diagnosis import fixes
from lrguard.diagnosis.departures.common import checkpoint_lines, epoch_of, finding, lr_end_target
from lrguard.diagnosis.departures.step import Outcome, Step
from lrguard.model import Cause


def rule(step: Step) -> Outcome:
    """Always concludes: ``lr-off-plan`` for a clear rise, nothing otherwise."""
    ctx, cur = step.ctx, step.cur
    if step.down or ctx.close(step.lr_after, step.lr_before, 3 * ctx.tol):
        return Outcome()
    base_fit = "None" if cur.base_fit is None else f"{cur.base_fit:.6g}"
    step.evidence.append(
        f"no known mechanism reproduces it: implied total epochs after the step {cur.epochs_fit} "
        f"(fit error {cur.epochs_err:.1e}), implied base LR {base_fit}"
    )
    f = finding(
        ctx,
        Cause.LR_OFF_PLAN,
        step.i,
        f"the LR left its schedule at epoch {epoch_of(ctx, step.i)} ({step.rise:+.1%})",
        step.evidence + checkpoint_lines(ctx),
        fixes.continuation(ctx.run, step.lr_before, lr_end_target(ctx), max(ctx.spec.epochs - step.resume_index, 1)),
        step.data,
    )
    return Outcome([f])
