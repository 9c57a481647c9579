"""The ``transformers.get_scheduler`` types (transformers 4.48): LambdaLR multipliers in closed form.

Every type except ``reduce_lr_on_plateau`` is a ``torch.optim.lr_scheduler.LambdaLR`` whose
position is the optimizer step (``last_epoch``) and whose LR is ``base_lr * multiplier(step)``.
A LambdaLR state dict does not hold the lambda (``lr_lambdas`` is ``[{}]`` for the
``functools.partial`` transformers uses), so these are rebuilt from the scheduler *name* and the
training arguments: :class:`HFSchedulerArgs`.

Warmup is ``step / max(1, num_warmup_steps)`` for ``step < num_warmup_steps`` in every type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lrguard.schedules.library.base import MultiplicativeSchedule, NotRebuildable


def warmup_multiplier(step: float, num_warmup_steps: int) -> float:
    """Return ``step / max(1, num_warmup_steps)`` (the shared linear warmup)."""
    return float(step) / float(max(1, num_warmup_steps))


def hf_warmup_steps(num_training_steps: int, warmup_steps: int = 0, warmup_ratio: float = 0.0) -> int:
    """Return the warmup steps the Trainer passes: ``warmup_steps`` if > 0, else ``ceil(T * ratio)``."""
    return warmup_steps if warmup_steps > 0 else math.ceil(num_training_steps * warmup_ratio)


def _progress(step: float, num_warmup_steps: int, num_training_steps: int) -> float:
    return float(step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))


@dataclass(frozen=True)
class HFConstant(MultiplicativeSchedule):
    """``constant``: multiplier 1."""

    name: ClassVar[str] = "constant"
    source: ClassVar[str] = "transformers"

    def multiplier(self, position: float) -> float:
        """Return 1."""
        return 1.0


@dataclass(frozen=True)
class HFConstantWithWarmup(MultiplicativeSchedule):
    """``constant_with_warmup``: linear warmup, then 1.

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length.
    """

    name: ClassVar[str] = "constant_with_warmup"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int

    def multiplier(self, position: float) -> float:
        """Return the warmup ramp, then 1."""
        if position < self.num_warmup_steps:
            return float(position) / float(max(1.0, self.num_warmup_steps))
        return 1.0


@dataclass(frozen=True)
class HFLinear(MultiplicativeSchedule):
    """``linear``: warmup, then ``max(0, (T - step) / max(1, T - W))``.

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length ``W``.
        num_training_steps: Total steps ``T``.
    """

    name: ClassVar[str] = "linear"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int
    num_training_steps: int

    def multiplier(self, position: float) -> float:
        """Return the warmup ramp, then the linear decay to 0 at ``T``."""
        if position < self.num_warmup_steps:
            return warmup_multiplier(position, self.num_warmup_steps)
        return max(
            0.0,
            float(self.num_training_steps - position) / float(max(1, self.num_training_steps - self.num_warmup_steps)),
        )


@dataclass(frozen=True)
class HFCosine(MultiplicativeSchedule):
    """``cosine``: warmup, then ``max(0, (1 + cos(2 pi num_cycles progress)) / 2)``.

    ``progress = (step - W) / max(1, T - W)``; the default ``num_cycles = 0.5`` is a half cosine.

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length ``W``.
        num_training_steps: Total steps ``T``.
        num_cycles: Number of cosine periods over ``T - W``.
    """

    name: ClassVar[str] = "cosine"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int
    num_training_steps: int
    num_cycles: float = 0.5

    def multiplier(self, position: float) -> float:
        """Return the warmup ramp, then the cosine."""
        if position < self.num_warmup_steps:
            return warmup_multiplier(position, self.num_warmup_steps)
        progress = _progress(position, self.num_warmup_steps, self.num_training_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(self.num_cycles) * 2.0 * progress)))


@dataclass(frozen=True)
class HFCosineWithRestarts(MultiplicativeSchedule):
    """``cosine_with_restarts``: warmup, then ``num_cycles`` hard-restarted half cosines, 0 from ``T``.

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length ``W``.
        num_training_steps: Total steps ``T``.
        num_cycles: Number of restarts.
    """

    name: ClassVar[str] = "cosine_with_restarts"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int
    num_training_steps: int
    num_cycles: int = 1

    def multiplier(self, position: float) -> float:
        """Return the warmup ramp, then the restarted cosine."""
        if position < self.num_warmup_steps:
            return warmup_multiplier(position, self.num_warmup_steps)
        progress = _progress(position, self.num_warmup_steps, self.num_training_steps)
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(self.num_cycles) * progress) % 1.0))))


@dataclass(frozen=True)
class HFPolynomial(MultiplicativeSchedule):
    """``polynomial``: warmup, then ``((lr_init - lr_end) * remaining ** power + lr_end) / lr_init``.

    ``remaining = 1 - (step - W) / (T - W)``; from ``T`` on the multiplier is ``lr_end / lr_init``.
    ``lr_init`` is the optimizer's *default* LR (the Trainer's ``learning_rate``), not each group's.

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length ``W``.
        num_training_steps: Total steps ``T`` (> ``W``).
        lr_init: The optimizer's default LR.
        lr_end: The final LR (< ``lr_init``).
        power: Exponent.
    """

    name: ClassVar[str] = "polynomial"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int
    num_training_steps: int
    lr_init: float
    lr_end: float = 1e-7
    power: float = 1.0

    def _validate(self) -> None:
        if not self.lr_init > self.lr_end:
            raise ValueError(f"polynomial: lr_end ({self.lr_end}) must be smaller than initial lr ({self.lr_init})")

    def multiplier(self, position: float) -> float:
        """Return the warmup ramp, then the polynomial decay."""
        if position < self.num_warmup_steps:
            return warmup_multiplier(position, self.num_warmup_steps)
        if position > self.num_training_steps:
            return self.lr_end / self.lr_init
        decay_steps = self.num_training_steps - self.num_warmup_steps
        remaining = 1 - (position - self.num_warmup_steps) / decay_steps
        return float(((self.lr_init - self.lr_end) * remaining**self.power + self.lr_end) / self.lr_init)


@dataclass(frozen=True)
class HFInverseSqrt(MultiplicativeSchedule):
    """``inverse_sqrt``: warmup, then ``1 / sqrt((step + timescale - W) / timescale)``.

    ``get_scheduler`` never passes ``timescale``, so it is ``W`` (or 10 000 when ``W = 0``).

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length ``W``.
        timescale: Decay timescale; ``None`` for the default above.
    """

    name: ClassVar[str] = "inverse_sqrt"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int
    timescale: int | None = None

    @property
    def effective_timescale(self) -> int:
        """The timescale in use."""
        return self.timescale if self.timescale is not None else (self.num_warmup_steps or 10_000)

    def multiplier(self, position: float) -> float:
        """Return the warmup ramp, then the inverse square root decay."""
        if position < self.num_warmup_steps:
            return warmup_multiplier(position, self.num_warmup_steps)
        timescale = self.effective_timescale
        shift = timescale - self.num_warmup_steps
        return 1.0 / math.sqrt((position + shift) / timescale)


@dataclass(frozen=True)
class HFCosineWithMinLR(MultiplicativeSchedule):
    """``cosine_with_min_lr``: :class:`HFCosine` lifted to ``min_lr_rate + (1 - min_lr_rate) * cos``.

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length ``W``.
        num_training_steps: Total steps ``T``.
        min_lr_rate: Floor of the multiplier (``min_lr / lr_init`` when ``min_lr`` was given).
        num_cycles: Number of cosine periods over ``T - W``.
    """

    name: ClassVar[str] = "cosine_with_min_lr"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int
    num_training_steps: int
    min_lr_rate: float
    num_cycles: float = 0.5

    def multiplier(self, position: float) -> float:
        """Return the warmup ramp, then the floored cosine."""
        if position < self.num_warmup_steps:
            return warmup_multiplier(position, self.num_warmup_steps)
        progress = _progress(position, self.num_warmup_steps, self.num_training_steps)
        value = 0.5 * (1.0 + math.cos(math.pi * float(self.num_cycles) * 2.0 * progress))
        return max(0.0, value * (1 - self.min_lr_rate) + self.min_lr_rate)


@dataclass(frozen=True)
class HFWarmupStableDecay(MultiplicativeSchedule):
    """``warmup_stable_decay``: warmup, ``num_stable_steps`` at 1, cosine decay to ``min_lr_ratio``.

    Attributes:
        base_lrs: Each group's base LR.
        num_warmup_steps: Warmup length.
        num_stable_steps: Steps at the full LR.
        num_decay_steps: Length of the decay.
        min_lr_ratio: Multiplier after the decay.
        num_cycles: Cosine periods over the decay (0.5: a half cosine).
    """

    name: ClassVar[str] = "warmup_stable_decay"
    source: ClassVar[str] = "transformers"

    num_warmup_steps: int
    num_stable_steps: int
    num_decay_steps: int
    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5

    def multiplier(self, position: float) -> float:
        """Return the multiplier of the stage ``position`` is in."""
        if position < self.num_warmup_steps:
            return warmup_multiplier(position, self.num_warmup_steps)
        if position < self.num_warmup_steps + self.num_stable_steps:
            return 1.0
        if position < self.num_warmup_steps + self.num_stable_steps + self.num_decay_steps:
            progress = float(position - self.num_warmup_steps - self.num_stable_steps) / float(
                max(1, self.num_decay_steps)
            )
            value = max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(self.num_cycles) * 2.0 * progress)))
            return (1.0 - self.min_lr_ratio) * value + self.min_lr_ratio
        return self.min_lr_ratio


HF_TYPES: dict[str, type[MultiplicativeSchedule]] = {
    cls.name: cls
    for cls in (
        HFLinear,
        HFCosine,
        HFCosineWithRestarts,
        HFPolynomial,
        HFConstant,
        HFConstantWithWarmup,
        HFInverseSqrt,
        HFCosineWithMinLR,
        HFWarmupStableDecay,
    )
}
"""``get_scheduler`` name -> schedule class (every type of transformers 4.48 with a closed form)."""

NOT_CLOSED_FORM: dict[str, str] = {
    "reduce_lr_on_plateau": "reduce_lr_on_plateau lowers the LR when a metric stops improving: it depends on "
    "the metric history, not on the step, so it has no closed form",
}
"""``get_scheduler`` types that exist but cannot be a schedule here, with the reason."""


@dataclass(frozen=True)
class HFSchedulerArgs:
    """What ``Trainer.create_scheduler`` passes to ``get_scheduler``; builds the schedule.

    Attributes:
        name: ``lr_scheduler_type`` (a ``get_scheduler`` name).
        num_warmup_steps: Warmup steps (see :func:`hf_warmup_steps`).
        num_training_steps: Total optimizer steps.
        scheduler_specific_kwargs: ``lr_scheduler_kwargs``.
        learning_rate: The optimizer's default LR (``polynomial``, and ``cosine_with_min_lr`` with
            ``min_lr``); defaults to the first group's base LR.
    """

    name: str
    num_warmup_steps: int | None = None
    num_training_steps: int | None = None
    scheduler_specific_kwargs: dict[str, Any] = field(default_factory=dict)
    learning_rate: float | None = None

    def build(self, base_lrs: tuple[float, ...]) -> MultiplicativeSchedule:
        """Return the schedule ``get_scheduler`` would build for groups with ``base_lrs``.

        Raises:
            NotRebuildable: For an unknown or non-closed-form type, or missing arguments
                (the same arguments ``get_scheduler`` requires).
        """
        name = self.name
        if name in NOT_CLOSED_FORM:
            raise NotRebuildable(NOT_CLOSED_FORM[name])
        if name not in HF_TYPES:
            raise NotRebuildable(f"unknown transformers scheduler type {name!r} (known: {', '.join(HF_TYPES)})")
        bases = tuple(float(b) for b in base_lrs)
        if name == "constant":
            return HFConstant(bases)
        if self.num_warmup_steps is None:
            raise NotRebuildable(f"{name} requires num_warmup_steps")
        warm = self.num_warmup_steps
        kwargs = dict(self.scheduler_specific_kwargs)
        try:
            if name == "constant_with_warmup":
                return HFConstantWithWarmup(bases, warm)
            if name == "inverse_sqrt":
                return HFInverseSqrt(bases, warm)
            if name == "warmup_stable_decay":
                return HFWarmupStableDecay(bases, warm, **kwargs)
            if self.num_training_steps is None:
                raise NotRebuildable(f"{name} requires num_training_steps")
            total = self.num_training_steps
            lr_init = self.learning_rate if self.learning_rate is not None else bases[0]
            if name == "polynomial":
                return HFPolynomial(bases, warm, total, lr_init=lr_init, **kwargs)
            if name == "cosine_with_min_lr":
                min_lr, rate = kwargs.pop("min_lr", None), kwargs.pop("min_lr_rate", None)
                if min_lr is not None and rate is not None:
                    raise NotRebuildable("cosine_with_min_lr: only one of min_lr or min_lr_rate may be set")
                if min_lr is not None:
                    rate = min_lr / lr_init
                if rate is None:
                    raise NotRebuildable("cosine_with_min_lr: one of min_lr or min_lr_rate must be set")
                return HFCosineWithMinLR(bases, warm, total, min_lr_rate=rate, **kwargs)
            return HF_TYPES[name](bases, warm, total, **kwargs)  # type: ignore[call-arg]
        except TypeError as exc:
            raise NotRebuildable(f"{name}: bad scheduler arguments ({exc})") from None
