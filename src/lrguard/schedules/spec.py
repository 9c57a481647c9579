"""The schedule inputs of one training session, independent of any framework file format."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lrguard.schedules.lambdas import cosine_lf, linear_lf
from lrguard.trainers.profile import Profile


@dataclass(frozen=True)
class ScheduleSpec:
    """Hyperparameters that determine the planned LR of a YOLO run.

    Attributes:
        lr0: Initial LR of the weight groups (after ``optimizer=auto`` resolution).
        lrf: Final LR fraction.
        epochs: Total epochs ``E`` the schedule spans.
        cos_lr: Cosine instead of linear decay.
        warmup_epochs: Warmup length in epochs.
        warmup_bias_lr: Start LR of the bias group during warmup.
        nb: Batches per epoch (``None`` when unknown).
    """

    lr0: float
    lrf: float
    epochs: int
    cos_lr: bool = False
    warmup_epochs: float = 3.0
    warmup_bias_lr: float = 0.1
    nb: int | None = None

    def with_(self, **changes: Any) -> ScheduleSpec:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)

    def lf_of(self, x: Any, epochs: Any, profile: Profile) -> np.ndarray:
        """Like :meth:`lf` with the total epochs given as an array that broadcasts against ``x``."""
        if self.cos_lr:
            return cosine_lf(x, epochs, self.lrf)
        return linear_lf(x, epochs, self.lrf, clamp=profile.linear_clamp, offset=profile.linear_offset)

    def lf(self, x: Any, profile: Profile) -> np.ndarray:
        """Evaluate this schedule's multiplier at epoch index ``x`` under ``profile``'s rules."""
        if self.cos_lr:
            return cosine_lf(x, self.epochs, self.lrf)
        return linear_lf(x, self.epochs, self.lrf, clamp=profile.linear_clamp, offset=profile.linear_offset)
