"""``torch.optim.lr_scheduler.LinearLR``: a linear ramp of the factor, then constant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule


def linear_factor(position: float, start_factor: float, end_factor: float, total_iters: int) -> float:
    """Return ``start + (end - start) * min(position, total_iters) / total_iters``."""
    return start_factor + (end_factor - start_factor) * min(total_iters, position) / total_iters


@dataclass(frozen=True)
class LinearLR(MultiplicativeSchedule):
    """``lr = base_lr * (start + (end - start) * min(position, total_iters) / total_iters)``.

    Attributes:
        base_lrs: Each group's base LR.
        start_factor: Factor at position 0, in ``(0, 1]``.
        end_factor: Factor from ``total_iters`` on, in ``[0, 1]``.
        total_iters: Length of the ramp (> 0).
    """

    name: ClassVar[str] = "LinearLR"

    start_factor: float = 1.0 / 3
    end_factor: float = 1.0
    total_iters: int = 5

    def _validate(self) -> None:
        if not 0.0 < self.start_factor <= 1.0 or not 0.0 <= self.end_factor <= 1.0:
            raise ValueError(f"LinearLR: factors out of range ({self.start_factor}, {self.end_factor})")
        if self.total_iters <= 0:
            raise ValueError(f"LinearLR: total_iters must be positive, got {self.total_iters}")

    def multiplier(self, position: float) -> float:
        """Return the ramped factor at ``position``."""
        return linear_factor(position, self.start_factor, self.end_factor, self.total_iters)
