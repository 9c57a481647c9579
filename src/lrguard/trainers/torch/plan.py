"""The planned LR of a plain loop: the scheduler a checkpoint saved, when it explains the log.

A ``torch.save``'d checkpoint with ``scheduler.state_dict()`` and the loop's step is rebuilt with
:func:`lrguard.schedules.library.registry.from_torch_state_dict`. Its position at a logged step is
``step + last_epoch - saved step + d``, where ``d`` (-1, 0 or 1) is the loop's logging convention
(the LR logged before or after ``scheduler.step()``): the ``d`` that reproduces the first session's
logged LR is taken, and a checkpoint none of them fits (a scheduler that was restarted, a
``LambdaLR`` whose function is not saved) is not used.
"""

from __future__ import annotations

import numpy as np

from lrguard.model import CheckpointFacts, Run
from lrguard.schedules.inferred_plan import first_session_end
from lrguard.schedules.library.base import NotRebuildable
from lrguard.schedules.library.registry import from_torch_state_dict

#: Agreement with the first session's logged LR, relative to its peak.
REL_TOL = 1e-6


def declared_plan(run: Run) -> tuple[np.ndarray, str] | None:
    """Planned LR per row and group from the oldest checkpoint whose scheduler fits, and a note naming it."""
    assert run.axis is not None
    steps = run.axis.values
    last = first_session_end(run)
    first = run.lr[: last + 1]
    peak = float(np.nanmax(np.abs(first))) if np.isfinite(first).any() else 0.0
    if peak <= 0 or last < 1:
        return None
    for ck in run.checkpoints:
        got = _fit(ck, steps, first, peak)
        if got is not None:
            planned, name = got
            return planned, f"planned: {name} rebuilt from {ck.path.name}'s scheduler state"
    return None


def _fit(ck: CheckpointFacts, steps: np.ndarray, first: np.ndarray, peak: float) -> tuple[np.ndarray, str] | None:
    """The checkpoint's rebuilt schedule at every row, if one logging convention reproduces ``first``."""
    sd = ck.train_args.get("scheduler")
    if not isinstance(sd, dict) or ck.step is None or not isinstance(sd.get("last_epoch"), int):
        return None
    try:
        schedule = from_torch_state_dict(None, sd)
    except NotRebuildable:
        return None
    if schedule.n_groups != first.shape[1]:
        return None
    for d in (-1, 0, 1):
        pos = steps + sd["last_epoch"] - ck.step + d
        if np.any(pos[: len(first)] < 0):
            continue
        planned = np.array([schedule.lrs(int(p)) if p >= 0 else (np.nan,) * schedule.n_groups for p in pos])
        if np.nanmax(np.abs(planned[: len(first)] - first)) <= REL_TOL * peak:
            return planned, str(schedule.name)
    return None


__all__ = ["declared_plan"]
