"""The plain training facts of a checkpoint (:class:`CheckpointFacts`), part of :mod:`lrguard.model`.

A module of its own so that ``lrguard ckpt`` builds the record without importing the rest of the
data model; :mod:`lrguard.model` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CheckpointFacts:
    """The few plain fields of a training checkpoint that the diagnosis uses.

    Every field is optional: a stripped or foreign checkpoint lacks most of them.

    Attributes:
        path: The checkpoint file.
        epoch: The stored ``epoch`` (0-based index of the last finished epoch; -1 when stripped).
        has_optimizer: Whether an optimizer state dict is present (not ``None``).
        lrs: ``param_groups[j]['lr']`` per group, in group order.
        initial_lrs: ``param_groups[j]['initial_lr']`` per group (``None`` where absent).
        group_tags: ``param_groups[j]['param_group']`` tags (Ultralytics >= 8.4) or ``None``.
        updates: EMA ``updates`` counter.
        version: Ultralytics ``version`` string, if stored.
        date: ISO date string stored by the trainer.
        train_args: YOLOv5 ``opt`` or Ultralytics ``train_args`` as plain values.
        train_results: Ultralytics ``train_results`` snapshot of results.csv (column -> values).
        step: The global step it was saved at, for step-counted trainers (HF ``checkpoint-N``).
    """

    path: Path
    epoch: int | None = None
    has_optimizer: bool = False
    lrs: tuple[float, ...] = ()
    initial_lrs: tuple[float | None, ...] = ()
    group_tags: tuple[str | None, ...] = ()
    updates: int | None = None
    version: str | None = None
    date: str | None = None
    train_args: dict[str, Any] = field(default_factory=dict)
    train_results: dict[str, list[Any]] | None = None
    step: int | None = None

    @property
    def stripped(self) -> bool:
        """True when the trainer stripped the file at the end of training (epoch -1, no optimizer)."""
        return self.epoch == -1 or (self.epoch is None and not self.has_optimizer)
