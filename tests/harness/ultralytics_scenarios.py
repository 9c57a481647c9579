"""The Ultralytics (``ultralytics==8.4.190``) scenarios.

Imported only inside a scenario subprocess whose environment :mod:`harness.offline`
prepared. Every training, resumes included, runs in-process through the public ``YOLO`` API, which
is how users resume Ultralytics runs (``YOLO("last.pt").train(resume=True)``).

32 training images with batch 8 give nb = 4 batches per epoch; ``warmup_epochs=1`` makes the
warmup cover epoch 1 only (8.4.190 has no minimum number of warmup iterations).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from ultralytics import YOLO

from harness.scenarios import ScenarioContext, read_results_csv

#: Training settings shared by every Ultralytics scenario.
BASE: dict[str, Any] = {
    "imgsz": 64,
    "batch": 8,
    "workers": 0,
    "device": "cpu",
    "seed": 0,
    "deterministic": True,
    "pretrained": False,
    "optimizer": "SGD",
    "lr0": 0.01,
    "warmup_epochs": 1,
    "plots": False,
    "amp": False,
    "verbose": False,
}
#: Batches per epoch with 32 training images and batch 8.
NB = 4
#: Warmup iterations: round(warmup_epochs * NB).
NW = 4
#: Time-budget scenario: epoch 1 sleeps this many measured epoch times on top of its own work ...
SLOW_EPOCH_FACTOR = 4
#: ... and the budget holds this many such slow epochs. After the fast epoch 2 the mean epoch time
#: drops to about (SLOW_EPOCH_FACTOR + 2) / 2 epochs, so the re-estimated total nearly doubles: a
#: simulation of 8.4.190's arithmetic kept that growth with every later epoch 0.5-3x the measured one.
BUDGET_SLOW_EPOCHS = 8


class Interrupted(Exception):
    """Raised by a callback to stop training the way a crash or Ctrl-C would."""


def _train(
    ctx: ScenarioContext,
    name: str,
    model: str = "yolov8n.yaml",
    interrupt_after: int | None = None,
    callbacks: dict[str, Callable[[Any], None]] | None = None,
    **overrides: Any,
) -> Path:
    """Train one fresh run, optionally interrupted after 1-based epoch ``interrupt_after``."""
    settings = {**BASE, "data": str(ctx.data_yaml), "project": str(ctx.runs), "name": name, **overrides}
    yolo = YOLO(model)
    for event, callback in (callbacks or {}).items():
        yolo.add_callback(event, callback)
    if interrupt_after is not None:

        def stop(trainer: Any) -> None:  # runs after last.pt of the epoch has been written
            if trainer.epoch + 1 == interrupt_after:
                raise Interrupted(f"interrupted after epoch {interrupt_after}")

        yolo.add_callback("on_fit_epoch_end", stop)
    ctx.step("train", call=f"YOLO({model!r}).train(**settings)", settings=settings)
    try:
        yolo.train(**settings)
    except Interrupted:
        ctx.step("interrupt", after_epoch=interrupt_after, how="exception raised in on_fit_epoch_end")
        ctx.record["interrupt_after_epoch"] = interrupt_after
    return ctx.runs / name


def _resume(ctx: ScenarioContext, checkpoint: Path) -> None:
    """``YOLO(checkpoint).train(resume=True)``."""
    ctx.step("resume", call=f"YOLO({str(checkpoint)!r}).train(resume=True)")
    YOLO(str(checkpoint)).train(resume=True)


# ----------------------------------------------------------------------------------------- scenarios
def clean(ctx: ScenarioContext) -> None:
    """8 epochs, never interrupted."""
    _train(ctx, "exp", epochs=8)


def resume(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 4 of 8, then resume."""
    run = _train(ctx, "exp", epochs=8, interrupt_after=4)
    _resume(ctx, run / "weights" / "last.pt")


def interrupted(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 4 of 8 and stop there."""
    _train(ctx, "exp", epochs=8, interrupt_after=4)


def continue_from_last(ctx: ScenarioContext) -> None:
    """Finish a 5-epoch run, then train a new run from its (stripped) last.pt."""
    first = _train(ctx, "first", epochs=5)
    _train(ctx, "second", model=str(first / "weights" / "last.pt"), epochs=5)


def _epoch_seconds(run: Path) -> float:
    """The longest epoch of a finished run, from the cumulative seconds of its ``time`` column."""
    _, rows = read_results_csv(run / "results.csv")
    elapsed = [0.0] + [float(row["time"]) for row in rows]
    return max(b - a for a, b in itertools.pairwise(elapsed))


def time_budget(ctx: ScenarioContext) -> None:
    """``time=`` sized from a measured epoch, with a slow first epoch: the total is re-estimated upward.

    8.4.190 in time mode sets the total epochs to ``ceil(time / mean epoch time)`` after every
    epoch and rebuilds the scheduler. A 2-epoch run first measures how long an epoch takes on this
    machine (``d``, the longer of the two); the budgeted run then sleeps ``SLOW_EPOCH_FACTOR * d``
    at the end of epoch 1 (``on_train_epoch_end``, inside the epoch's measured time) under a budget
    of ``BUDGET_SLOW_EPOCHS`` slow epochs. Once the fast epoch 2 lowers the mean, the re-estimated
    total grows, so the LR of epoch 3 lies above the schedule planned after epoch 1, however fast
    or slow the machine is; how many epochs fit is left to the machine.
    """
    measure = _train(ctx, "measure", epochs=2)
    epoch_s = _epoch_seconds(measure)
    sleep_s = round(SLOW_EPOCH_FACTOR * epoch_s, 3)
    budget_s = BUDGET_SLOW_EPOCHS * (sleep_s + epoch_s)
    hours = math.ceil(budget_s / 3600 * 1e7) / 1e7  # 0.36 ms steps

    def slow_first_epoch(trainer: Any) -> None:
        if trainer.epoch == 0:
            time.sleep(sleep_s)

    ctx.record["time_budget"] = {
        "measured_epoch_seconds": round(epoch_s, 3),
        "slow_epoch_sleep_seconds": sleep_s,
        "budget_seconds": round(hours * 3600, 3),
        "time_hours": hours,
    }
    ctx.step("slow-epoch", event="on_train_epoch_end", epoch=1, sleep_seconds=sleep_s)
    _train(ctx, "exp", epochs=100, time=hours, callbacks={"on_train_epoch_end": slow_first_epoch})


def _resume_with_train_args_epochs(ctx: ScenarioContext, planned: int, done: int, edited: int) -> None:
    """Interrupt after epoch ``done`` of ``planned``, set ``train_args['epochs'] = edited`` in last.pt, resume.

    8.4.190 honours only this edit on resume: ``epochs=`` given with ``resume`` is dropped and
    args.yaml is not read back.
    """
    run = _train(ctx, "exp", epochs=planned, interrupt_after=done)
    last = run / "weights" / "last.pt"
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    old = ckpt["train_args"]["epochs"]
    ckpt["train_args"]["epochs"] = edited
    torch.save(ckpt, last)
    ctx.step(
        "edit",
        file=str(last),
        key="train_args.epochs",
        old=old,
        new=edited,
        how=f"ckpt = torch.load(last.pt); ckpt['train_args']['epochs'] = {edited}; torch.save(ckpt, last.pt)",
    )
    ctx.record.setdefault("edits", []).append(
        {"file": "weights/last.pt", "key": "train_args.epochs", "old": old, "new": edited}
    )
    _resume(ctx, last)


def epochs_changed(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 3 of 6, set ``train_args['epochs'] = 12`` inside last.pt, resume."""
    _resume_with_train_args_epochs(ctx, 6, 3, 12)


def epochs_changed_small(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 4 of 8, set ``train_args['epochs'] = 10`` inside last.pt, resume.

    The LR never steps up: the first resumed row lies below the row before, on the 10-epoch line.
    """
    _resume_with_train_args_epochs(ctx, 8, 4, 10)


def diverging(ctx: ScenarioContext) -> None:
    """A learning rate far too large: the losses blow up.

    8.4.190 rejects ``lr0 > 1``, so this uses ``lr0=1.0`` with ``nbs=8`` (no gradient
    accumulation: an optimizer step every batch). 8.4.190 also reloads last.pt and repeats an epoch
    whose loss is not finite, and gives up with a ``RuntimeError`` after three attempts; such an
    error would end the run like a real crash does, so it is recorded rather than raised.
    """
    try:
        _train(ctx, "exp", epochs=6, lr0=1.0, nbs=8)
    except RuntimeError as error:
        ctx.step("crash", error=str(error))
        ctx.record["crash"] = str(error)


RUNNERS: dict[str, Callable[[ScenarioContext], None]] = {
    "ultralytics/clean": clean,
    "ultralytics/resume": resume,
    "ultralytics/interrupted": interrupted,
    "ultralytics/continue-from-last": continue_from_last,
    "ultralytics/time-budget": time_budget,
    "ultralytics/epochs-changed": epochs_changed,
    "ultralytics/epochs-changed-small": epochs_changed_small,
    "ultralytics/diverging": diverging,
}


def versions() -> dict[str, str]:
    """Versions of the trainer stack in this process."""
    import ultralytics

    return {"ultralytics": ultralytics.__version__, "torch": torch.__version__}
