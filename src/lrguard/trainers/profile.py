"""The :class:`Profile` record: every version-dependent fact the schedule maths and logging need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Profile:
    """How one trainer version computes, logs and restores the learning rate.

    Attributes:
        name: Stable id (``"yolov5"``, ``"ultralytics-8.4"``, ...), accepted by ``--profile``.
        framework: ``"yolov5"`` or ``"ultralytics"``.
        label: Human description including the version range.
        epoch_base: First value of results.csv's ``epoch`` column (0 or 1).
        lr_prefix: Prefix of the LR columns (``x/lr`` or ``lr/pg``).
        group_names: What each param group holds, in optimizer order.
        bias_group: Index of the group holding the biases.
        warmup_bias_group: Index of the group that actually receives ``warmup_bias_lr`` during
            warmup (differs from ``bias_group`` only in the buggy versions, mechanism M9).
        reference_group: A weight group used as the reference column for the schedule.
        group_lr_scale: Multiplier of ``lr0`` per group (MuSGD "boosted" groups use 3).
        log_lag: After warmup, the row of 0-based epoch ``e`` shows ``lr0 * lf(e - log_lag)``.
        resume_row_restored: True when the first row after ``--resume`` shows the LR stored in the
            checkpoint (scheduler steps at the end of the epoch); False when the scheduler steps
            at the start of each epoch so the first resumed row already follows the schedule.
        checkpoint_lr_lag: A checkpoint saved after 0-based epoch ``e`` stores ``lr0 * lf(e -
            checkpoint_lr_lag)``.
        linear_clamp: Linear ``lf`` is clamped at ``lrf`` past the last epoch.
        linear_offset: 1 when the linear schedule divides by ``epochs - 1`` (YOLOv5 <= v6.0).
        warmup_floor: Minimum warmup iterations (``max(round(warmup_epochs*nb), floor)``).
        warmup_capped: Warmup epochs capped at ``epochs - 1`` (Ultralytics 8.4.x).
        warmup_zero_disables: ``warmup_epochs: 0`` switches warmup off entirely.
        significant_digits: Digits written to results.csv.
        defaults: Trainer defaults for the schedule hyperparameters.
        fixed_nbs: Nominal batch size when it is hard-coded (YOLOv5: 64).
    """

    name: str
    framework: str
    label: str
    epoch_base: int
    lr_prefix: str
    group_names: tuple[str, ...]
    bias_group: int
    warmup_bias_group: int
    reference_group: int
    log_lag: int
    resume_row_restored: bool
    checkpoint_lr_lag: int
    linear_clamp: bool
    warmup_floor: int
    significant_digits: int
    defaults: dict[str, Any] = field(default_factory=dict)
    group_lr_scale: tuple[float, ...] = ()
    linear_offset: int = 0
    warmup_capped: bool = False
    warmup_zero_disables: bool = False
    fixed_nbs: int | None = None

    @property
    def n_groups(self) -> int:
        """Number of param groups this version creates."""
        return len(self.group_names)

    def lr_scale(self, group: int) -> float:
        """Return the multiplier of ``lr0`` for ``group`` (1.0 unless boosted)."""
        return self.group_lr_scale[group] if group < len(self.group_lr_scale) else 1.0

    def lr_column(self, group: int) -> str:
        """Return the results.csv column name of ``group``."""
        return f"{self.lr_prefix}{group}"

    def rel_tolerance(self) -> float:
        """Relative tolerance for comparing logged with planned values at this precision."""
        return 2.0 * 10.0 ** (1 - self.significant_digits)


def step_profile(name: str, label: str, lr_prefix: str, framework: str | None = None) -> Profile:
    """The profile of a step-counted trainer (HF, Lightning, Accelerate, plain PyTorch).

    Its scheduler scales every group alike and the logged value is the one the step used: one
    reference group, no bias warmup, no lag; the results.csv-only fields are neutral.
    """
    return Profile(
        name=name,
        framework=framework or name,
        label=label,
        epoch_base=0,
        lr_prefix=lr_prefix,
        group_names=("all groups",),
        bias_group=0,
        warmup_bias_group=0,
        reference_group=0,
        log_lag=0,
        resume_row_restored=True,
        checkpoint_lr_lag=0,
        linear_clamp=False,
        warmup_floor=0,
        significant_digits=15,
    )
