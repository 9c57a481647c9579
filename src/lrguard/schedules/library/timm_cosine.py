"""timm's ``CosineLRScheduler`` (timm 1.0): warmup, cosine cycles with restarts, decay and k-decay.

timm schedulers are stateless by design: the training loop passes the position itself
(``scheduler.step(epoch)`` when ``t_in_epochs``, ``scheduler.step_update(num_updates)``
otherwise) and ``_get_lr(t)`` is already a closed form, which this module restates. The
position is therefore never in timm's ``state_dict()``; it comes from the training loop's own
counter (the ``epoch`` saved beside it in a timm checkpoint).

Not covered: LR noise (``noise_range_t``), which draws from a torch RNG seeded by position.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from lrguard.schedules.library.base import NotRebuildable, check_groups


def timm_cycle(t: float, t_initial: int, cycle_mul: float) -> tuple[int, float, float]:
    """Return ``(cycle index i, cycle length t_i, offset in cycle t_curr)`` as timm computes them.

    With ``cycle_mul != 1`` the cycle index comes from a float logarithm, like timm's.
    """
    if cycle_mul != 1:
        i = math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))
        t_i = cycle_mul**i * t_initial
        return i, t_i, t - (1 - cycle_mul**i) / (1 - cycle_mul) * t_initial
    i = int(t // t_initial)
    return i, t_initial, t - t_initial * i


@dataclass(frozen=True)
class TimmCosineLR:
    """Linear warmup from ``warmup_lr_init``, then cosine cycles from ``base * cycle_decay**i`` to ``lr_min``.

    For ``t < warmup_t``: ``warmup_lr_init + t * (base - warmup_lr_init) / warmup_t``. Then, with
    ``t' = t - warmup_t`` if ``warmup_prefix`` else ``t``, cycle ``i`` (length
    ``t_initial * cycle_mul**i``, offset ``t_curr``) gives ``lr_min + (base * cycle_decay**i -
    lr_min) * (1 + cos(pi * t_curr**k / t_i**k)) / 2`` for ``i < cycle_limit``, else ``lr_min``.
    A group's ``lr_scale``, when set, multiplies its value.

    Attributes:
        base_lrs: Each group's ``initial_lr`` (timm's ``base_values``).
        t_initial: Length of the first cycle.
        lr_min: Floor of every cycle.
        cycle_mul: Growth of the cycle length.
        cycle_decay: Decay of the peak per cycle.
        cycle_limit: Cycles before the LR stays at ``lr_min``.
        warmup_t: Warmup length (0: none).
        warmup_lr_init: LR at position 0 of the warmup.
        warmup_prefix: The cycles start after the warmup instead of at 0.
        t_in_epochs: Positions are epochs (``step``) rather than updates (``step_update``).
        k_decay: Exponent ``k`` of the k-decay variant (1: plain cosine).
        lr_scales: Each group's ``lr_scale`` (``None`` entries or ``None``: no scale).
    """

    name: ClassVar[str] = "CosineLRScheduler"
    source: ClassVar[str] = "timm"

    base_lrs: tuple[float, ...]
    t_initial: int
    lr_min: float = 0.0
    cycle_mul: float = 1.0
    cycle_decay: float = 1.0
    cycle_limit: int = 1
    warmup_t: int = 0
    warmup_lr_init: float = 0.0
    warmup_prefix: bool = False
    t_in_epochs: bool = True
    k_decay: float = 1.0
    lr_scales: tuple[float | None, ...] | None = None

    def __post_init__(self) -> None:
        """Validate what timm asserts, and the group count of ``lr_scales``."""
        check_groups(self.base_lrs, self.name)
        if self.t_initial <= 0 or self.lr_min < 0:
            raise ValueError(f"CosineLRScheduler: need t_initial > 0 and lr_min >= 0 ({self.t_initial}, {self.lr_min})")
        if self.lr_scales is not None and len(self.lr_scales) != len(self.base_lrs):
            raise ValueError("CosineLRScheduler: lr_scales and base_lrs differ in number of groups")

    @property
    def n_groups(self) -> int:
        """Number of param groups."""
        return len(self.base_lrs)

    def values(self, position: float) -> tuple[float, ...]:
        """Return timm's ``_get_lr(position)``: the values before any ``lr_scale``."""
        t = position
        if t < self.warmup_t:
            return tuple(self.warmup_lr_init + t * ((b - self.warmup_lr_init) / self.warmup_t) for b in self.base_lrs)
        if self.warmup_prefix:
            t = t - self.warmup_t
        i, t_i, t_curr = timm_cycle(t, self.t_initial, self.cycle_mul)
        if i >= self.cycle_limit:
            return tuple(self.lr_min for _ in self.base_lrs)
        gamma = self.cycle_decay**i
        k = self.k_decay
        return tuple(
            self.lr_min + 0.5 * (b * gamma - self.lr_min) * (1 + math.cos(math.pi * t_curr**k / t_i**k))
            for b in self.base_lrs
        )

    def lrs(self, position: float) -> tuple[float, ...]:
        """Return every group's LR at ``position`` (``lr_scale`` applied)."""
        vals = self.values(position)
        if self.lr_scales is None:
            return vals
        return tuple(v if s is None else v * s for v, s in zip(vals, self.lr_scales, strict=True))

    def describe(self) -> dict[str, Any]:
        """Return ``{"name", "source", **fields}``."""
        return {"name": self.name, "source": self.source, **asdict(self)}


def timm_cosine_from_state(state: dict[str, Any], lr_scales: tuple[float | None, ...] | None = None) -> TimmCosineLR:
    """Build a :class:`TimmCosineLR` from ``CosineLRScheduler.state_dict()``.

    Raises:
        NotRebuildable: If a field is missing or LR noise is on.
    """
    if state.get("noise_range_t") is not None:
        raise NotRebuildable("CosineLRScheduler: LR noise (noise_range_t) is drawn from a torch RNG, no closed form")
    if state.get("param_group_field", "lr") != "lr":
        raise NotRebuildable(f"CosineLRScheduler: schedules {state.get('param_group_field')!r}, not the LR")
    try:
        return TimmCosineLR(
            base_lrs=tuple(float(v) for v in state["base_values"]),
            t_initial=int(state["t_initial"]),
            lr_min=float(state["lr_min"]),
            cycle_mul=float(state["cycle_mul"]),
            cycle_decay=float(state["cycle_decay"]),
            cycle_limit=int(state["cycle_limit"]),
            warmup_t=int(state["warmup_t"]),
            warmup_lr_init=float(state["warmup_lr_init"]),
            warmup_prefix=bool(state["warmup_prefix"]),
            t_in_epochs=bool(state["t_in_epochs"]),
            k_decay=float(state.get("k_decay", 1.0)),
            lr_scales=lr_scales,
        )
    except KeyError as exc:
        raise NotRebuildable(f"CosineLRScheduler: state dict lacks {exc.args[0]!r}") from None
