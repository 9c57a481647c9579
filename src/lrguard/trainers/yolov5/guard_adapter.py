"""The live guard for YOLOv5 (pip ``yolov5`` 7.0.x) through its ``Callbacks``.

Usage::

    from yolov5 import train
    from yolov5.utils.callbacks import Callbacks
    from lrguard.trainers.yolov5.guard_adapter import YOLOv5Guard

    callbacks = YOLOv5Guard(events="lrguard-events.jsonl").register(Callbacks())
    train.main(train.parse_opt(True), callbacks)   # or set the opt fields first

YOLOv5's callbacks hand neither the optimizer nor the EMA to the hooks (``on_train_start`` takes no
arguments). ``on_train_start`` therefore reads them from the frame of YOLOv5's ``train()`` that
runs the callback (:func:`train_locals`: its local variables ``optimizer``, ``ema``, ``start_epoch``;
read, never written) and guards that optimizer (:class:`lrguard.guard.hooks_adapter.StepHooks`).
When that frame is not found (a changed ``train()``) a one-shot global step pre-hook guards the
first optimizer that steps (:func:`lrguard.guard.hooks_adapter.attach_next`), without the
positions below. ``ModelEMA.update`` is routed through the guard
(:func:`~lrguard.guard.hooks_adapter.patch_ema_class`): after a skipped step the EMA is
bit-identical. ``on_train_end`` (rank 0 only in YOLOv5) and, on every rank, the end of the process
read the last window and remove both again.

Positions (:class:`lrguard.guard.session_adapter.TrainerSession`): the guard's step is the global
optimizer step, counted from ``ema.updates`` (the trainer's own count of optimizer steps, saved in
``last.pt`` as ``updates`` and restored by ``--resume``; on a resume from the save the last-good
manifest records, from that manifest's ``step``, which also counts the steps the guard skipped),
and every event carries YOLOv5's epoch (0-based, as its log and results.csv number it)
(``on_train_epoch_start``: the ``epoch`` of the same frame). On DDP ranks other than 0 YOLOv5 has no
EMA: there the steps count from 0 in each process.

Verified checkpoints: after each ``last.pt`` save (``on_model_save`` runs after ``torch.save(ckpt,
last)`` and the best/epoch saves) a verified copy is published as ``weights/lrguard-last-good.pt``
(``last_good=False``: not). The ``last.pt`` that ``strip_optimizer`` rewrites after the last epoch is
not copied: the last-good file keeps the last resumable checkpoint.

The loss: ``train()``'s ``loss`` (set before the backward pass) is handed to the guard before each
step (:meth:`~lrguard.guard.session_adapter.TrainerSession.feed_loss`; the clipped gradient norm
alone cannot show a spike). Rollback (a ``rollback`` action in ``config``):
``on_train_batch_start`` is the step boundary; the state is ``train()``'s ``model``, the optimizer's
state (the trainer's LR and momentum kept), ``ema`` with its ``updates``, ``scaler`` and the
generators (:mod:`lrguard.guard.session_adapter`).

YOLOv5 unscales and clips the gradients (``clip_grad_norm_(max_norm=10)``) before
``scaler.step(optimizer)``: a NaN or inf gradient stays non-finite through the clip, so the flag
still sees it; on CPU (and with ``amp`` off) the scaler is disabled and only the guard skips.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from yolov5.utils.torch_utils import ModelEMA

from lrguard.guard.config import GuardConfig
from lrguard.guard.hooks_adapter import StepHooks, attach_next, attached, patch_ema_class
from lrguard.guard.session_adapter import SessionAdapterSettings, TrainerSession, rollback_state, steps_after_resume

_TRAIN_LOCALS = ("callbacks", "optimizer", "start_epoch", "nb")


def train_frame(frame: FrameType | None = None, depth: int = 40) -> FrameType | None:
    """The frame of the YOLOv5 ``train()`` call on the stack above ``frame`` (``None``: not found).

    ``train()`` is recognised by its name and its locals (``callbacks``, ``optimizer``,
    ``start_epoch``, ``nb``), so a ``train.py`` run as a script (``__main__.train``) is found too.
    """
    f: FrameType | None = frame if frame is not None else sys._getframe(1)
    for _ in range(depth):
        if f is None:
            return None
        if f.f_code.co_name == "train" and all(k in f.f_locals for k in _TRAIN_LOCALS):
            return f
        f = f.f_back
    return None


def train_locals(frame: FrameType | None = None, depth: int = 40) -> dict[str, Any] | None:
    """The local variables of that ``train()`` call (read, never written), or ``None``."""
    f = train_frame(frame if frame is not None else sys._getframe(1), depth)
    return dict(f.f_locals) if f is not None else None


def _loss_of(frame: FrameType) -> Callable[[], Any]:
    """The ``loss`` of the batch ``train()`` is at (set before its backward pass, so before its step)."""
    return lambda: frame.f_locals.get("loss")


def _updates(ema: Any) -> int | None:
    updates = getattr(ema, "updates", None)
    return int(updates) if isinstance(updates, int) else None


def _steps_done(local: dict[str, Any]) -> int | None:
    """The optimizer steps before this session: the EMA's count, or the last-good manifest's on a resume."""
    updates = _updates(local.get("ema"))
    start, last = local.get("start_epoch"), local.get("last")
    if updates is None or not isinstance(start, int) or start <= 0 or last is None:
        return updates
    return steps_after_resume(Path(last).parent, start - 1, updates)


def _register(callbacks: Any, session: TrainerSession, ema: Any) -> None:
    """The session's callbacks: each epoch's start, each ``last.pt`` save (the zero-code path)."""

    def epoch_start(*args: Any, **kwargs: Any) -> None:
        local = train_locals(sys._getframe(1))
        if local is not None and isinstance(local.get("epoch"), int):
            session.epoch_start(local["epoch"])
        elif session.epoch is not None:
            session.epoch_start(session.epoch + 1)  # epochs follow one another in YOLOv5's loop

    def model_save(last: Any, epoch: Any = None, *args: Any, **kwargs: Any) -> None:
        session.saved(last, int(epoch) if isinstance(epoch, int) else None, _updates(ema))

    callbacks.register_action("on_train_epoch_start", name="lrguard", callback=epoch_start)
    callbacks.register_action("on_model_save", name="lrguard", callback=model_save)


def rollback_kwargs(optimizer: Any) -> dict[str, Any] | None:
    """The :class:`StepHooks` arguments a rollback needs, when ``optimizer`` is stepped from YOLOv5's ``train()``.

    For ``lrguard run``'s injection at the first step (:func:`lrguard.guard.zero_code`): ``train()``'s
    ``model`` and the state :func:`~lrguard.guard.session_adapter.rollback_state` names (its locals
    read, never written); ``None`` when that frame or optimizer is not found.
    """
    local = train_locals(sys._getframe(1))
    if local is None or local.get("optimizer") is not optimizer or local.get("model") is None:
        return None
    ema = local.get("ema")
    state = rollback_state(optimizer, (lambda: ema) if ema is not None else None, local.get("scaler"))
    return {"model": local["model"], "stateful": state}


def _batches_before(local: dict[str, Any]) -> int:
    """The batches this session fetched before the one ``train()`` is at (its epochs since ``start_epoch``)."""
    i, epoch, start, nb = (local.get(k) for k in ("i", "epoch", "start_epoch", "nb"))
    if not all(isinstance(v, int) for v in (i, epoch, start, nb)):
        return 0
    return (epoch - start) * nb + i  # type: ignore[operator]


def zero_code(hooks: StepHooks | None = None, last_good: bool = True) -> Callable[[], None]:
    """What ``lrguard run`` adds for YOLOv5 at the first guarded step; returns the undo.

    YOLOv5's ``ModelEMA`` is routed through the guard. When ``hooks`` (the guard just attached, at
    the first optimizer step) is stepped from YOLOv5's ``train()``, the session's positions and
    last-good publication are registered on that training's ``callbacks`` too. When the guard rolls
    back (its hooks were built with :func:`rollback_kwargs`), the start of each batch becomes the
    step boundary (a callback run before the training's other ``on_train_batch_start`` callbacks),
    and this first step's batch is one already: the initial last-good state is taken now, before
    the step, and the data position counts the batches fetched before it (gradient accumulation).
    """
    undo = patch_ema_class(ModelEMA)
    if hooks is not None and getattr(hooks, "session", None) is None:
        frame = train_frame(sys._getframe(1))
        local = dict(frame.f_locals) if frame is not None else None
        if frame is not None and local is not None and local.get("optimizer") is hooks.optimizer:
            log = hooks.guard.core.log
            session = TrainerSession(last_good=last_good, console=log.console if log is not None else None)
            session.bind(hooks, _steps_done(local))
            session.feed_loss(_loss_of(frame))
            if hasattr(local.get("loss"), "detach"):  # this first step's: its pre-hooks run already
                hooks.set_loss(local["loss"])
            if isinstance(local.get("epoch"), int):
                session.epoch_start(local["epoch"])
            _register(local["callbacks"], session, local.get("ema"))
            if hooks.guard.config.rolls_back and hooks.guard.model is not None:
                actions = local["callbacks"].get_registered_actions("on_train_batch_start")
                actions.insert(0, {"name": "lrguard", "callback": lambda *a, **k: session.boundary()})
                hooks.guard.batches = _batches_before(local)
                session.boundary()
    return undo


class YOLOv5Guard(SessionAdapterSettings):
    """Skips non-finite steps in a YOLOv5 training, writes the guard's events, keeps a verified last-good copy.

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
        self._ema: Any = None
        self._undo: list[Callable[[], None]] = []

    def register(self, callbacks: Any) -> Any:
        """Register on a YOLOv5 ``Callbacks`` object and return it."""
        callbacks.register_action("on_train_start", name="lrguard", callback=self._start)
        callbacks.register_action("on_train_epoch_start", name="lrguard", callback=self._epoch_start)
        callbacks.register_action("on_train_batch_start", name="lrguard", callback=self._batch_start)
        callbacks.register_action("on_model_save", name="lrguard", callback=self._saved)
        callbacks.register_action("on_train_end", name="lrguard", callback=self._end)
        return callbacks

    def _attached(self, hooks: StepHooks) -> None:
        self.hooks = hooks

    def _start(self, *args: Any, **kwargs: Any) -> None:
        self._end()  # a second training in the same process starts clean
        frame = train_frame(sys._getframe(1))
        local = dict(frame.f_locals) if frame is not None else {}
        optimizer = local.get("optimizer")
        if (frame is None or optimizer is None) and self.config.rolls_back:
            raise ValueError("lrguard: rollback needs YOLOv5's train() on the stack at on_train_start (not found)")
        self._undo = [patch_ema_class(ModelEMA)]
        self.session = TrainerSession(last_good=self.last_good, console=self.console)
        if frame is not None and optimizer is not None:
            self._ema = ema = local.get("ema")
            rollback: dict[str, Any] = {}
            if self.config.rolls_back:
                state = rollback_state(optimizer, (lambda: ema) if ema is not None else None, local.get("scaler"))
                rollback = {"model": local.get("model"), "stateful": state}
            self.hooks = attached(optimizer) or StepHooks(
                optimizer, config=self.config, events=self.events, console=self.console, **rollback
            )
            if getattr(self.hooks, "session", None) is None:
                self.session.bind(self.hooks, _steps_done(local))
                self.session.feed_loss(_loss_of(frame))
            else:
                self.session = None  # the injection's session already publishes and numbers the steps
        else:
            self._undo.append(attach_next(self._attached, config=self.config, events=self.events, console=self.console))
        atexit.register(self._end)  # YOLOv5 runs on_train_end on rank 0 only

    def _epoch_start(self, *args: Any, **kwargs: Any) -> None:
        if self.session is None:
            return
        local = train_locals(sys._getframe(1))
        if local is not None and isinstance(local.get("epoch"), int):
            self.session.epoch_start(local["epoch"])

    def _batch_start(self, *args: Any, **kwargs: Any) -> None:
        if self.session is not None:
            self.session.boundary()

    def _saved(self, last: Any, epoch: Any = None, *args: Any, **kwargs: Any) -> None:
        if self.session is not None:
            self.session.saved(last, int(epoch) if isinstance(epoch, int) else None, _updates(self._ema))

    def _end(self, *args: Any, **kwargs: Any) -> None:
        for undo in self._undo:
            undo()
        self._undo = []
        if self.hooks is not None:
            self.hooks.close()
            self.hooks = None
        if self.session is not None:
            self.session.close()  # the loss hook: it holds train()'s frame
        self._ema = None
