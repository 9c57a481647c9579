"""The YOLOv5 (pip ``yolov5==7.0.14``) scenarios.

Imported only inside a scenario subprocess whose environment :mod:`harness.offline`
prepared. Fresh runs train in-process through ``yolov5.train.main`` with a fresh ``Callbacks``
object (``main``'s default one is shared between calls and would keep the loggers of earlier
runs). Every ``--resume`` runs the real command line, ``python -m yolov5.train --resume
<checkpoint>``, in a child process, because a resume re-reads the run's opt.yaml exactly as a user's
command would.

The settings make YOLOv5's hard-coded warmup floor (``max(round(3 * nb), 100)`` iterations) end
inside epoch 3: 32 training images with batch size 1 give nb = 32 batches per epoch and nw = 100.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.scenarios import ScenarioContext

sys.argv = sys.argv[:1]  # yolov5.train.parse_opt reads the command line
from yolov5 import train as yolov5_train
from yolov5.utils.callbacks import Callbacks

#: Training settings shared by every YOLOv5 scenario.
BASE: dict[str, Any] = {
    "cfg": "yolov5n.yaml",
    "weights": "",
    "imgsz": 64,
    "batch_size": 1,
    "workers": 0,
    "device": "cpu",
    "seed": 0,
    "noplots": True,
    "noautoanchor": True,
}
#: Batches per epoch with 32 training images and batch size 1.
NB = 32
#: Warmup iterations: max(round(3 * NB), 100).
NW = 100


class Interrupted(Exception):
    """Raised by a callback to stop a training process the way a crash or Ctrl-C would."""


def interrupt_callbacks(epoch: int) -> Callbacks:
    """Callbacks that stop training right after ``epoch`` (0-based) has been saved to last.pt."""

    def on_model_save(last: Path, current: int, final_epoch: bool, best_fitness: Any, fi: Any) -> None:
        if current == epoch:
            raise Interrupted(f"interrupted after epoch {epoch}")

    callbacks = Callbacks()
    callbacks.register_action("on_model_save", name="lrguard-interrupt", callback=on_model_save)
    return callbacks


def _train(ctx: ScenarioContext, name: str, interrupt_after: int | None = None, **overrides: Any) -> Path:
    """Train one fresh run in-process, optionally interrupted; return its run directory."""
    opt = yolov5_train.parse_opt(True)
    settings = {**BASE, "data": str(ctx.data_yaml), "project": str(ctx.runs), "name": name, **overrides}
    for key, value in settings.items():
        setattr(opt, key, value)
    callbacks = interrupt_callbacks(interrupt_after) if interrupt_after is not None else Callbacks()
    ctx.step("train", call="yolov5.train.main(opt)", opt=settings, cli=_as_cli(settings))
    try:
        yolov5_train.main(opt, callbacks)
    except Interrupted:
        ctx.step("interrupt", after_epoch=interrupt_after, how="exception raised in on_model_save")
        ctx.record["interrupt_after_epoch"] = interrupt_after
    return Path(opt.save_dir)


def _as_cli(settings: dict[str, Any]) -> str:
    """The ``python -m yolov5.train`` command line equivalent to in-process settings."""
    parts = ["python", "-m", "yolov5.train"]
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif value is not False:
            parts += [flag, repr(value) if value == "" else str(value)]
    return " ".join(parts)


def _resume(ctx: ScenarioContext, checkpoint: Path) -> None:
    """Run ``python -m yolov5.train --resume <checkpoint>`` in a guarded child process."""
    argv = [sys.executable, "-m", "harness.guarded", "yolov5.train", "--resume", str(checkpoint)]
    ctx.step(
        "resume",
        command=f"python -m yolov5.train --resume {checkpoint}",
        argv=["python", *argv[1:]],
    )
    sys.stdout.flush()
    sys.stderr.flush()
    subprocess.run(argv, check=True, cwd=ctx.root)  # inherits the offline environment and the log


def _edit_opt_yaml(
    ctx: ScenarioContext, run_dir: Path, change: Callable[[dict[str, Any]], tuple[str, Any, Any]]
) -> None:
    """Edit the run's opt.yaml the way a user would before ``--resume``."""
    path = run_dir / "opt.yaml"
    opt = yaml.safe_load(path.read_text(encoding="utf-8"))
    key, old, new = change(opt)
    path.write_text(yaml.safe_dump(opt, sort_keys=False), encoding="utf-8")
    ctx.step("edit", file=str(path), key=key, old=old, new=new)
    ctx.record.setdefault("edits", []).append({"file": "opt.yaml", "key": key, "old": old, "new": new})


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], tuple[str, Any, Any]]:
    def change(opt: dict[str, Any]) -> tuple[str, Any, Any]:
        old, opt[key] = opt[key], value
        return key, old, value

    return change


def _set_hyp(key: str, value: Any) -> Callable[[dict[str, Any]], tuple[str, Any, Any]]:
    def change(opt: dict[str, Any]) -> tuple[str, Any, Any]:
        old, opt["hyp"][key] = opt["hyp"][key], value
        return f"hyp.{key}", old, value

    return change


# ----------------------------------------------------------------------------------------- scenarios
def clean(ctx: ScenarioContext) -> None:
    """10 epochs, never interrupted."""
    _train(ctx, "exp", epochs=10)


def resume(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 4 of 10, then ``--resume``."""
    run = _train(ctx, "exp", epochs=10, interrupt_after=4)
    _resume(ctx, run / "weights" / "last.pt")


def interrupted(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 4 of 10 and stop there."""
    _train(ctx, "exp", epochs=10, interrupt_after=4)


def continue_from_last(ctx: ScenarioContext) -> None:
    """Finish a 6-epoch run, then start a new one from its (stripped) last.pt without --resume."""
    first = _train(ctx, "first", epochs=6)
    _train(ctx, "second", epochs=6, cfg="", weights=str(first / "weights" / "last.pt"))


def epochs_changed(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 5 of 10, edit opt.yaml ``epochs: 20``, ``--resume``."""
    run = _train(ctx, "exp", epochs=10, interrupt_after=5)
    _edit_opt_yaml(ctx, run, _set("epochs", 20))
    _resume(ctx, run / "weights" / "last.pt")


def epochs_changed_small(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 4 of 10, edit opt.yaml ``epochs: 12``, ``--resume``: the LR only decays slower."""
    run = _train(ctx, "exp", epochs=10, interrupt_after=4)
    _edit_opt_yaml(ctx, run, _set("epochs", 12))
    _resume(ctx, run / "weights" / "last.pt")


def finetune_linear(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 6 of 8, edit opt.yaml ``epochs: 6`` (< start epoch 7), ``--resume``."""
    run = _train(ctx, "exp", epochs=8, interrupt_after=6)
    _edit_opt_yaml(ctx, run, _set("epochs", 6))
    _resume(ctx, run / "weights" / "last.pt")


def finetune_cosine(ctx: ScenarioContext) -> None:
    """Cosine run: interrupt after epoch 8 of 10, edit opt.yaml ``epochs: 5``, ``--resume``."""
    run = _train(ctx, "exp", epochs=10, cos_lr=True, interrupt_after=8)
    _edit_opt_yaml(ctx, run, _set("epochs", 5))
    _resume(ctx, run / "weights" / "last.pt")


def older_checkpoint(ctx: ScenarioContext) -> None:
    """``--save-period 1``, interrupt after epoch 5 of 8, resume from ``weights/epoch3.pt``."""
    run = _train(ctx, "exp", epochs=8, save_period=1, interrupt_after=5)
    _resume(ctx, run / "weights" / "epoch3.pt")


def lr0_edited(ctx: ScenarioContext) -> None:
    """Interrupt after epoch 4 of 10, edit opt.yaml ``hyp.lr0: 0.02``, ``--resume``."""
    run = _train(ctx, "exp", epochs=10, interrupt_after=4)
    _edit_opt_yaml(ctx, run, _set_hyp("lr0", 0.02))
    _resume(ctx, run / "weights" / "last.pt")


def appended(ctx: ScenarioContext) -> None:
    """Two fresh 5-epoch runs into the same directory (``--exist-ok``)."""
    _train(ctx, "exp", epochs=5, exist_ok=True)
    _train(ctx, "exp", epochs=5, exist_ok=True)


def diverging(ctx: ScenarioContext) -> None:
    """A learning rate far too large (lr0=100): the train losses climb, then turn NaN.

    Smaller values (lr0=1 or 10) do not diverge in the train losses here: YOLOv5 clips gradients at
    max_norm=10, and only the EMA model's validation losses blow up, which on an untrained model is
    not distinguishable from a clean run's NaN validation losses.
    """
    hyp = _hyp_file(ctx, lr0=100.0)
    _train(ctx, "exp", epochs=6, hyp=str(hyp))


def _hyp_file(ctx: ScenarioContext, **changes: float) -> Path:
    """Write a copy of YOLOv5's default hyp.scratch-low.yaml with ``changes`` applied."""
    default = Path(yolov5_train.__file__).resolve().parent / "data" / "hyps" / "hyp.scratch-low.yaml"
    hyp = yaml.safe_load(default.read_text(encoding="utf-8"))
    hyp.update(changes)
    path = ctx.root / "hyp.diverging.yaml"
    path.write_text(yaml.safe_dump(hyp, sort_keys=False), encoding="utf-8")
    ctx.record["hyp_changes"] = changes
    return path


RUNNERS: dict[str, Callable[[ScenarioContext], None]] = {
    "yolov5/clean": clean,
    "yolov5/resume": resume,
    "yolov5/interrupted": interrupted,
    "yolov5/continue-from-last": continue_from_last,
    "yolov5/epochs-changed": epochs_changed,
    "yolov5/epochs-changed-small": epochs_changed_small,
    "yolov5/finetune-linear": finetune_linear,
    "yolov5/finetune-cosine": finetune_cosine,
    "yolov5/older-checkpoint": older_checkpoint,
    "yolov5/lr0-edited": lr0_edited,
    "yolov5/appended": appended,
    "yolov5/diverging": diverging,
}


def versions() -> dict[str, str]:
    """Versions of the trainer stack in this process."""
    import torch
    import yolov5

    return {"yolov5": yolov5.__version__, "torch": torch.__version__}
