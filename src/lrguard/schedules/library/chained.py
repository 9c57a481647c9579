"""``torch.optim.lr_scheduler.ChainedScheduler``: step several schedulers at every position.

Each torch child updates the LR the previous one just wrote, by its recursive (chainable) form.
For multiplicative children that is ``base_lr * product of their multipliers``; for the others
(cosine with ``eta_min``, OneCycle, ...) the chain has no closed form, so only
:class:`~lrguard.schedules.library.base.MultiplicativeSchedule` children are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule, NotRebuildable


@dataclass(frozen=True)
class ChainedScheduler:
    """``lr = base_lr * prod(child.multiplier(position))``; all children share the base LRs.

    Attributes:
        children: Multiplicative schedules with the same ``base_lrs``.
    """

    name: ClassVar[str] = "ChainedScheduler"
    source: ClassVar[str] = "torch"

    children: tuple[MultiplicativeSchedule, ...]

    def __post_init__(self) -> None:
        """Check that every child is multiplicative and that they share the base LRs."""
        if not self.children:
            raise NotRebuildable("ChainedScheduler: no child schedules")
        for child in self.children:
            if not isinstance(child, MultiplicativeSchedule):
                raise NotRebuildable(
                    f"ChainedScheduler: child {child.name} is not multiplicative, the chain has no closed form"
                )
        if len({c.base_lrs for c in self.children}) != 1:
            raise NotRebuildable("ChainedScheduler: children have different base_lrs")

    @property
    def base_lrs(self) -> tuple[float, ...]:
        """The shared base LRs."""
        return self.children[0].base_lrs

    @property
    def n_groups(self) -> int:
        """Number of param groups."""
        return len(self.base_lrs)

    def multiplier(self, position: float) -> float:
        """Return the product of the children's multipliers."""
        out = 1.0
        for child in self.children:
            out *= child.multiplier(position)
        return out

    def lrs(self, position: float) -> tuple[float, ...]:
        """Return every group's LR at ``position``."""
        m = self.multiplier(position)
        return tuple(b * m for b in self.base_lrs)

    def describe(self) -> dict[str, Any]:
        """Return the name and each child's description."""
        return {"name": self.name, "source": self.source, "children": [c.describe() for c in self.children]}
