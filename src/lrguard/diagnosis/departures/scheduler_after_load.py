"""``scheduler-built-after-load`` (M10): one row at ``lr0``, then straight back to the old curve.

The optimizer state was restored but the scheduler was built after it and reset every group's LR
to its initial value for one epoch; from the next epoch the old schedule goes on.
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.departures.common import finding, ok
from lrguard.diagnosis.departures.step import Outcome, Step
from lrguard.model import Cause


def rule(step: Step) -> Outcome | None:
    """Row ``i`` at ``lr0``, the row after back on plan, the stretch before on plan."""
    ctx, i = step.ctx, step.i
    obs = ctx.obs
    nxt = i + 1
    if (
        step.down
        or not abs(ctx.rel(step.lr_after, step.base)) < 0.02
        or nxt >= ctx.run.n_rows
        or not np.isfinite(obs[nxt])
        or not obs[nxt] < step.lr_after * (1 - ctx.tol)
        or step.prev is None
        or not ok(step.prev.cfg_err, ctx)
        or not ctx.close(float(obs[nxt]), float(ctx.planned[nxt, ctx.ref]), 3 * ctx.tol)
    ):
        return None
    step.evidence.append(f"the next epoch is back on plan ({obs[nxt]:.6g}): one epoch ran at lr0 = {step.base:.6g}")
    f = finding(
        ctx,
        Cause.SCHEDULER_BUILT_AFTER_LOAD,
        i,
        f"the first epoch after the resume at epoch {step.resume_epoch} ran at lr0",
        step.evidence,
        fixes.scheduler_after_load(ctx.run),
        step.data,
    )
    return Outcome([f])
