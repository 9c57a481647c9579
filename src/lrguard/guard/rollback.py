"""The rollback action's bookkeeping, framework-free: when a persistent spike rolls back, and what it skipped.

The torch side (taking and restoring the state) is :mod:`lrguard.guard.state_adapter`; this module
decides *when*. A spike of a signal whose action is ``rollback`` is counted; the
``rollback_patience``-th spike counted within ``rollback_patience_steps`` steps rolls back to the
last-good state, the earlier ones are logged. While a counted spike is live, no newer state is
promoted to last-good, so the state rolled back to is from before the first of them.

Positions are global steps (optimizer steps, the LR schedule's axis). A rollback sets the global
step back to the last-good state's, so the same global step can be trained twice; the data
position (batches handed out by :meth:`lrguard.guard.torch_adapter.TorchGuard.data`) only grows, and
the skipped window is recorded in both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SkipWindow:
    """The training a rollback threw away and the data it skipped.

    Attributes:
        from_step: Global step of the last-good state the run went back to.
        to_step: Global step the run had reached when it rolled back (steps ``from_step`` to
            ``to_step - 1`` were undone).
        trigger_step: Global step of the spike that triggered it.
        first_batch: Data position of the first skipped batch (the one of step ``from_step``).
        end_batch: Data position after the last skipped batch (exclusive): the batches of the
            undone steps plus ``rollback_skip`` more.
        signal: The signal that rolled back.
    """

    from_step: int
    to_step: int
    trigger_step: int
    first_batch: int
    end_batch: int
    signal: str

    def to_json(self) -> dict[str, Any]:
        """Plain values."""
        return asdict(self)


@dataclass
class RollbackBook:
    """Counts the spikes of ``rollback`` signals and records the rollbacks done.

    Args:
        patience: Counted spikes that make a rollback.
        patience_steps: A counted spike older than this many steps is forgotten.
        max_rollbacks: Rollbacks allowed; the next one is a stop.
    """

    patience: int = 1
    patience_steps: int = 200
    max_rollbacks: int = 3
    spikes: list[int] = field(default_factory=list)
    windows: list[SkipWindow] = field(default_factory=list)

    def _expire(self, step: int) -> None:
        self.spikes = [s for s in self.spikes if s > step - self.patience_steps]

    def note(self, step: int) -> str:
        """Count a spike at ``step``.

        Returns:
            ``rollback`` when it completes the patience, ``stop`` when it would but
            ``max_rollbacks`` are used up, else ``log`` (counted, waiting for more).
        """
        self._expire(step)
        if step not in self.spikes:  # a loss and a grad-norm spike at one step count once
            self.spikes.append(step)
        if len(self.spikes) < self.patience:
            return "log"
        return "rollback" if len(self.windows) < self.max_rollbacks else "stop"

    def may_promote(self, step: int) -> bool:
        """Whether a state at global ``step`` may become the last-good one (no counted spike is live before it)."""
        self._expire(step)
        return not any(s < step for s in self.spikes)

    def rolled_back(self, window: SkipWindow) -> None:
        """Record a rollback; the counted spikes are spent."""
        self.windows.append(window)
        self.spikes.clear()
