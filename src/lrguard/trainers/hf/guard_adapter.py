"""The guard as a Hugging Face ``TrainerCallback``, over :class:`~lrguard.guard.torch_adapter.TorchGuard`.

Usage: ``Trainer(..., callbacks=[HFGuard()])``. Per optimizer step the Trainer (4.48) runs the
forward and backward of each micro-batch, clips the gradients to ``max_grad_norm``, calls
``on_pre_optimizer_step`` (the guard takes the finite flag and copies the state), steps the
optimizer, calls ``on_optimizer_step`` (the guard undoes a non-finite update on device) and steps
the scheduler (on skipped steps too: the guard's documented choice).

The loss: callbacks are not handed it before the optimizer step, so ``on_train_begin`` puts a
forward hook on the model that keeps the loss the model returns (``outputs["loss"]`` of a
``ModelOutput`` or dict, the first element of a tuple when it is a 0-d floating tensor: what the
Trainer itself takes as the loss) in training mode only (evaluation forwards run in ``eval()``
mode and are ignored). The losses of a step's micro-batches are summed on the device and divided
by their number when the step is taken: the guard's loss is the mean of the model's own losses
over the accumulated micro-batches (no host read; the Trainer's division by
``gradient_accumulation_steps`` happens after the forward and is not in it; a model that takes
``num_items_in_batch`` divides by the whole step's item count itself, so its mean is the step's loss
over the accumulation steps, a constant factor the spike ratios do not see). A loss the Trainer
computes outside the model (``compute_loss_func``, label smoothing: the labels are popped before
the forward) is not seen; the flag then uses the gradient norm alone, as it does when the model's
output has no loss.

The gradient norm the guard sees is the clipped one (the Trainer clips before the callback), so a
spike of the gradient norm above ``max_grad_norm`` is invisible to it; a loss spike is not.

Rollback (a ``rollback`` action in the config): ``on_step_begin`` is the step boundary (after the
previous step's scheduler step and ``zero_grad``; the step's batches are already drawn). The state
is the model, the torch optimizer inside accelerate's wrapper, the scheduler, the GradScaler when
accelerate has one, and the random generators. A rollback restores it at the boundary after the
host read that found the persistent spike; the batches of the undone steps were consumed and are
not replayed. ``state.global_step`` keeps counting every step taken (undone ones included), and the
events are written at it (the step axis of the Trainer's logs, :class:`~lrguard.guard.trainer_steps.TrainerSteps`); the
scheduler and the guard's own step go back to the last-good state's step, so after a rollback the
LR is ``state.global_step - undone`` steps into its schedule and the Trainer stops at
``max_steps`` of its own count (fewer scheduled steps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from transformers import TrainerCallback

from lrguard.guard.events import Event, EventLog
from lrguard.guard.torch_adapter import CallbackSettings, TorchGuard
from lrguard.guard.trainer_steps import TrainerSteps


def output_loss(output: Any) -> torch.Tensor | None:
    """The loss in a model's output, as the HF Trainer takes it; ``None`` when there is none.

    A mapping (``ModelOutput``, dict): its ``loss`` entry. A tuple or list: its first element when
    that is a 0-d floating tensor (a tuple output starts with the loss when labels were given).
    """
    if isinstance(output, Mapping):
        loss = output.get("loss")
    elif isinstance(output, tuple | list) and output:
        loss = output[0]
    else:
        return None
    if isinstance(loss, torch.Tensor) and loss.ndim == 0 and loss.is_floating_point():
        return loss
    return None


class HFGuard(CallbackSettings, TrainerCallback):  # type: ignore[misc]
    """Skips non-finite steps (on every rank), logs spikes and events, rolls back; see :class:`TorchGuard`.

    Args:
        config: The guard configuration (validated here, at construction). ``rollback_skip`` must
            be 0 (the callback does not own the data loader).
        events: Path of the JSON-lines events file, or ``None``.
        previous: Where the previous session left off (resume pre-flight at the first step).
        console: Stream for the console lines (``None``: silent).

    Raises:
        ValueError: ``rollback_skip`` > 0.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Keep the settings; the guard is built at ``on_train_begin`` (or the first step)."""
        super().__init__(*args, **kwargs)
        if self.config.rolls_back and self.config.rollback_skip:
            raise ValueError("HFGuard: rollback_skip must be 0 (the callback does not own the data loader)")
        self._hook: Any = None
        self._log: EventLog | None = None
        self._steps: TrainerSteps | None = None
        self._loss_sum: torch.Tensor | None = None
        self._loss_n = 0

    @property
    def events(self) -> list[Event]:
        """Every event, at the Trainer's ``state.global_step`` (after a rollback the guard's own step is behind it)."""
        return list(self._log.events) if self._log is not None else []

    # -- the loss ----------------------------------------------------------------------------------
    def _keep_loss(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if not (module.training and torch.is_grad_enabled()):
            return  # evaluation and prediction forwards
        loss = output_loss(output)
        if loss is None:
            return
        value = loss.detach().float()
        self._loss_sum = value if self._loss_sum is None else self._loss_sum + value
        self._loss_n += 1

    def _take_loss(self) -> torch.Tensor | None:
        total, n = self._loss_sum, self._loss_n
        self._loss_sum, self._loss_n = None, 0
        return None if total is None else total / n

    # -- the guard ---------------------------------------------------------------------------------
    def _build(self, state: Any, kwargs: Mapping[str, Any]) -> None:
        optimizer = kwargs.get("optimizer")
        if optimizer is None:
            return
        inner = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper holds the torch optimizer
        rolls = self.config.rolls_back
        self._log = EventLog(self._events, console=self._console)
        self._steps = TrainerSteps(self._log, lambda: int(state.global_step))
        self.guard = TorchGuard(
            inner,
            scheduler=kwargs.get("lr_scheduler") if rolls else None,  # the Trainer steps it; kept for the state
            config=self.config,
            previous=self._previous,
            events=self._steps,
            step=int(state.global_step),
            model=kwargs.get("model") if rolls else None,
            # state only: accelerate unscales (in its clip) and steps through the scaler itself
            stateful={"scaler": scaler} if rolls and (scaler := getattr(optimizer, "scaler", None)) else None,
        )

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Hook the model's forward (the loss) and build the guard when the optimizer exists."""
        model = kwargs.get("model")
        if isinstance(model, torch.nn.Module) and self._hook is None:
            self._hook = model.register_forward_hook(self._keep_loss)
        self.guard, self._loss_sum, self._loss_n = (
            None,
            None,
            0,
        )  # a second train() with the same callback starts afresh
        self._build(state, kwargs)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """The step boundary: snapshots and a due rollback (only with a ``rollback`` action)."""
        if self.guard is not None and self.config.rolls_back:
            self.guard.boundary()

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Take the finite flag (loss and gradient norm) and copy the state, before the update."""
        if self.guard is None:
            self._build(state, kwargs)
            if self.guard is None:
                return
        if self._steps is not None:
            epoch = None if state.epoch is None else int(state.epoch)  # 0-based: the epoch this step is in
            self._steps.begin(self.guard.global_step, int(state.global_step), 3 * self.config.check_every, epoch)
        self.guard.before_step(self._take_loss())

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Undo a non-finite update on device and count the step."""
        if self.guard is not None:
            self.guard.after_step()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Read the last window and write its events; remove the forward hook."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        try:
            if self.guard is not None:
                self.guard.close()
        finally:
            if self._log is not None:
                self._log.close()
