"""The guard's configuration, validated once at start (a bad value fails with one clear line)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrguard.signals.spike import LIVE_RULE, SpikeRule

#: Resume pre-flight policies.
POLICIES = ("warn", "stop", "continue-curve")
#: The action ladder, mildest first.
ACTIONS = ("log", "clip", "skip", "lower-lr", "rollback", "stop")
#: Signals the guard judges, each with its own action.
SIGNALS = ("nonfinite", "loss-spike", "grad-spike", "lr-off-plan")
#: Actions no adapter performs yet (accepted by name, rejected at start with that reason).
NOT_IMPLEMENTED: frozenset[str] = frozenset()
#: Actions that must happen at the step itself: for a spike they need the value on the host every step.
_AT_THE_STEP = frozenset({"clip", "skip"})
_DEFAULT_ACTIONS = {"nonfinite": "skip", "loss-spike": "log", "grad-spike": "log", "lr-off-plan": "log"}
_ALLOWED = {
    "nonfinite": frozenset({"log", "skip", "stop"}),
    "loss-spike": frozenset(ACTIONS),
    "grad-spike": frozenset(ACTIONS),
    "lr-off-plan": frozenset({"log", "stop"}),
}


@dataclass(frozen=True)
class GuardConfig:
    """What the guard checks and does.

    Attributes:
        policy: Resume pre-flight policy: ``warn`` (log the finding with its fix and go on),
            ``stop`` (raise before the first resumed step), ``continue-curve`` (put the LR back on
            the previous session's curve and say so).
        actions: Signal -> action (:data:`SIGNALS` -> :data:`ACTIONS`); unnamed signals take the
            defaults: a non-finite loss or grad norm skips the step, a spike and an off-plan LR are logged.
        spike: The spike statistic (:class:`~lrguard.signals.spike.SpikeRule`); default
            :data:`~lrguard.signals.spike.LIVE_RULE`, measured for live use (docs/guard.md).
        check_every: The host reads the device flags every ``check_every`` steps (events are
            written then, with the step they happened at). ``1`` reads every step (a host sync per step).
        lr_rel_tol: Relative tolerance of the LR against its plan.
        resume_rel_tol: Relative tolerance of the first resumed LR against where the previous session was.
        clip_norm: Gradient-norm ceiling of the ``clip`` action.
        lower_lr_factor: LR multiplier of the ``lower-lr`` action.
        lower_lr_steps: How many steps ``lower-lr`` lasts.
        snapshot_every: Steps between two in-memory snapshots of the training state (the
            ``rollback`` action's last-good state); taken only when a signal's action is ``rollback``.
        snapshot_device: Where snapshots are kept: ``None`` on the device of each tensor (a device
            copy, no host transfer), ``"cpu"`` in host memory (saves accelerator memory, one transfer
            per snapshot).
        rollback_patience: Spikes of a ``rollback`` signal, counted since the last-good snapshot,
            that make a rollback; the earlier ones are logged (a *persistent* spike rolls back).
        rollback_patience_steps: A counted spike older than this many steps is forgotten.
        rollback_skip: Batches skipped after the rolled-back window on top of it (the window
            itself, the batches of the steps since the last-good state, is never replayed).
        max_rollbacks: Rollbacks allowed in one run; the next rollback stops the run instead.
        strict: Raise the guard's own internal errors instead of reporting them once and turning off.
    """

    policy: str = "warn"
    actions: dict[str, str] = field(default_factory=dict)
    spike: SpikeRule = LIVE_RULE
    check_every: int = 50
    lr_rel_tol: float = 0.01
    resume_rel_tol: float = 0.05
    clip_norm: float = 1.0
    lower_lr_factor: float = 0.1
    lower_lr_steps: int = 100
    snapshot_every: int = 200
    snapshot_device: str | None = None
    rollback_patience: int = 2
    rollback_patience_steps: int = 50
    rollback_skip: int = 0
    max_rollbacks: int = 3
    strict: bool = False

    def __post_init__(self) -> None:
        """Validate every field.

        Raises:
            ValueError: One line naming the bad field, its value and what is allowed.
        """
        if self.policy not in POLICIES:
            raise ValueError(f"guard policy {self.policy!r}: expected one of {', '.join(POLICIES)}")
        for signal, action in self.actions.items():
            if signal not in SIGNALS:
                raise ValueError(f"guard signal {signal!r}: expected one of {', '.join(SIGNALS)}")
            if action not in ACTIONS:
                raise ValueError(f"guard action {action!r} for {signal}: expected one of {', '.join(ACTIONS)}")
            if action in NOT_IMPLEMENTED:
                raise ValueError(f"guard action {action!r} for {signal} is not implemented yet")
            if action not in _ALLOWED[signal]:
                allowed = ", ".join(a for a in ACTIONS if a in _ALLOWED[signal])
                raise ValueError(f"guard action {action!r} does not apply to {signal}: expected one of {allowed}")
            if signal.endswith("spike") and action in _AT_THE_STEP and self.check_every != 1:
                raise ValueError(
                    f"guard action {action!r} for {signal} needs the value every step: set check_every=1 "
                    f"(a host sync per step) or use log, lower-lr or stop"
                )
        if not isinstance(self.check_every, int) or self.check_every < 1:
            raise ValueError(f"guard check_every {self.check_every!r}: expected a whole number >= 1")
        for name in ("lr_rel_tol", "resume_rel_tol", "clip_norm", "lower_lr_factor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise ValueError(f"guard {name} {value!r}: expected a number > 0")
        if self.lower_lr_factor >= 1:
            raise ValueError(f"guard lower_lr_factor {self.lower_lr_factor!r}: expected a number below 1")
        for name in ("lower_lr_steps", "snapshot_every", "rollback_patience", "rollback_patience_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"guard {name} {value!r}: expected a whole number >= 1")
        if self.snapshot_device not in (None, "cpu"):
            raise ValueError(f"guard snapshot_device {self.snapshot_device!r}: expected None or 'cpu'")
        for name in ("rollback_skip", "max_rollbacks"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"guard {name} {value!r}: expected a whole number >= 0")

    def action(self, signal: str) -> str:
        """The action for ``signal`` (its configured one, else the default)."""
        return self.actions.get(signal, _DEFAULT_ACTIONS[signal])

    @property
    def rolls_back(self) -> bool:
        """Whether any signal's action is ``rollback`` (the guard then keeps a last-good state)."""
        return any(self.action(s) == "rollback" for s in SIGNALS)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GuardConfig:
        """Build from plain values (a YAML/JSON mapping); ``spike`` may be a mapping of SpikeRule fields.

        Raises:
            ValueError: An unknown key or a bad value (one line).
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"guard config key {unknown[0]!r}: expected one of {', '.join(sorted(known))}")
        values = dict(raw)
        if isinstance(values.get("spike"), dict):
            try:
                values["spike"] = SpikeRule(**values["spike"])
            except TypeError as exc:
                raise ValueError(f"guard spike: {exc}") from None
        return cls(**values)
