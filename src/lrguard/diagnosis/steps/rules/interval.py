"""``scheduler-interval-mismatch``: a scheduler sized in optimizer steps but stepped once per epoch.

A schedule built for ``total_steps`` optimizer steps (``OneCycleLR(total_steps=...)``, a cosine
with ``T_max`` in steps) that the trainer steps once per epoch (Lightning ``"interval": "epoch"``,
its default) advances a few positions per run: the warmup never finishes and the LR sits on a
staircase, constant within every epoch. The reader states the scheduler's counters in
``run.config``: ``scheduler_length`` (what it was sized for), ``scheduler_steps`` (its
``last_epoch``), ``optimizer_steps`` and ``epochs_done``.
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, Severity

#: The schedule counts as sized in steps when its length is at least this share of the steps trained.
SIZED_SHARE = 0.5


def _counters(tl: Timeline) -> tuple[int, int, int, int] | None:
    c = tl.run.config
    vals = [c.get(k) for k in ("scheduler_length", "scheduler_steps", "optimizer_steps", "epochs_done")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in vals):
        return None
    return vals[0], vals[1], vals[2], vals[3]  # type: ignore[return-value]


def applies(tl: Timeline) -> bool:
    """The reader recorded the scheduler's counters."""
    return _counters(tl) is not None


def explain(tl: Timeline) -> list[Finding]:
    """One finding when the scheduler was stepped per epoch although sized for the optimizer steps."""
    got = _counters(tl)
    assert got is not None
    length, stepped, opt_steps, epochs = got
    if not (stepped <= epochs + 1 and opt_steps >= 2 * stepped and length >= SIZED_SHARE * opt_steps):
        return []
    lr = tl.lr
    moves = np.nonzero(np.diff(lr) != 0)[0]
    r = int(moves[0]) + 1 if moves.size else 0
    return [
        Finding(
            cause=Cause.SCHEDULER_INTERVAL_MISMATCH,
            severity=Severity.WARNING,
            epoch=tl.epoch_of(r),
            row=r,
            title=f"the scheduler is sized for {length} steps but was stepped {stepped} times: once per epoch",
            evidence=[
                f"{opt_steps} optimizer steps over {epochs} epochs; the scheduler's last_epoch is {stepped} "
                f"and it was built for {length}",
                f"{tl.where(r)}: the LR first changes here, after a whole epoch at {lr[0]:.6g}",
            ],
            fix="step a per-step schedule every optimizer step (Lightning: return "
            '{"scheduler": ..., "interval": "step"} from configure_optimizers), or size it in epochs',
            data={"step": int(tl.steps[r]), "length": length, "stepped": stepped, "optimizer_steps": opt_steps},
        )
    ]
