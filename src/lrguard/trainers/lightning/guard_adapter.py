"""The guard as a Lightning ``Callback``, over :class:`~lrguard.guard.torch_adapter.TorchGuard` (Lightning 2.x).

Usage: ``Trainer(callbacks=[LightningGuard()])``. One :class:`TorchGuard` per optimizer (each has
its own parameters, optimizer state, spike statistics and skips: a NaN in one optimizer's step
leaves the others' steps alone). Lightning calls ``on_before_optimizer_step(optimizer)`` inside
every step of that optimizer, after its gradients exist and before the update: in automatic
optimization inside ``optimizer.step(closure)`` after the closure (forward, backward), in manual
optimization inside ``opt.step()`` of the ``LightningOptimizer`` (``precision.optimizer_step`` wraps
a do-nothing closure the same way). The guard takes the finite flag and copies the state there;
torch's step post-hook on the optimizer, right after the update, undoes a non-finite step on device.
Lightning steps the schedulers itself in automatic optimization, the module's code in manual
optimization, on skipped steps too (the guard's documented choice).

The loss: ``on_before_backward(loss)`` hands the callback every loss Lightning backpropagates (the
closure's loss in automatic optimization, already divided by ``accumulate_grad_batches``; each
``manual_backward(loss)`` in manual optimization). The guard sums them on the device (no host
read) and gives the sum to the next optimizer step's flag and spike statistics, then starts a new
sum: with accumulation the step's loss is the mean of its micro-batches' losses; in manual
optimization each optimizer gets the losses backpropagated since the previous optimizer step (the
generator's loss for the generator's step, the discriminator's for its own). Under an enabled
GradScaler the loss arrives scaled and is divided by the scaler's scale tensor on the device.

Steps: each guard counts its own optimizer's steps; its events are written with
``trainer.global_step`` of that step (automatic optimization: the optimizer steps; manual: every
``opt.step()`` of every optimizer, so the steps of two alternating optimizers interleave). With
more than one optimizer an event's message starts with ``optimizer <i>:`` (its index in
``trainer.optimizers``).

Rollback (a ``rollback`` action; one optimizer only): ``on_train_batch_start`` is the step boundary
(after the previous batch's scheduler step; the batch is already drawn). The state is the
LightningModule (``state_dict``), the optimizer, its schedulers, the precision plugin's GradScaler
when it has one, and the random generators. A rollback restores it at the boundary after the host
read that found the persistent spike; the batches of the undone steps were consumed and are not
replayed. ``trainer.global_step`` keeps counting every step taken (undone ones included) and
``max_steps`` counts it; the schedulers and the guard's step go back to the last-good state's.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from lrguard.guard.events import Event, EventLog
from lrguard.guard.torch_adapter import CallbackSettings, TorchGuard
from lrguard.guard.trainer_steps import TrainerSteps


class LightningGuard(CallbackSettings, Callback):
    """Skips non-finite steps (on every rank) per optimizer, logs spikes and events, rolls back; see :class:`TorchGuard`.

    Args:
        config: The guard configuration (validated here, at construction). ``rollback_skip`` must
            be 0 (the callback does not own the data loader).
        events: Path of the JSON-lines events file, or ``None``.
        previous: Where the previous session left off (resume pre-flight at the first step), compared
            with the first optimizer's param groups.
        console: Stream for the console lines (``None``: silent).

    Raises:
        ValueError: ``rollback_skip`` > 0; at ``on_train_start``, a rollback with several optimizers.

    Attributes:
        guards: One guard per optimizer, in the order of ``trainer.optimizers``.
        guard: The first optimizer's guard (the only one in automatic optimization).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Keep the settings; the guards are built at ``on_train_start``."""
        super().__init__(*args, **kwargs)
        if self.config.rolls_back and self.config.rollback_skip:
            raise ValueError("LightningGuard: rollback_skip must be 0 (the callback does not own the data loader)")
        self.guards: list[TorchGuard] = []
        self._by_optimizer: dict[int, tuple[TorchGuard, TrainerSteps]] = {}
        self._hooks: list[Any] = []
        self._log: EventLog | None = None
        self._loss_sum: torch.Tensor | None = None

    @property
    def events(self) -> list[Event]:
        """Every event of every optimizer's guard, at the trainer's global step, in the order written."""
        return list(self._log.events) if self._log is not None else []

    @property
    def skipped_steps(self) -> list[int]:
        """The trainer's global steps of the skipped optimizer steps (all optimizers)."""
        return sorted(e.step for e in self.events if e.signal == "nonfinite" and e.action == "skip")

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Build one guard per optimizer at the trainer's global step and hook each optimizer's step end."""
        optimizers = list(trainer.optimizers)
        rolls = self.config.rolls_back
        for hook in self._hooks:  # a second fit with the same callback starts afresh
            hook.remove()
        self.guards, self._by_optimizer, self._hooks, self._loss_sum = [], {}, [], None
        if rolls and len(optimizers) != 1:
            raise ValueError(f"LightningGuard: rollback guards one optimizer, the trainer has {len(optimizers)}")
        self._log = EventLog(self._events, console=self._console)
        for i, optimizer in enumerate(optimizers):
            log = TrainerSteps(
                self._log, lambda: trainer.global_step, f"optimizer {i}: " if len(optimizers) > 1 else ""
            )
            state: dict[str, Any] = {}
            scheduler = None
            if rolls:
                mine = [
                    c.scheduler
                    for c in trainer.lr_scheduler_configs
                    if getattr(c.scheduler, "optimizer", None) is optimizer
                ]
                scheduler = mine[0] if mine else None
                state.update({f"scheduler{j}": s for j, s in enumerate(mine[1:], 1)})
                scaler = getattr(trainer.precision_plugin, "scaler", None)
                if scaler is not None:
                    state["scaler"] = scaler  # state only: the precision plugin unscales and steps through it
            guard = TorchGuard(
                optimizer,
                scheduler=scheduler,
                config=self.config,
                previous=self._previous if i == 0 else None,  # one LR vector: the first optimizer's
                events=log,
                step=int(trainer.global_step),
                model=pl_module if rolls else None,
                stateful=state or None,
            )
            self.guards.append(guard)
            self._by_optimizer[id(optimizer)] = (guard, log)
            self._hooks.append(optimizer.register_step_post_hook(self._after(guard)))
        self.guard = self.guards[0] if self.guards else None

    @staticmethod
    def _after(guard: TorchGuard) -> Any:
        def hook(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            guard.after_step()  # without a before_step (a step Lightning did not announce) it does nothing

        return hook

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        """The step boundary: snapshots and a due rollback (only with a ``rollback`` action)."""
        if self.config.rolls_back:
            for guard in self.guards:
                guard.boundary()

    def on_before_backward(self, trainer: Any, pl_module: Any, loss: torch.Tensor) -> None:
        """Add the loss about to be backpropagated to the next optimizer step's sum (on the device)."""
        value = loss.detach().float()
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        if scaler is not None and scaler.is_enabled():
            scale = getattr(scaler, "_scale", None)  # the device tensor: get_scale() would read it on the host
            if not isinstance(scale, torch.Tensor):
                return
            value = value / scale
        self._loss_sum = value if self._loss_sum is None else self._loss_sum + value

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """Take this optimizer's finite flag (loss and gradient norm) and copy its state, before its update."""
        loss, self._loss_sum = self._loss_sum, None
        found = self._by_optimizer.get(id(getattr(optimizer, "optimizer", optimizer)))
        if found is None:
            return
        guard, log = found
        log.begin(guard.global_step, int(trainer.global_step), 3 * self.config.check_every, trainer.current_epoch)
        guard.before_step(loss)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        """Read the last windows and write their events; remove the step hooks."""
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        try:
            for guard in self.guards:
                guard.close()
        finally:
            if self._log is not None:
                self._log.close()
