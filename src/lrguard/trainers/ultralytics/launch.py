"""Ultralytics training commands: what a ``yolo train resume`` does, and a continuation in its place.

What 8.4.190 does on ``yolo train resume model=last.pt [k=v ...]`` (``BaseTrainer.check_resume``):
every argument comes from the checkpoint's ``train_args`` (args.yaml is not read), and of the
``k=v`` given with it only a short list that does not touch the schedule is applied
(:data:`RESUME_HONOURED`: ``imgsz``, ``batch``, ``device``, ``workers``, ``time``, ...);
``epochs=``, ``lr0=``, ``lrf=``, ``cos_lr=`` and the others are dropped with a warning ("Resume
ignores [...]"). So the only edit of ``epochs`` a resume honours is one made inside last.pt's
``train_args``, which the pre-flight sees as an optimizer state saved by another schedule. The
resume writes into ``train_args['save_dir']``, wherever the run directory is now.

A continuation is a new run from the checkpoint's weights: ``yolo train model=last.pt cfg=FILE``
with the settings file of ``lrguard continue``, into ``<run>-continue`` beside the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lrguard.plan.continuation import Continuation

#: Arguments 8.4.190 applies when given with ``resume`` (the rest come from train_args).
RESUME_HONOURED = frozenset(
    {
        "imgsz", "batch", "device", "close_mosaic", "augmentations", "save_period", "workers", "cache",
        "patience", "time", "freeze", "val", "plots", "channels_last", "distill_model", "save_dir",
    }
)  # fmt: skip
#: Arguments a resume reads without complaint (the checkpoint, the data, the mode).
RESUME_OWN = frozenset({"model", "data", "mode", "resume", "pretrained"})
#: Honoured on resume and worth passing on to the continuation (machine-specific, not the schedule).
CARRIED = ("imgsz", "batch", "device", "workers", "cache", "patience", "close_mosaic", "plots", "val")


def _kv(argv: list[str]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in argv[1:] if "=" in a and not a.startswith("-"))


def ignored_on_resume(argv: list[str]) -> list[str]:
    """The ``k=v`` of a ``yolo train resume`` command that the resume drops (they do not change the run)."""
    return [k for k in _kv(argv) if k not in RESUME_HONOURED and k not in RESUME_OWN]


def resume_save_dir(train_args: dict[str, Any]) -> Path | None:
    """Where a resume of a checkpoint with these train_args writes (its ``save_dir``), when recorded."""
    saved = train_args.get("save_dir")
    return Path(saved) if isinstance(saved, str) and saved else None


def continuation_argv(argv: list[str], cont: Continuation, recipe: Path, config: dict[str, Any]) -> list[str]:
    """``yolo train model=<checkpoint> cfg=<recipe>`` into ``<run>-continue``, with the machine options given.

    Args:
        argv: The resume command it replaces (its ``yolo`` and the honoured ``k=v`` are kept).
        cont: The continuation.
        recipe: Its settings file.
        config: The run's args.yaml (for ``data`` when the settings file lacks it).
    """
    given = _kv(argv)
    out = [argv[0] if argv else "yolo", "train", f"model={cont.weights}", f"cfg={recipe}"]
    if "data" in given:
        out.append(f"data={given['data']}")
    elif "data" not in cont.settings and config.get("data"):
        out.append(f"data={config['data']}")
    out += [f"{k}={given[k]}" for k in CARRIED if k in given]
    run_dir = cont.run_path
    out += [f"project={run_dir.parent}", f"name={run_dir.name}-continue"]
    return out
