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
``ModelEMA`` at its final validation). Each batch's summed loss (``trainer.loss``) is not handed to
the hooks before the step (``optimizer_step`` is a method, not a callback), so the flag is the
gradient norm's; a NaN loss makes NaN gradients. ``on_train_end`` reads the last window.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from typing import Any

from ultralytics.utils.torch_utils import ModelEMA

from lrguard.guard.config import GuardConfig
from lrguard.guard.hooks_adapter import StepHooks, attached, patch_ema_class


def zero_code() -> Callable[[], None]:
    """What ``lrguard run`` adds for Ultralytics: the EMA routed through the guard. Returns the undo."""
    return patch_ema_class(ModelEMA)


class UltralyticsGuard:
    """Skips non-finite steps in an Ultralytics training and writes the guard's events.

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
        self._undo: Callable[[], None] | None = None

    def register(self, model: Any) -> Any:
        """Register on a ``YOLO`` model (or a trainer: anything with ``add_callback``) and return it."""
        model.add_callback("on_train_start", self._start)
        model.add_callback("on_train_end", self._end)
        return model

    def _start(self, trainer: Any) -> None:
        self._end()
        existing = attached(trainer.optimizer)  # the zero-code injection may have been first
        self.hooks = existing or StepHooks(
            trainer.optimizer, config=self.config, events=self.events, console=self.console
        )
        self._undo = patch_ema_class(ModelEMA)
        atexit.register(self._end)  # a rank other than 0, or a run that raised

    def _end(self, trainer: Any = None) -> None:
        if self._undo is not None:
            self._undo()
            self._undo = None
        if self.hooks is not None:
            self.hooks.close()
            self.hooks = None
