"""The guard as a Lightning ``Callback`` (automatic optimization), over :class:`~lrguard.guard.torch_adapter.TorchGuard`.

Usage: ``Trainer(callbacks=[LightningGuard()])``. Lightning calls ``on_before_optimizer_step``
inside ``optimizer.step(closure)`` after the closure (forward, backward) and before the update:
the guard takes the finite flag and copies the state there; ``on_train_batch_end`` (after the
update) undoes a non-finite step on device. Lightning steps the scheduler itself, on skipped steps
too (the guard's documented choice). One optimizer; manual optimization is not guarded yet.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import Callback

from lrguard.guard.torch_adapter import CallbackSettings, TorchGuard


class LightningGuard(CallbackSettings, Callback):
    """Skips non-finite steps (on every rank), logs spikes and events; see :class:`TorchGuard` for the mechanics.

    Args:
        config: The guard configuration (validated here, at construction).
        events: Path of the JSON-lines events file, or ``None``.
        previous: Where the previous session left off (resume pre-flight at the first step).
        console: Stream for the console lines (``None``: silent).
    """

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Attach to the trainer's (single) optimizer at its current global step."""
        if len(trainer.optimizers) != 1:
            raise ValueError(f"LightningGuard guards one optimizer, the trainer has {len(trainer.optimizers)}")
        self.guard = TorchGuard(
            trainer.optimizers[0],
            config=self.config,
            previous=self._previous,
            events=self._events,
            console=self._console,
            step=int(trainer.global_step),
        )

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """Take the finite flag and copy the state, before the update."""
        if self.guard is not None:
            self.guard.before_step()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Undo a non-finite update on device and count the step."""
        if self.guard is not None:
            self.guard.after_step()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        """Read the last window and write its events."""
        if self.guard is not None:
            self.guard.close()
