"""Framework-agnostic per-step decisions over host values, built on :mod:`lrguard.signals`.

The adapters hand in plain floats (the torch adapter reads them from its device buffers every
``check_every`` steps; the Lightning/HF adapters per step) and act on the returned decisions. The
judgements are the diagnosis's own: :func:`lrguard.signals.spike.judge` through
:class:`~lrguard.signals.spike.SpikeDetector`, :func:`lrguard.signals.plan.check`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrguard.guard.config import GuardConfig
from lrguard.guard.events import Event, EventLog
from lrguard.guard.rollback import RollbackBook
from lrguard.signals import plan as plan_signal
from lrguard.signals.spike import SpikeDetector

if TYPE_CHECKING:
    from lrguard.model import Run


class GuardStop(RuntimeError):
    """The guard stopped the run (a ``stop`` action or the ``stop`` resume policy); the message has the fix."""


@dataclass(frozen=True)
class Decision:
    """What an adapter must do at a step, with the event that records it.

    Attributes:
        action: ``log``, ``skip``, ``clip``, ``lower-lr``, ``stop``, ``warn`` or ``continue-curve``.
        event: The event (already written to the log when the core has one).
    """

    action: str
    event: Event


@dataclass(frozen=True)
class PreviousSession:
    """Where the previous training session left off.

    Attributes:
        step: Its position: the steps (or epochs, for an epoch-counted log) it completed.
        lrs: LR per param group at that position.
        source: Where this came from, for messages (``scheduler state``, a run directory).
        scheduler_position: The scheduler's ``last_epoch`` when read from its saved state (a
            resumed scheduler must be at the same position); ``None`` from a log.
    """

    step: int
    lrs: tuple[float, ...]
    source: str
    scheduler_position: int | None = None

    @classmethod
    def from_run(cls, run: Run) -> PreviousSession:
        """The last row of ``run`` whose LRs are all finite (a Run from :mod:`lrguard.readers` or a trainer reader).

        Raises:
            ValueError: No row has finite LRs.
        """
        import numpy as np

        lr = np.asarray(run.lr, dtype=float)
        ok = np.nonzero(np.all(np.isfinite(lr), axis=1))[0] if lr.ndim == 2 and lr.size else np.zeros(0, dtype=int)
        if ok.size == 0:
            raise ValueError(f"{run.path}: no logged row has a finite LR")
        row = int(ok[-1])
        positions = run.axis.values if run.axis is not None else run.epochs
        return cls(int(positions[row]), tuple(float(x) for x in lr[row]), str(run.path))

    @classmethod
    def from_scheduler_state(cls, state: dict[str, Any]) -> PreviousSession:
        """A torch LR scheduler's ``state_dict()`` as saved in a checkpoint (``last_epoch``, ``_last_lr``).

        ``_last_lr`` is the LR the next step uses, so it is what the first resumed step should see.

        Raises:
            ValueError: The state lacks ``last_epoch`` or ``_last_lr``.
        """
        if "last_epoch" not in state or "_last_lr" not in state:
            raise ValueError("scheduler state without last_epoch and _last_lr")
        last = int(state["last_epoch"])
        return cls(last, tuple(float(x) for x in state["_last_lr"]), "the checkpoint's scheduler state", last)


def _fmt(x: float | None) -> str:
    return "none" if x is None else f"{x:.6g}"


class GuardCore:
    """Per-step judgements and the configured action for each; writes one event per action.

    Args:
        config: The guard configuration.
        log: Where events go (``None``: kept in memory only, in :attr:`events`).
        rank: Distributed rank written into events.
    """

    def __init__(self, config: GuardConfig | None = None, log: EventLog | None = None, rank: int = 0) -> None:
        """Fresh spike histories, no action in force."""
        self.config = config or GuardConfig()
        self.log = log
        self.rank = rank
        self.events: list[Event] = []
        #: Global step -> the trainer's epoch, for events written without one (set by a trainer adapter).
        self.epoch_of: Callable[[int], int | None] | None = None
        self._loss = SpikeDetector(self.config.spike)
        self._grad = SpikeDetector(self.config.spike)
        self.lower_until = -1
        cfg = self.config
        self.rollbacks = RollbackBook(cfg.rollback_patience, cfg.rollback_patience_steps, cfg.max_rollbacks)

    def state(self) -> dict[str, Any]:
        """The judgement state a rollback restores: the spike histories and the ``lower-lr`` end."""
        return {"loss": self._loss.state(), "grad": self._grad.state(), "lower_until": self.lower_until}

    def load_state(self, state: dict[str, Any]) -> None:
        """Put back a :meth:`state` (events and the rollback record are kept)."""
        self._loss.load_state(state["loss"])
        self._grad.load_state(state["grad"])
        self.lower_until = int(state["lower_until"])

    # -- recording ---------------------------------------------------------------------------------
    def _decide(self, action: str, step: int, signal: str, message: str, **kw: Any) -> Decision:
        if kw.get("epoch") is None and self.epoch_of is not None:
            kw["epoch"] = self.epoch_of(step)
        event = Event(step=step, signal=signal, action=action, message=message, rank=self.rank, **kw)
        self.events.append(event)
        if self.log is not None:
            self.log.write(event)
        return Decision(action, event)

    def internal_error(self, step: int, exc: BaseException) -> Decision:
        """Record an error of the guard itself (the adapter then turns the guard off)."""
        return self._decide("disable", step, "internal", f"guard error, guard turned off: {type(exc).__name__}: {exc}")

    # -- numerics ----------------------------------------------------------------------------------
    def observe(
        self,
        step: int,
        loss: float | None = None,
        grad_norm: float | None = None,
        *,
        skipped: bool | None = None,
        epoch: int | None = None,
    ) -> list[Decision]:
        """Judge one step's loss and gradient norm.

        Args:
            step: Global step.
            loss: The step's loss (``None``: not known).
            grad_norm: Its total gradient norm (``None``: not known).
            skipped: Whether the adapter already skipped the step on device (the torch adapter
                decides there and reports here); ``None`` when the adapter acts on the decision.
            epoch: Epoch, for the event.

        Returns:
            The decisions (empty when the step is clean). A non-finite value is judged by the
            ``nonfinite`` signal only; finite values also feed the spike statistics.
        """
        out: list[Decision] = []
        bad = [(n, v) for n, v in (("loss", loss), ("grad norm", grad_norm)) if v is not None and not math.isfinite(v)]
        if bad or skipped:
            configured = self.config.action("nonfinite")
            # a step the adapter skipped already is reported as such; a ``stop`` still stops the run after it
            action = ("stop" if configured == "stop" else "skip") if skipped else configured
            what = ", ".join(f"{n} {v}" for n, v in bad) or "non-finite value on another rank"
            verb = {
                "skip": "step skipped (weights, optimizer state unchanged)",
                "log": "step taken",
                "stop": "step skipped (weights, optimizer state unchanged), run stopped" if skipped else "run stopped",
            }
            out.append(
                self._decide(
                    action,
                    step,
                    "nonfinite",
                    f"{what}: {verb.get(action, action)}",
                    value=bad[0][1] if bad else None,
                    epoch=epoch,
                )
            )
        for signal, detector, value in (("loss-spike", self._loss, loss), ("grad-spike", self._grad, grad_norm)):
            if value is None:
                continue
            verdict = detector.update(value if math.isfinite(value) else math.nan)
            if verdict is None:
                continue
            action = self.config.action(signal)
            until = None
            if action == "lower-lr":
                self.lower_until = until = step + self.config.lower_lr_steps
            kind = "explosion" if verdict.explosion else "spike"
            msg = f"{signal.split('-')[0]} {kind}: {_fmt(value)} is {verdict.ratio:.3g}x {verdict.describe()}"
            if action == "rollback":
                action, msg = self._rollback_verdict(step, msg)
            extra = {"until": until} if until is not None else {}
            out.append(
                self._decide(action, step, signal, msg, value=value, expected=verdict.median, epoch=epoch, **extra)
            )
        return out

    def _rollback_verdict(self, step: int, msg: str) -> tuple[str, str]:
        book = self.rollbacks
        action = book.note(step)
        if action == "log":
            return action, f"{msg} (spike {len(book.spikes)} of {book.patience} before a rollback)"
        if action == "stop":
            return action, (
                f"{msg}: {book.max_rollbacks} rollbacks already done, the run is stopped. Fix: lower the LR "
                f"(or its warmup peak), check the data of the skipped windows, or raise max_rollbacks"
            )
        return action, f"{msg}: rolling back to the last verified state"

    def lr_factor(self, step: int) -> float:
        """LR multiplier in force at ``step`` (``lower_lr_factor`` while a ``lower-lr`` action lasts, else 1)."""
        return self.config.lower_lr_factor if step < self.lower_until else 1.0

    # -- LR vs plan ----------------------------------------------------------------------------------
    def check_lr(
        self, step: int, lrs: Sequence[float], planned: Sequence[float], epoch: int | None = None
    ) -> list[Decision]:
        """The groups whose LR is off plan at ``step`` (:func:`lrguard.signals.plan.check`), one decision each."""
        action = self.config.action("lr-off-plan")
        return [
            self._decide(
                action,
                step,
                "lr-off-plan",
                f"group {d.group} LR {_fmt(d.lr)} is {d.rel:+.1%} off its planned {_fmt(d.planned)}",
                value=d.lr,
                expected=d.planned,
                epoch=epoch,
            )
            for d in plan_signal.check(list(lrs), list(planned), self.config.lr_rel_tol)
        ]

    # -- resume pre-flight ---------------------------------------------------------------------------
    def preflight(
        self, step: int, lrs: Sequence[float], previous: PreviousSession, scheduler_position: int | None = None
    ) -> Decision | None:
        """Compare the LR the first resumed step will use with where the previous session left off.

        Args:
            step: The first resumed step.
            lrs: The LR per param group that step will use.
            previous: Where the previous session left off.
            scheduler_position: The resumed scheduler's position (``last_epoch``), compared with the
                saved one when ``previous`` has it: a scheduler at the right LR but the wrong position
                (a fresh chainable cosine) diverges from the curve a step later.

        Returns:
            ``None`` when they agree within ``resume_rel_tol``; else the policy's decision
            (``warn``, ``stop`` or ``continue-curve``; the adapter performs it).
        """
        if len(lrs) != len(previous.lrs):
            msg = f"{len(lrs)} param groups now, {len(previous.lrs)} in {previous.source}: the LR cannot be compared"
            return self._decide("warn", step, "resume", msg)
        fix = (
            "Fix: restore the scheduler with scheduler.load_state_dict(checkpoint['scheduler']) after "
            "building it, or run with policy continue-curve"
        )
        devs = plan_signal.check(list(lrs), list(previous.lrs), self.config.resume_rel_tol)
        if devs:
            d = devs[0]
            msg = (
                f"the first resumed step's LR is {_fmt(d.lr)} (group {d.group}) but {previous.source} left off at "
                f"{_fmt(d.planned)} (step {previous.step}, {d.rel:+.0%}): the schedule restarted. {fix}"
            )
            return self._decide(self.config.policy, step, "resume", msg, value=d.lr, expected=d.planned)
        saved = previous.scheduler_position
        if saved is not None and scheduler_position is not None and scheduler_position != saved:
            msg = (
                f"the resumed scheduler is at position {scheduler_position} but {previous.source} was at {saved}: "
                f"the LR matches now and leaves the curve from the next step. {fix}"
            )
            return self._decide(
                self.config.policy, step, "resume", msg, value=float(scheduler_position), expected=float(saved)
            )
        return None
