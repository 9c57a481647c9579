"""``torch.optim.lr_scheduler.OneCycleLR``: warm up to ``max_lr``, anneal to ``min_lr``.

The phases (two, or three with ``three_phase``) are what ``state_dict()["_schedule_phases"]``
holds; the per-group ``initial_lr`` / ``max_lr`` / ``min_lr`` live in the *optimizer's*
param groups, so rebuilding from disk needs the optimizer state too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from lrguard.schedules.library.base import NotRebuildable, check_groups

LrKey = Literal["initial_lr", "max_lr", "min_lr"]
_KEYS: tuple[str, ...] = ("initial_lr", "max_lr", "min_lr")


def anneal(start: float, end: float, pct: float, strategy: str) -> float:
    """Interpolate from ``start`` (``pct = 0``) to ``end`` (``pct = 1``), by cosine or linearly."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


@dataclass(frozen=True)
class OneCyclePhase:
    """One phase of the cycle.

    Attributes:
        end_step: Last position of the phase (a float, as torch stores it).
        start_lr: Which group value the phase starts at.
        end_lr: Which group value the phase ends at.
    """

    end_step: float
    start_lr: LrKey
    end_lr: LrKey


def onecycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> tuple[OneCyclePhase, ...]:
    """Return the phases ``OneCycleLR`` builds for ``total_steps`` and ``pct_start``."""
    up = float(pct_start * total_steps) - 1
    if three_phase:
        return (
            OneCyclePhase(up, "initial_lr", "max_lr"),
            OneCyclePhase(float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr"),
            OneCyclePhase(total_steps - 1, "initial_lr", "min_lr"),
        )
    return (OneCyclePhase(up, "initial_lr", "max_lr"), OneCyclePhase(total_steps - 1, "max_lr", "min_lr"))


@dataclass(frozen=True)
class OneCycleLR:
    """The one-cycle policy: per phase, anneal between two of each group's three LRs.

    Attributes:
        base_lrs: Each group's ``initial_lr`` (``max_lr / div_factor``).
        max_lrs: Each group's peak LR.
        min_lrs: Each group's final LR (``initial_lr / final_div_factor``).
        total_steps: Positions in the cycle; torch refuses to step past it.
        phases: The phases, in order.
        anneal_strategy: ``"cos"`` or ``"linear"``.
    """

    name: ClassVar[str] = "OneCycleLR"
    source: ClassVar[str] = "torch"

    base_lrs: tuple[float, ...]
    max_lrs: tuple[float, ...]
    min_lrs: tuple[float, ...]
    total_steps: int
    phases: tuple[OneCyclePhase, ...]
    anneal_strategy: str = "cos"

    def __post_init__(self) -> None:
        """Validate the group values and the strategy."""
        check_groups(self.base_lrs, self.name)
        if not len(self.base_lrs) == len(self.max_lrs) == len(self.min_lrs):
            raise NotRebuildable("OneCycleLR: initial_lr, max_lr and min_lr differ in number of groups")
        if self.anneal_strategy not in ("cos", "linear"):
            raise NotRebuildable(f"OneCycleLR: unknown anneal strategy {self.anneal_strategy!r}")
        if not self.phases:
            raise NotRebuildable("OneCycleLR: no schedule phases")

    @classmethod
    def from_args(
        cls,
        max_lr: float | tuple[float, ...],
        total_steps: int,
        *,
        n_groups: int = 1,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> OneCycleLR:
        """Build the schedule from ``OneCycleLR``'s constructor arguments.

        Args:
            max_lr: Peak LR, one for all groups or one per group.
            total_steps: Positions in the cycle.
            n_groups: Number of groups when ``max_lr`` is a single float.
            pct_start: Fraction of the cycle spent warming up.
            anneal_strategy: ``"cos"`` or ``"linear"``.
            div_factor: ``initial_lr = max_lr / div_factor``.
            final_div_factor: ``min_lr = initial_lr / final_div_factor``.
            three_phase: Use the three-phase variant.
        """
        peaks = tuple(max_lr) if isinstance(max_lr, tuple) else (float(max_lr),) * n_groups
        initial = tuple(m / div_factor for m in peaks)
        return cls(
            base_lrs=initial,
            max_lrs=peaks,
            min_lrs=tuple(i / final_div_factor for i in initial),
            total_steps=total_steps,
            phases=onecycle_phases(total_steps, pct_start, three_phase),
            anneal_strategy=anneal_strategy,
        )

    @property
    def n_groups(self) -> int:
        """Number of param groups."""
        return len(self.base_lrs)

    def lrs(self, position: float) -> tuple[float, ...]:
        """Return every group's LR at ``position``.

        Raises:
            ValueError: If ``position`` is past ``total_steps`` (torch raises there too).
        """
        if position > self.total_steps:
            raise ValueError(f"OneCycleLR: position {position} is past total_steps {self.total_steps}")
        out = []
        for g in range(self.n_groups):
            values = {"initial_lr": self.base_lrs[g], "max_lr": self.max_lrs[g], "min_lr": self.min_lrs[g]}
            start_step = 0.0
            for i, phase in enumerate(self.phases):
                if position <= phase.end_step or i == len(self.phases) - 1:
                    pct = (position - start_step) / (phase.end_step - start_step)
                    out.append(anneal(values[phase.start_lr], values[phase.end_lr], pct, self.anneal_strategy))
                    break
                start_step = phase.end_step
        return tuple(out)

    def describe(self) -> dict[str, Any]:
        """Return ``{"name", "source", **fields}``."""
        return {"name": self.name, "source": self.source, **asdict(self)}


def phases_from_state(raw: Any) -> tuple[OneCyclePhase, ...]:
    """Read ``_schedule_phases`` from a ``OneCycleLR`` state dict.

    Raises:
        NotRebuildable: If an entry lacks ``end_step`` or names an unknown group value.
    """
    if not isinstance(raw, list | tuple) or not raw:
        raise NotRebuildable("OneCycleLR: _schedule_phases missing or empty in the state dict")
    phases = []
    for entry in raw:
        if not isinstance(entry, dict) or "end_step" not in entry:
            raise NotRebuildable("OneCycleLR: a _schedule_phases entry has no end_step")
        start, end = entry.get("start_lr"), entry.get("end_lr")
        if start not in _KEYS or end not in _KEYS:
            raise NotRebuildable(f"OneCycleLR: phase LR keys {start!r} -> {end!r} are not initial/max/min_lr")
        phases.append(OneCyclePhase(float(entry["end_step"]), start, end))
    return tuple(phases)
