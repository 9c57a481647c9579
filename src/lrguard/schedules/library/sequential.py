"""``torch.optim.lr_scheduler.SequentialLR``: hand over from one schedule to the next at milestones.

At milestone ``m_i`` torch restarts child ``i`` at its own position 0 (through its closed form)
and steps only that child afterwards, so child ``i`` sees ``position - m_{i-1}``; the first child
sees the position itself.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, ClassVar

from lrguard.schedules.library.base import NotRebuildable, Schedule


@dataclass(frozen=True)
class SequentialLR:
    """``lr(p) = children[i].lrs(p - milestones[i-1])`` with ``i`` the number of milestones ``<= p``.

    Attributes:
        children: The schedules in order (at least one).
        milestones: Positions where the next child takes over (one fewer than children).
    """

    name: ClassVar[str] = "SequentialLR"
    source: ClassVar[str] = "torch"

    children: tuple[Schedule, ...]
    milestones: tuple[int, ...]

    def __post_init__(self) -> None:
        """Check the counts and that all children set the same number of groups."""
        if not self.children:
            raise NotRebuildable("SequentialLR: no child schedules")
        if len(self.milestones) != len(self.children) - 1:
            raise NotRebuildable(
                f"SequentialLR: {len(self.children)} children need {len(self.children) - 1} milestones, "
                f"got {len(self.milestones)}"
            )
        if len({c.n_groups for c in self.children}) != 1:
            raise NotRebuildable("SequentialLR: children set different numbers of param groups")

    @property
    def n_groups(self) -> int:
        """Number of param groups."""
        return self.children[0].n_groups

    def active(self, position: float) -> tuple[int, float]:
        """Return ``(index of the active child, its local position)``."""
        idx = bisect_right(self.milestones, position)
        return idx, position if idx == 0 else position - self.milestones[idx - 1]

    def lrs(self, position: float) -> tuple[float, ...]:
        """Return the active child's LRs at its local position."""
        idx, local = self.active(position)
        return self.children[idx].lrs(local)

    def describe(self) -> dict[str, Any]:
        """Return the name, milestones and each child's description."""
        return {
            "name": self.name,
            "source": self.source,
            "milestones": list(self.milestones),
            "children": [c.describe() for c in self.children],
        }
