"""``torch.optim.lr_scheduler.ConstantLR``: a constant factor until ``total_iters``, then 1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule


@dataclass(frozen=True)
class ConstantLR(MultiplicativeSchedule):
    """``lr = base_lr * (factor if position < total_iters else 1)``.

    Attributes:
        base_lrs: Each group's base LR.
        factor: The constant factor in ``[0, 1]`` (torch's ``factor``).
        total_iters: First position at the full base LR.
    """

    name: ClassVar[str] = "ConstantLR"

    factor: float = 1.0 / 3
    total_iters: int = 5

    def _validate(self) -> None:
        if not 0.0 <= self.factor <= 1.0:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {self.factor}")

    def multiplier(self, position: float) -> float:
        """Return ``factor`` before ``total_iters`` and 1 from there on."""
        return self.factor + (position >= self.total_iters) * (1.0 - self.factor)
