"""``torch.optim.lr_scheduler.ExponentialLR``: multiply by ``gamma`` every position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule


@dataclass(frozen=True)
class ExponentialLR(MultiplicativeSchedule):
    """``lr = base_lr * gamma ** position``.

    Attributes:
        base_lrs: Each group's base LR.
        gamma: Decay factor per position.
    """

    name: ClassVar[str] = "ExponentialLR"

    gamma: float

    def multiplier(self, position: float) -> float:
        """Return ``gamma ** position``."""
        return float(self.gamma**position)
