"""The guard as a Hugging Face ``TrainerCallback``, over :class:`~lrguard.guard.torch_adapter.TorchGuard`.

Usage: ``Trainer(..., callbacks=[HFGuard()])``. The Trainer clips the gradients, calls
``on_pre_optimizer_step`` (the guard takes the finite flag and copies the state), steps the
optimizer, calls ``on_optimizer_step`` (the guard undoes a non-finite update on device) and steps
the scheduler (on skipped steps too: the guard's documented choice). The loss is not handed to
callbacks at that point, so the flag is the gradient norm's (a NaN loss makes NaN gradients).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from lrguard.guard.torch_adapter import CallbackSettings, TorchGuard


class HFGuard(CallbackSettings, TrainerCallback):  # type: ignore[misc]
    """Skips non-finite steps (on every rank), logs spikes and events; see :class:`TorchGuard` for the mechanics.

    Args:
        config: The guard configuration (validated here, at construction).
        events: Path of the JSON-lines events file, or ``None``.
        previous: Where the previous session left off (resume pre-flight at the first step).
        console: Stream for the console lines (``None``: silent).
    """

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Take the finite flag and copy the state, before the update."""
        if self.guard is None:
            optimizer = kwargs.get("optimizer")
            if optimizer is None:
                return
            self.guard = TorchGuard(
                getattr(optimizer, "optimizer", optimizer),  # accelerate's wrapper holds the torch optimizer
                config=self.config,
                previous=self._previous,
                events=self._events,
                console=self._console,
                step=int(state.global_step),
            )
        self.guard.before_step()

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Undo a non-finite update on device and count the step."""
        if self.guard is not None:
            self.guard.after_step()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Read the last window and write its events."""
        if self.guard is not None:
            self.guard.close()
