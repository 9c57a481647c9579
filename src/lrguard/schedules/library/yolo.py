"""YOLOv5 / Ultralytics: ``lf`` (linear or cosine) plus the per-iteration warmup, as a schedule.

The maths lives in :mod:`lrguard.schedules.curve`; this adapter only gives it the library
interface, with the *global iteration* ``ni = epoch * nb + i`` as the position.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from lrguard.schedules.curve import iteration_lr
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers.profile import Profile


@dataclass(frozen=True)
class YoloSchedule:
    """The LR of every YOLO param group at global iteration ``ni``.

    Attributes:
        spec: The session's schedule inputs; ``spec.nb`` must be known.
        profile: The trainer version's rules.
        groups: Number of param groups (``None``: the profile's).
    """

    name: ClassVar[str] = "yolo"
    source: ClassVar[str] = "yolo"

    spec: ScheduleSpec
    profile: Profile
    groups: int | None = None

    def __post_init__(self) -> None:
        """Require ``nb``: without it there is no per-iteration position."""
        if self.spec.nb is None or self.spec.nb <= 0:
            raise ValueError("yolo schedule: batches per epoch (nb) is needed for a per-iteration position")

    @property
    def n_groups(self) -> int:
        """Number of param groups."""
        return self.profile.n_groups if self.groups is None else self.groups

    def lrs(self, position: float) -> tuple[float, ...]:
        """Return every group's LR during global iteration ``position``."""
        nb = int(self.spec.nb or 1)
        ni = int(position)
        epoch = ni // nb
        row = iteration_lr(self.spec, self.profile, epoch + 1, start_epoch=epoch, n_groups=self.groups)[ni - epoch * nb]
        return tuple(float(v) for v in row)

    def describe(self) -> dict[str, Any]:
        """Return the name, the spec and the profile's name."""
        return {"name": self.name, "source": self.source, "spec": asdict(self.spec), "profile": self.profile.name}
