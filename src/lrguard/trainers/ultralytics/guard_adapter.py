"""The live guard for Ultralytics (8.x) through ``model.add_callback``.

Usage::

    from ultralytics import YOLO
    from lrguard.trainers.ultralytics.guard_adapter import UltralyticsGuard

    model = YOLO("yolov8n.yaml")
    UltralyticsGuard(events="lrguard-events.jsonl").register(model)
    model.train(data="data.yaml", epochs=100)

``on_train_start`` attaches the step hooks to ``trainer.optimizer``
(:class:`lrguard.guard.hooks_adapter.StepHooks`) and routes ``ModelEMA.update`` through the guard
(:func:`~lrguard.guard.hooks_adapter.patch_ema_class`, the class, because the trainer builds a new
``ModelEMA`` at its final validation). ``optimizer_step`` is a method, not a callback, so the
step's summed loss (``trainer.loss``, set before the backward pass; with accumulation the step's
last batch's) is handed to the guard by a global step pre-hook
(:meth:`~lrguard.guard.session_adapter.TrainerSession.feed_loss`): the trainer clips the gradient
norm to 10, so the loss is what shows a spike. ``on_train_end`` reads the last window.

Rollback (a ``rollback`` action in ``config``): ``on_train_batch_start`` is the step boundary; the
state is ``trainer.model``, the optimizer's state (the trainer's LR and momentum kept),
``trainer.ema`` with its ``updates``, ``trainer.scaler`` and the generators
(:mod:`lrguard.guard.session_adapter`).

Positions (:class:`lrguard.guard.session_adapter.TrainerSession`): the guard's step is the global
optimizer step, counted from ``trainer.ema.updates`` at ``on_train_start`` (the trainer's count of
optimizer steps, saved in ``last.pt`` and restored on resume; with ``accumulate`` > 1 several batches
make one step; on a resume from the save the last-good manifest records, from that manifest's
``step``, which also counts the steps the guard skipped), and every event carries the epoch as
Ultralytics' log and results.csv number it, ``trainer.epoch + 1`` (set before
``on_train_epoch_start``; an epoch the trainer repeats after its NaN recovery starts again at the
step it is repeated from), so ``lrguard diagnose`` puts each event on its row.

Verified checkpoints: ``on_model_save`` runs after ``save_model`` wrote ``last.pt`` (``write_bytes``
of the serialised checkpoint: an in-place rewrite) and ``best.pt``; a verified copy is published as
``weights/lrguard-last-good.pt`` (``last_good=False``: not). ``final_eval`` strips the optimizer
from ``last.pt`` after the last epoch; that file is not copied.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from typing import Any

from ultralytics.utils.torch_utils import ModelEMA

from lrguard.guard.config import GuardConfig
from lrguard.guard.hooks_adapter import StepHooks, attached, patch_ema_class
from lrguard.guard.session_adapter import SessionAdapterSettings, TrainerSession, rollback_state, steps_after_resume


def _updates(trainer: Any) -> int | None:
    updates = getattr(getattr(trainer, "ema", None), "updates", None)
    return int(updates) if isinstance(updates, int) else None


def _steps_done(trainer: Any) -> int | None:
    """The optimizer steps before this session: the EMA's count, or the last-good manifest's on a resume."""
    updates, start = _updates(trainer), getattr(trainer, "start_epoch", 0)
    wdir = getattr(trainer, "wdir", None)
    if updates is None or not isinstance(start, int) or start <= 0 or wdir is None:
        return updates
    return steps_after_resume(wdir, start - 1, updates)  # the manifest keeps the checkpoint's 0-based epoch


def _epoch(trainer: Any) -> int | None:
    epoch = getattr(trainer, "epoch", None)
    return int(epoch) if isinstance(epoch, int) else None


def _register(trainer: Any, session: TrainerSession) -> None:
    trainer.add_callback("on_train_epoch_start", lambda t: session.epoch_start(t.epoch))
    trainer.add_callback("on_model_save", lambda t: session.saved(t.last, _epoch(t), _updates(t)))


def _trainer_on_stack(depth: int = 40) -> Any:
    """The Ultralytics trainer whose method is on the stack (``optimizer_step`` at the first step), or ``None``."""
    from ultralytics.engine.trainer import BaseTrainer

    f = sys._getframe(1)
    for _ in range(depth):
        if f is None:
            return None
        candidate = f.f_locals.get("self")
        if isinstance(candidate, BaseTrainer):
            return candidate
        f = f.f_back  # type: ignore[assignment]
    return None


def _batch_index(trainer: Any, depth: int = 40) -> int | None:
    """The index in its epoch of the batch the trainer's loop is at (``i`` of the frame running its epoch loop)."""
    f = sys._getframe(1)
    for _ in range(depth):
        if f is None:
            return None
        if f.f_locals.get("self") is trainer and isinstance(f.f_locals.get("i"), int):
            return int(f.f_locals["i"])
        f = f.f_back  # type: ignore[assignment]
    return None


def rollback_kwargs(optimizer: Any) -> dict[str, Any] | None:
    """The :class:`StepHooks` arguments a rollback needs, when ``optimizer`` is an Ultralytics trainer's on the stack.

    For ``lrguard run``'s injection at the first step (:func:`lrguard.guard.zero_code`): the model
    and the state :func:`~lrguard.guard.session_adapter.rollback_state` names; ``None`` when no
    trainer on the stack owns ``optimizer``.
    """
    trainer = _trainer_on_stack()
    if trainer is None or getattr(trainer, "optimizer", None) is not optimizer:
        return None
    return {
        "model": trainer.model,
        "stateful": rollback_state(optimizer, lambda: trainer.ema, getattr(trainer, "scaler", None)),
    }


def zero_code(hooks: StepHooks | None = None, last_good: bool = True) -> Callable[[], None]:
    """What ``lrguard run`` adds for Ultralytics at the first guarded step; returns the undo.

    The EMA class is routed through the guard. When ``hooks`` (the guard just attached) is the
    optimizer of an Ultralytics trainer on the stack, that trainer gets the session's callbacks
    (positions in the events, the verified last-good copy) too. When the guard rolls back (its
    hooks were built with :func:`rollback_kwargs`), the start of each batch becomes the step
    boundary (a callback run before the trainer's other ``on_train_batch_start`` callbacks), and
    this first step's batch is one already: the initial last-good state is taken now, before the
    step, and the data position counts the batches the trainer fetched before it.
    """
    undo = patch_ema_class(ModelEMA)
    if hooks is not None and getattr(hooks, "session", None) is None:
        trainer = _trainer_on_stack()
        if trainer is not None and getattr(trainer, "optimizer", None) is hooks.optimizer:
            log = hooks.guard.core.log
            console = log.console if log is not None else None
            session = TrainerSession(last_good=last_good, console=console, epoch_base=1)
            session.bind(hooks, _steps_done(trainer))
            session.feed_loss(lambda: trainer.loss)
            if getattr(trainer, "loss", None) is not None:  # this first step's: its pre-hooks run already
                hooks.set_loss(trainer.loss)
            if _epoch(trainer) is not None:
                session.epoch_start(trainer.epoch)
            _register(trainer, session)
            if hooks.guard.config.rolls_back and hooks.guard.model is not None:
                trainer.callbacks.setdefault("on_train_batch_start", []).insert(0, lambda t: session.boundary())
                hooks.guard.batches = _batch_index(trainer) or 0  # the batches before this step's (accumulation)
                session.boundary()
    return undo


class UltralyticsGuard(SessionAdapterSettings):
    """Skips non-finite steps in an Ultralytics training, writes the guard's events, keeps a verified last-good copy.

    Args:
        config: The guard configuration (validated here).
        events: Path of the JSON-lines events file, or ``None``.
        console: Stream for the console lines (``None``: silent).
        last_good: Publish a verified copy of each ``last.pt`` save as ``weights/lrguard-last-good.pt``.
    """

    def __init__(
        self,
        config: GuardConfig | None = None,
        events: str | None = None,
        console: Any = sys.stderr,
        last_good: bool = True,
    ) -> None:
        """Keep the settings; the guard attaches when training starts."""
        super().__init__(config, events, console, last_good)
        self._undo: Callable[[], None] | None = None

    def register(self, model: Any) -> Any:
        """Register on a ``YOLO`` model (or a trainer: anything with ``add_callback``) and return it."""
        model.add_callback("on_train_start", self._start)
        model.add_callback("on_train_epoch_start", self._epoch_start)
        model.add_callback("on_train_batch_start", self._batch_start)
        model.add_callback("on_model_save", self._saved)
        model.add_callback("on_train_end", self._end)
        return model

    def _start(self, trainer: Any) -> None:
        self._end()
        existing = attached(trainer.optimizer)  # the zero-code injection may have been first
        rollback: dict[str, Any] = {}
        if self.config.rolls_back:
            state = rollback_state(trainer.optimizer, lambda: trainer.ema, trainer.scaler)
            rollback = {"model": trainer.model, "stateful": state}
        self.hooks = existing or StepHooks(
            trainer.optimizer, config=self.config, events=self.events, console=self.console, **rollback
        )
        self.session = None  # when the injection's session is bound already, it publishes and numbers the steps
        if getattr(self.hooks, "session", None) is None:
            self.session = TrainerSession(last_good=self.last_good, console=self.console, epoch_base=1)
            self.session.bind(self.hooks, _steps_done(trainer))
            self.session.feed_loss(lambda: trainer.loss)
        self._undo = patch_ema_class(ModelEMA)
        atexit.register(self._end)  # a rank other than 0, or a run that raised

    def _epoch_start(self, trainer: Any) -> None:
        if self.session is not None and _epoch(trainer) is not None:
            self.session.epoch_start(trainer.epoch)

    def _batch_start(self, trainer: Any) -> None:
        if self.session is not None:
            self.session.boundary()

    def _saved(self, trainer: Any) -> None:
        if self.session is not None:
            self.session.saved(trainer.last, _epoch(trainer), _updates(trainer))

    def _end(self, trainer: Any = None) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None
        if self.hooks is not None:
            self.hooks.close()
            self.hooks = None
        if self.session is not None:
            self.session.close()
