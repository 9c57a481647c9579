"""The Ultralytics (``ultralytics==8.4.190``) scenarios.

Imported only inside a scenario subprocess whose environment :mod:`harness.offline`
prepared. Every training, resumes included, runs in-process through the public ``YOLO`` API, which
is how users resume Ultralytics runs (``YOLO("last.pt").train(resume=True)``).

32 training images with batch 8 give nb = 4 batches per epoch; ``warmup_epochs=1`` makes the
warmup cover epoch 1 only (8.4.190 has no minimum number of warmup iterations).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from ultralytics import YOLO

from harness.scenarios import ScenarioContext

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


class Interrupted(Exception):
    """Raised by a callback to stop training the way a crash or Ctrl-C would."""


def _train(
    ctx: ScenarioContext,
    name: str,
    model: str = "yolov8n.yaml",
    interrupt_after: int | None = None,
    **overrides: Any,
) -> Path:
    """Train one fresh run, optionally interrupted after 1-based epoch ``interrupt_after``."""
    settings = {**BASE, "data": str(ctx.data_yaml), "project": str(ctx.runs), "name": name, **overrides}
    yolo = YOLO(model)
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


def time_budget(ctx: ScenarioContext) -> None:
    """``time=0.003`` hours (10.8 s): the trainer re-plans the number of epochs after every epoch."""
    _train(ctx, "exp", epochs=100, time=0.003)


def epochs_changed(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 3 of 6, set ``train_args['epochs'] = 12`` inside last.pt, resume."""
    run = _train(ctx, "exp", epochs=6, interrupt_after=3)
    last = run / "weights" / "last.pt"
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    old = ckpt["train_args"]["epochs"]
    ckpt["train_args"]["epochs"] = 12
    torch.save(ckpt, last)
    ctx.step(
        "edit",
        file=str(last),
        key="train_args.epochs",
        old=old,
        new=12,
        how="ckpt = torch.load(last.pt); ckpt['train_args']['epochs'] = 12; torch.save(ckpt, last.pt)",
    )
    ctx.record.setdefault("edits", []).append(
        {"file": "weights/last.pt", "key": "train_args.epochs", "old": old, "new": 12}
    )
    _resume(ctx, last)


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
    "ultralytics/diverging": diverging,
}


def versions() -> dict[str, str]:
    """Versions of the trainer stack in this process."""
    import ultralytics

    return {"ultralytics": ultralytics.__version__, "torch": torch.__version__}
