"""``torch.optim.lr_scheduler.CosineAnnealingLR``: cosine from the base LR to ``eta_min``.

torch steps this schedule with a *recursive* form: ``lr_t = eta_min + (lr_{t-1} - eta_min) *
(1 + cos(pi t / T)) / (1 + cos(pi (t - 1) / T))``, with an additive branch at every odd multiple
of ``T_max + 1``. Its values equal the closed form only while nobody else touches the LR:

- in floating point they drift by a few ulps per step (well below 1e-9 relative to the base LR
  for runs of thousands of steps, see docs/schedules.md);
- when the LR was changed externally (a warmup written into ``group["lr"]``, an optimizer state
  loaded with another LR, a second scheduler), the recursion carries on from the changed value
  and the closed form here does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import GroupSchedule


def cosine_annealing(position: float, base_lr: float, eta_min: float, t_max: float) -> float:
    """Return ``eta_min + (base_lr - eta_min) * (1 + cos(pi * position / t_max)) / 2``."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * position / t_max)) / 2


@dataclass(frozen=True)
class CosineAnnealingLR(GroupSchedule):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * position / T_max)) / 2``.

    Periodic: past ``T_max`` the LR climbs back (period ``2 * T_max``), as torch's does.

    Attributes:
        base_lrs: Each group's base LR.
        T_max: Half period (> 0).
        eta_min: LR at ``T_max``.
    """

    name: ClassVar[str] = "CosineAnnealingLR"

    T_max: int
    eta_min: float = 0.0

    def _validate(self) -> None:
        if self.T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {self.T_max}")

    def group_lr(self, position: float, base_lr: float) -> float:
        """Return the cosine-annealed LR of a group."""
        return cosine_annealing(position, base_lr, self.eta_min, self.T_max)
