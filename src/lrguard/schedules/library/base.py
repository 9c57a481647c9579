"""What every schedule in :mod:`lrguard.schedules.library` is: a pure map from position to LRs.

A *position* is the counter the library's scheduler keys its LR on: ``last_epoch`` of a
``torch.optim.lr_scheduler`` scheduler (also the optimizer step of a ``transformers`` schedule),
the ``epoch`` / ``num_updates`` passed to a timm scheduler, the global iteration of a YOLO run.
``lrs(p)`` is the LR every param group has once the scheduler has been stepped to ``p``.

No schedule here recurses from position 0: each evaluates its closed form directly, so a
schedule rebuilt from a checkpoint predicts any later position without replaying the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable


class NotRebuildable(ValueError):
    """A saved scheduler state (or a configuration) that has no closed form here.

    The message is one line that names the scheduler and what is missing.
    """


@runtime_checkable
class Schedule(Protocol):
    """The interface: a pure function from position to one LR per param group."""

    name: ClassVar[str]
    source: ClassVar[str]

    @property
    def n_groups(self) -> int:
        """Number of param groups the schedule sets."""
        ...

    def lrs(self, position: float) -> tuple[float, ...]:
        """Return every group's LR at ``position``."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return the schedule's name, source and configuration as plain data."""
        ...


def check_groups(base_lrs: tuple[float, ...], what: str) -> None:
    """Raise :class:`NotRebuildable` unless there is at least one group.

    Args:
        base_lrs: One base LR per group.
        what: Schedule name used in the message.
    """
    if len(base_lrs) == 0:
        raise NotRebuildable(f"{what}: no param groups (base_lrs is empty)")


@dataclass(frozen=True)
class GroupSchedule(ABC):
    """A schedule that sets each group from that group's base LR alone.

    Attributes:
        base_lrs: Each group's ``initial_lr`` (``scheduler.base_lrs``).
    """

    name: ClassVar[str] = ""
    source: ClassVar[str] = "torch"

    base_lrs: tuple[float, ...]

    def __post_init__(self) -> None:
        """Normalise ``base_lrs`` to a tuple of floats and validate it."""
        object.__setattr__(self, "base_lrs", tuple(float(b) for b in self.base_lrs))
        check_groups(self.base_lrs, self.name or type(self).__name__)
        self._validate()

    def _validate(self) -> None:
        """Raise ``ValueError`` for a configuration the library itself rejects (none by default)."""
        return None

    @property
    def n_groups(self) -> int:
        """Number of param groups."""
        return len(self.base_lrs)

    @abstractmethod
    def group_lr(self, position: float, base_lr: float) -> float:
        """Return the LR at ``position`` of a group whose base LR is ``base_lr``."""

    def lrs(self, position: float) -> tuple[float, ...]:
        """Return every group's LR at ``position``."""
        return tuple(self.group_lr(position, b) for b in self.base_lrs)

    def describe(self) -> dict[str, Any]:
        """Return ``{"name", "source", **fields}`` (the dataclass fields as plain data)."""
        return {"name": self.name, "source": self.source, **asdict(self)}


@dataclass(frozen=True)
class MultiplicativeSchedule(GroupSchedule):
    """A schedule whose LR is ``base_lr * multiplier(position)`` for every group.

    Only these compose under ``ChainedScheduler`` (the chain multiplies their multipliers).
    """

    @abstractmethod
    def multiplier(self, position: float) -> float:
        """Return the multiplier of the base LR at ``position``."""

    def group_lr(self, position: float, base_lr: float) -> float:
        """Return ``base_lr * multiplier(position)``."""
        return base_lr * self.multiplier(position)
