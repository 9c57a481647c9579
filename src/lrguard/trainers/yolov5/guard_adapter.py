"""The live guard for YOLOv5 (pip ``yolov5`` 7.0.x) through its ``Callbacks``.

Usage::

    from yolov5 import train
    from yolov5.utils.callbacks import Callbacks
    from lrguard.trainers.yolov5.guard_adapter import YOLOv5Guard

    callbacks = YOLOv5Guard(events="lrguard-events.jsonl").register(Callbacks())
    train.main(train.parse_opt(True), callbacks)   # or set the opt fields first

YOLOv5's callbacks hand neither the optimizer nor the EMA to the hooks (``on_train_start`` takes no
arguments), so ``on_train_start`` arms a one-shot global step pre-hook that guards the first
optimizer that steps (:func:`lrguard.guard.hooks_adapter.attach_next`) and routes
``ModelEMA.update`` through the guard (:func:`~lrguard.guard.hooks_adapter.patch_ema_class`):
after a skipped step the EMA is bit-identical. ``on_train_end`` (rank 0 only in YOLOv5) and, on
every rank, the end of the process read the last window and remove both again.

YOLOv5 unscales and clips the gradients (``clip_grad_norm_(max_norm=10)``) before
``scaler.step(optimizer)``: a NaN or inf gradient stays non-finite through the clip, so the flag
still sees it; on CPU (and with ``amp`` off) the scaler is disabled and only the guard skips.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from typing import Any

from yolov5.utils.torch_utils import ModelEMA

from lrguard.guard.config import GuardConfig
from lrguard.guard.hooks_adapter import StepHooks, attach_next, patch_ema_class


def zero_code() -> Callable[[], None]:
    """What ``lrguard run`` adds for YOLOv5: the EMA routed through the guard. Returns the undo."""
    return patch_ema_class(ModelEMA)


class YOLOv5Guard:
    """Skips non-finite steps in a YOLOv5 training and writes the guard's events.

    Args:
        config: The guard configuration (validated here).
        events: Path of the JSON-lines events file, or ``None``.
        console: Stream for the console lines (``None``: silent).
    """

    def __init__(self, config: GuardConfig | None = None, events: str | None = None, console: Any = sys.stderr) -> None:
        """Keep the settings; the guard attaches when training starts."""
        self.config = config or GuardConfig()
        self.events = events
        self.console = console
        self.hooks: StepHooks | None = None
        self._undo: list[Callable[[], None]] = []

    def register(self, callbacks: Any) -> Any:
        """Register on a YOLOv5 ``Callbacks`` object and return it."""
        callbacks.register_action("on_train_start", name="lrguard", callback=self._start)
        callbacks.register_action("on_train_end", name="lrguard", callback=self._end)
        return callbacks

    def _attached(self, hooks: StepHooks) -> None:
        self.hooks = hooks

    def _start(self, *args: Any, **kwargs: Any) -> None:
        self._end()  # a second training in the same process starts clean
        self._undo = [
            patch_ema_class(ModelEMA),
            attach_next(self._attached, config=self.config, events=self.events, console=self.console),
        ]
        atexit.register(self._end)  # YOLOv5 runs on_train_end on rank 0 only

    def _end(self, *args: Any, **kwargs: Any) -> None:
        for undo in self._undo:
            undo()
        self._undo = []
        if self.hooks is not None:
            self.hooks.close()
            self.hooks = None
