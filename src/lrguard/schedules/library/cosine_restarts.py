"""``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``: SGDR, cycles of growing length.

torch tracks ``T_cur`` (position within the cycle) and ``T_i`` (cycle length) by counting: the
closed form here finds the cycle with integer arithmetic, so it equals the counted values
exactly. torch's own ``step(epoch)`` path finds the cycle through a float logarithm, which can
land in the neighbouring cycle right at a restart; that path is not what ``step()`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import GroupSchedule


def restart_cycle(position: float, t_0: int, t_mult: int) -> tuple[float, int]:
    """Return ``(T_cur, T_i)``: the offset within the current cycle and that cycle's length.

    Args:
        position: Position (>= 0; fractional positions are allowed, as ``step(epoch)`` is).
        t_0: Length of the first cycle.
        t_mult: Growth factor of each next cycle (integer >= 1).
    """
    if t_mult == 1:
        whole = math.floor(position)
        return whole % t_0 + (position - whole), t_0
    start, length = 0, t_0
    while position >= start + length:
        start += length
        length *= t_mult
    return position - start, length


@dataclass(frozen=True)
class CosineAnnealingWarmRestarts(GroupSchedule):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``.

    Cycle ``i`` lasts ``T_0 * T_mult ** i`` positions; ``T_cur`` restarts at 0 with each.

    Attributes:
        base_lrs: Each group's base LR.
        T_0: Length of the first cycle (> 0).
        T_mult: Growth factor of the cycle length (integer >= 1).
        eta_min: Lowest LR.
    """

    name: ClassVar[str] = "CosineAnnealingWarmRestarts"

    T_0: int
    T_mult: int = 1
    eta_min: float = 0.0

    def _validate(self) -> None:
        if self.T_0 <= 0 or self.T_mult < 1:
            raise ValueError(
                f"CosineAnnealingWarmRestarts: need T_0 > 0 and T_mult >= 1, got {self.T_0}, {self.T_mult}"
            )

    def group_lr(self, position: float, base_lr: float) -> float:
        """Return the LR of a group within its current cycle."""
        t_cur, t_i = restart_cycle(position, self.T_0, self.T_mult)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
