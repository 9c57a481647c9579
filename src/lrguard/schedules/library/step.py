"""``torch.optim.lr_scheduler.StepLR``: multiply by ``gamma`` every ``step_size`` positions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule


def step_factor(position: float, step_size: int, gamma: float) -> float:
    """Return ``gamma ** floor(position / step_size)``."""
    return gamma ** math.floor(position // step_size)


@dataclass(frozen=True)
class StepLR(MultiplicativeSchedule):
    """``lr = base_lr * gamma ** (position // step_size)``.

    Attributes:
        base_lrs: Each group's base LR.
        step_size: Positions between two decays (> 0).
        gamma: Decay factor.
    """

    name: ClassVar[str] = "StepLR"

    step_size: int
    gamma: float = 0.1

    def _validate(self) -> None:
        if self.step_size <= 0:
            raise ValueError(f"StepLR: step_size must be positive, got {self.step_size}")

    def multiplier(self, position: float) -> float:
        """Return ``gamma ** (position // step_size)``."""
        return step_factor(position, self.step_size, self.gamma)
