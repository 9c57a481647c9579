"""The planned LR of a loop whose schedule is not on disk: inferred from the logged LR itself.

The whole log is tried first (a clean or seamlessly resumed run is one curve); when it is not one
schedule, the first session's rows are (the curve the run set out on). The inferred schedule is
evaluated at every row's step, one per LR tag (param group).
"""

from __future__ import annotations

import numpy as np

from lrguard.model import Run
from lrguard.schedules.infer import InferredSchedule, infer_schedule
from lrguard.signals.sessions import split


def first_session_end(run: Run) -> int:
    """Last row of the first session (a new event file or a step going back ends it)."""
    assert run.axis is not None
    ends = [e.row for e in run.evidence] + [b.row for b in split(run.axis.values)]
    return (min(ends) if ends else run.n_rows) - 1


def inferred_plan(run: Run) -> tuple[np.ndarray, list[InferredSchedule]] | None:
    """Planned LR per row and group, and the schedule inferred for each group; ``None`` if none fits."""
    assert run.axis is not None
    steps = run.axis.values
    whole = not split(steps)
    last = run.n_rows - 1 if whole else first_session_end(run)
    found = []
    for j in range(run.lr.shape[1]):
        got = infer_schedule(steps[: last + 1], run.lr[: last + 1, j]) if last >= 2 else None
        if got is None and whole and last != first_session_end(run):
            last2 = first_session_end(run)
            got = infer_schedule(steps[: last2 + 1], run.lr[: last2 + 1, j]) if last2 >= 2 else None
        if got is None:
            return None
        found.append(got)
    planned = np.stack([s.lr_at(steps) for s in found], axis=1)
    return planned, found


__all__ = ["first_session_end", "inferred_plan"]
