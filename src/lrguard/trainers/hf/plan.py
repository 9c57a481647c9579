"""The LR an HF Trainer run planned at every logged step, rebuilt from its saved training arguments.

``Trainer.create_scheduler`` calls ``get_scheduler(lr_scheduler_type, num_warmup_steps,
num_training_steps, scheduler_specific_kwargs=lr_scheduler_kwargs)``; the closed forms are in
:mod:`lrguard.schedules.library.hf`. The LR logged at step ``s`` is the scheduler's LR after ``s``
optimizer steps: ``learning_rate * multiplier(s)`` (checked on transformers 4.48.3).

Each row uses the settings of the first checkpoint saved at or after its step (the settings in
effect when it was logged; the newest checkpoint for rows after the last one). The base LR stays the
first checkpoint's ``learning_rate``: a resume restores the scheduler's ``base_lrs`` and the
optimizer's rates from the checkpoint, so a new ``learning_rate`` has no effect while the new
``lr_scheduler_type`` or length does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lrguard.model import Run
from lrguard.schedules.library.base import MultiplicativeSchedule, NotRebuildable
from lrguard.schedules.library.hf import HFSchedulerArgs, hf_warmup_steps


def scheduler_args(args: Mapping[str, Any], total_steps: int | None) -> HFSchedulerArgs:
    """The ``get_scheduler`` arguments the Trainer derives from ``args`` (TrainingArguments as a dict).

    Args:
        args: ``lr_scheduler_type``, ``warmup_steps``, ``warmup_ratio``, ``max_steps``,
            ``learning_rate``, ``lr_scheduler_kwargs``.
        total_steps: The run's total optimizer steps when ``max_steps`` is not set (trainer_state.json
            ``max_steps``, which the Trainer computes from ``num_train_epochs``).

    Raises:
        NotRebuildable: No scheduler type or no length.
    """
    name = args.get("lr_scheduler_type")
    if not isinstance(name, str):
        raise NotRebuildable("training_args has no lr_scheduler_type")
    max_steps = args.get("max_steps")
    total = int(max_steps) if isinstance(max_steps, int | float) and max_steps > 0 else total_steps
    if total is None or total <= 0:
        raise NotRebuildable("neither max_steps nor the trainer_state.json max_steps gives the length")
    warmup = hf_warmup_steps(total, int(args.get("warmup_steps") or 0), float(args.get("warmup_ratio") or 0.0))
    kwargs = args.get("lr_scheduler_kwargs")
    lr = args.get("learning_rate")
    return HFSchedulerArgs(
        name=name,
        num_warmup_steps=warmup,
        num_training_steps=total,
        scheduler_specific_kwargs=dict(kwargs) if isinstance(kwargs, dict) else {},
        learning_rate=float(lr) if isinstance(lr, int | float) else None,
    )


def planned_lr(run: Run) -> np.ndarray | None:
    """The planned LR per row (one group), or ``None`` when no checkpoint's settings rebuild it."""
    ckpts = sorted((f for f in run.checkpoints if f.step is not None and f.train_args), key=lambda f: f.step or 0)
    if not ckpts or run.axis is None:
        return None
    total = run.config.get("max_steps")
    total = int(total) if isinstance(total, int | float) and total > 0 else None
    base = ckpts[0].train_args.get("learning_rate")
    if not isinstance(base, int | float) or base <= 0:
        return None
    schedules: list[MultiplicativeSchedule | None] = []
    for f in ckpts:
        try:
            schedules.append(scheduler_args(f.train_args, total).build((float(base),)))
        except NotRebuildable:
            schedules.append(None)
    if all(s is None for s in schedules):
        return None
    marks = np.array([f.step for f in ckpts])
    steps = run.axis.values
    pick = np.minimum(np.searchsorted(marks, steps, side="left"), len(ckpts) - 1)
    out = np.full((run.n_rows, 1), np.nan)
    for i, (k, s) in enumerate(zip(pick, steps, strict=True)):
        sched = schedules[int(k)]
        if sched is not None:
            out[i, 0] = float(base) * sched.multiplier(float(s))
    return out
