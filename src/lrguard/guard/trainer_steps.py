"""Events at a trainer's own global step: the event log a trainer callback gives each of its guards.

A :class:`~lrguard.guard.torch_adapter.TorchGuard` counts the optimizer steps it guarded (and sets
its count back on a rollback, with the scheduler). A trainer counts its own way: Lightning's manual
optimization counts every step of every optimizer, and both Lightning and the HF Trainer keep
counting through a rollback. Their logs are on the trainer's count, so the callbacks write the
events there too: :class:`TrainerSteps` is the log a guard writes into; it records, as each step
begins, which trainer step the guard's step is, and writes each event into the shared log at that
step. Torch-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from lrguard.guard.events import Event, EventLog


class TrainerSteps(EventLog):
    """The event log of one optimizer's guard: writes its events into a shared log at the trainer's global step.

    Args:
        sink: The shared log (file and console).
        now: The trainer's global step now (for an event of a step not begun: a rollback's restore).
        label: Prefix of the messages (``optimizer 1: ``), or empty.
    """

    def __init__(self, sink: EventLog, now: Callable[[], int], label: str = "") -> None:
        """Nothing is written here itself; :attr:`events` keeps the guard's own (local) events."""
        super().__init__(None, console=None)
        self.sink, self.now, self.label = sink, now, label
        #: The guard's step -> the trainer's global step, set as each step begins.
        self.steps: dict[int, int] = {}
        #: The guard's step -> the trainer's epoch at that step (when the callback gave one).
        self.epochs: dict[int, int] = {}

    def write(self, event: Event) -> None:
        """Keep the event and write it to the shared log with the trainer's global step."""
        self.events.append(event)
        step = self.steps.get(event.step)
        if step is None:
            step = int(self.now())
        until = None if event.until is None else step + (event.until - event.step)  # exact for one optimizer
        epoch = event.epoch if event.epoch is not None else self.epochs.get(event.step)
        self.sink.write(
            dataclasses.replace(event, step=step, until=until, epoch=epoch, message=self.label + event.message)
        )

    def begin(self, guard_step: int, trainer_step: int, keep: int, epoch: int | None = None) -> None:
        """Record that the guard's step ``guard_step`` is the trainer's ``trainer_step`` (in ``epoch``).

        Steps more than ``keep`` before it are forgotten.
        """
        self.steps[guard_step] = trainer_step
        if epoch is not None:
            self.epochs[guard_step] = epoch
        if len(self.steps) > 2 * keep:
            self.steps = {k: v for k, v in self.steps.items() if k >= guard_step - keep}
            self.epochs = {k: v for k, v in self.epochs.items() if k >= guard_step - keep}

    def close(self) -> None:
        """The shared log is closed by the callback."""
