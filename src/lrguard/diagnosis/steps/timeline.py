"""The timeline every step rule reads: sessions, per-row steps and LR, the plan, the warmup mask."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from lrguard.model import Run, Session
from lrguard.signals.sessions import split
from lrguard.trainers import Trainer, get_trainer


@dataclass
class Timeline:
    """What the rules share, computed once per run.

    Attributes:
        run: The step-counted run.
        trainer: Its trainer plug-in (fix texts, commands).
        sessions: Training processes, in log order.
        planned: Planned LR per row and group when the trainer rebuilt its schedule, else ``None``.
        notes: Remarks for the report.
    """

    run: Run
    trainer: Trainer
    sessions: list[Session]
    planned: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def steps(self) -> np.ndarray:
        """The run's own step of every row."""
        assert self.run.axis is not None
        return self.run.axis.values

    @property
    def lr(self) -> np.ndarray:
        """LR of the first group per row (HF and most loops log one value for the optimizer)."""
        return self.run.lr[:, 0]

    @cached_property
    def peak(self) -> float:
        """The highest finite LR of the run (0 when none)."""
        finite = self.lr[np.isfinite(self.lr)]
        return float(finite.max()) if finite.size else 0.0

    @cached_property
    def warmup(self) -> np.ndarray:
        """True on the rows of a rising LR at the start of a lineage (a warmup, not a jump)."""
        mask = np.zeros(self.run.n_rows, dtype=bool)
        for s in self.sessions:
            if s.start not in ("start", "restart"):
                continue
            i = s.first_row
            while i < s.last_row and self.lr[i + 1] > self.lr[i]:
                mask[i] = True
                i += 1
            mask[i] = mask[i] or i > s.first_row
        return mask

    def epoch_of(self, row: int) -> int | None:
        """Whole epoch of a row (0-based), when the log records epochs (:meth:`Axis.whole_epoch`)."""
        return self.run.axis.whole_epoch(row) if self.run.axis is not None else None

    def where(self, row: int) -> str:
        """``trainer_state.json step 41`` for evidence lines."""
        assert self.run.provenance is not None
        return self.run.provenance.describe(row)


def build_timeline(run: Run) -> Timeline:
    """Sessions from the reader's evidence plus every step that goes back, and the trainer's plan."""
    steps = run.axis.values if run.axis is not None else np.arange(run.n_rows)
    reasons = {e.row: e for e in run.evidence}
    rewinds = {b.row: b for b in split(steps)}
    starts = sorted({0, *reasons, *rewinds})
    sessions = []
    for k, a in enumerate(starts):
        b = (starts[k + 1] - 1) if k + 1 < len(starts) else run.n_rows - 1
        if k == 0:
            start, why = "start", "first row"
        elif a in rewinds and steps[a] <= 1:
            start, why = "restart", f"the step counter starts again at {int(steps[a])}"
        elif a in rewinds:
            start, why = "rewind", f"the step goes back from {rewinds[a].step_before} to {rewinds[a].step_after}"
        else:
            start, why = "resume", reasons[a].detail
        if a in reasons and a in rewinds:
            why = f"{reasons[a].detail}; {why}"
        sessions.append(Session(k, a, b, int(steps[a]), int(steps[b]), start, why))
    trainer = get_trainer(run.framework)
    planned = trainer.planned_lr(run)
    return Timeline(run, trainer, sessions, planned)
