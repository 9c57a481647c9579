"""``torch.optim.lr_scheduler.PolynomialLR``: polynomial decay to 0 at ``total_iters``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule


@dataclass(frozen=True)
class PolynomialLR(MultiplicativeSchedule):
    """``lr = base_lr * (1 - min(position, total_iters) / total_iters) ** power``.

    Attributes:
        base_lrs: Each group's base LR.
        total_iters: Position where the LR reaches 0 and stays (> 0).
        power: Exponent of the decay.
    """

    name: ClassVar[str] = "PolynomialLR"

    total_iters: int = 5
    power: float = 1.0

    def _validate(self) -> None:
        if self.total_iters <= 0:
            raise ValueError(f"PolynomialLR: total_iters must be positive, got {self.total_iters}")

    def multiplier(self, position: float) -> float:
        """Return the decayed factor at ``position``."""
        return float((1.0 - min(self.total_iters, position) / self.total_iters) ** self.power)
