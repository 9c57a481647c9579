"""One step of the reference LR between two stretches, and what a rule makes of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrguard.diagnosis.context import Context
from lrguard.diagnosis.departures.stretch import Stretch
from lrguard.model import Finding


@dataclass
class Step:
    """An upward (or schedule-breaking downward) step of the reference LR at row ``i``.

    Attributes:
        ctx: The lineage being examined.
        i: Row of the step (the first row of ``cur``).
        down: Whether the LR fell (a break downward) rather than rose.
        cur: The stretch that starts at ``i``.
        prev: The stretch before it, if any.
        base: ``lr0`` of the reference group as configured.
        lr_before: Logged LR of the row before.
        lr_after: Logged LR at ``i``.
        rise: Relative change (``inf`` after a logged LR of 0).
        resume_epoch: First resumed epoch (run's numbering) for a step at ``i``.
        head: The first evidence line (row, column, change, plan).
        evidence: Evidence so far: ``head`` and how the resume is known. A rule extends it only when
            it explains the step.
        data: JSON data so far (``lr_before``, ``lr_after``, ``rise``, ``planned_lr``, ``resume_epoch``).
    """

    ctx: Context
    i: int
    down: bool
    cur: Stretch
    prev: Stretch | None
    base: float
    lr_before: float
    lr_after: float
    rise: float
    resume_epoch: int
    head: str
    evidence: list[str]
    data: dict[str, Any]

    @property
    def resume_index(self) -> int:
        """``resume_epoch`` as a 0-based epoch index."""
        return self.resume_epoch - self.ctx.profile.epoch_base


@dataclass
class Outcome:
    """What a rule concluded about a step.

    Attributes:
        findings: Findings to report (none: the step is explained and harmless).
        explained: Predicted reference LR of every row under the mechanism found; later steps that
            follow it belong to this one.
        skip: Later step rows this explanation already covers.
    """

    findings: list[Finding] = field(default_factory=list)
    explained: np.ndarray | None = None
    skip: set[int] = field(default_factory=set)


#: A departure rule: an :class:`Outcome` when its mechanism explains the step, else ``None``.
Rule = Callable[[Step], Outcome | None]
