"""The outcome of diagnosing one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrguard.model import Finding, Run, Session, Severity
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers.profile import Profile


@dataclass
class Diagnosis:
    """Everything ``lrguard diagnose`` concluded about a run.

    Attributes:
        run: The run that was read.
        profile: The trainer-version rules used.
        spec: The planned schedule reconstructed from a results.csv run's configuration (``nb``
            filled in when the warmup rows determine it); ``None`` for a step-counted run, whose
            plan (when the trainer can rebuild it) is ``planned``.
        sessions: Training sessions, in file order.
        findings: Conclusions, ordered by row then severity.
        planned: Planned LR per row and group, ``(rows, groups)``, from ``spec``.
        reference_group: The weight group whose column the diagnosis follows.
        notes: Remarks (files missing, version inferred, run still being written, ...).
        version: How the trainer version was chosen (``profile``, ``recorded``, ``evidence``,
            ``candidates_tested``, ``summary``); see :mod:`lrguard.diagnosis.version`.
    """

    run: Run
    profile: Profile
    spec: ScheduleSpec | None
    sessions: list[Session]
    findings: list[Finding]
    planned: np.ndarray
    reference_group: int
    notes: list[str] = field(default_factory=list)
    version: dict[str, Any] = field(default_factory=dict)

    @property
    def worst(self) -> Severity | None:
        """Highest severity among the findings (``None`` when there are none)."""
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def failing(self, threshold: Severity | None) -> bool:
        """True when some finding is at or above ``threshold`` (``None`` never fails)."""
        if threshold is None:
            return False
        return any(f.severity.rank >= threshold.rank for f in self.findings)

    @property
    def epoch_spec(self) -> ScheduleSpec:
        """The results.csv schedule, for the features that model it (continuations, plans, watch).

        Raises:
            InputError: The run is step-counted: it has no results.csv schedule.
        """
        if self.spec is None:
            from lrguard.errors import InputError

            raise InputError(
                self.run.path, f"is a {self.run.framework} run counted in steps: this needs a YOLO results.csv run"
            )
        return self.spec

    def schedule_dict(self) -> dict[str, Any] | None:
        """The reconstructed schedule as plain values (``None`` for a step-counted run)."""
        s = self.spec
        if s is None:
            return None
        return {
            "lr0": s.lr0,
            "lrf": s.lrf,
            "epochs": s.epochs,
            "cos_lr": s.cos_lr,
            "warmup_epochs": s.warmup_epochs,
            "warmup_bias_lr": s.warmup_bias_lr,
            "batches_per_epoch": s.nb,
        }
