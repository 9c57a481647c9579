"""Session splitting of a step-counted log: a step that goes back, or a new log file, starts a session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Boundary:
    """Where a new session starts.

    Attributes:
        row: First row of the new session.
        reason: ``"step-rewind"`` (the step did not increase) or ``"new-source"`` (another file).
        step_before: Last step of the previous session.
        step_after: First step of the new one.
    """

    row: int
    reason: str
    step_before: int
    step_after: int


class SessionSplitter:
    """Streaming form: feed ``(step, source)`` per logged row; a boundary is returned when one starts."""

    def __init__(self) -> None:
        """No row seen yet."""
        self._row = -1
        self._step: int | None = None
        self._source: object = None

    def update(self, step: int, source: object = None) -> Boundary | None:
        """Record one row; return the boundary it starts, if any."""
        self._row += 1
        prev_step, prev_source = self._step, self._source
        self._step, self._source = int(step), source
        if prev_step is None:
            return None
        if source != prev_source:
            return Boundary(self._row, "new-source", prev_step, int(step))
        if int(step) <= prev_step:
            return Boundary(self._row, "step-rewind", prev_step, int(step))
        return None


def split(steps: np.ndarray, sources: np.ndarray | None = None) -> list[Boundary]:
    """Every boundary of a log, as :class:`SessionSplitter` fed row by row finds them (vectorised)."""
    s = np.asarray(steps, dtype=np.int64)
    if s.size < 2:
        return []
    src = np.zeros(s.size, dtype=np.int64) if sources is None else np.asarray(sources)
    new_source = src[1:] != src[:-1]
    rewind = s[1:] <= s[:-1]
    rows = np.nonzero(new_source | rewind)[0] + 1
    return [
        Boundary(int(r), "new-source" if new_source[r - 1] else "step-rewind", int(s[r - 1]), int(s[r])) for r in rows
    ]
