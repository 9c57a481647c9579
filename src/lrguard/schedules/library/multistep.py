"""``torch.optim.lr_scheduler.MultiStepLR``: multiply by ``gamma`` at each milestone."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule


def multistep_factor(position: float, milestones: tuple[int, ...], gamma: float) -> float:
    """Return ``gamma ** k`` with ``k`` the number of milestones ``<= position`` (with repeats)."""
    return gamma ** bisect_right(milestones, position)


@dataclass(frozen=True)
class MultiStepLR(MultiplicativeSchedule):
    """``lr = base_lr * gamma ** #{m in milestones : m <= position}``.

    A milestone listed twice decays twice (torch keeps them in a ``Counter``).

    Attributes:
        base_lrs: Each group's base LR.
        milestones: Positions where the LR decays, sorted, repeats kept.
        gamma: Decay factor per milestone.
    """

    name: ClassVar[str] = "MultiStepLR"

    milestones: tuple[int, ...]
    gamma: float = 0.1

    def _validate(self) -> None:
        object.__setattr__(self, "milestones", tuple(sorted(int(m) for m in self.milestones)))

    def multiplier(self, position: float) -> float:
        """Return ``gamma`` to the number of milestones reached."""
        return multistep_factor(position, self.milestones, self.gamma)
