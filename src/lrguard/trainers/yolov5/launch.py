"""YOLOv5 training commands: which checkpoint a ``--resume`` takes, and a continuation that keeps its options.

YOLOv5's ``--resume`` takes an optional path (``nargs="?"``): without one it resumes the newest
``last*.pt`` under ``runs/`` (what :func:`lrguard.readers.discover.find_run_dir` picks too), and every
option then comes from the run's ``opt.yaml``. A continuation is a new run, so those options must be
passed explicitly: :func:`continuation_argv` carries the ones that shape training over from opt.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard.readers.discover import newest_last_checkpoint

if TYPE_CHECKING:
    from lrguard.plan.continuation import Continuation

#: opt.yaml options a continuation passes on as ``--key value`` (booleans as a bare flag when true).
CARRIED = (
    "data",
    "cfg",
    "imgsz",
    "batch_size",
    "device",
    "workers",
    "seed",
    "cos_lr",
    "rect",
    "single_cls",
    "image_weights",
    "multi_scale",
    "sync_bn",
    "noautoanchor",
    "noplots",
    "noval",
    "nosave",
    "quad",
    "label_smoothing",
    "patience",
    "cache",
)


def _is_yolov5_train(argv: list[str]) -> int | None:
    """Index of the first option of a YOLOv5 training command, or ``None``."""
    for k, a in enumerate(argv):
        name = Path(a).name
        if name == "train.py" or a == "yolov5.train":
            return k + 1
        if name == "yolov5" and k + 1 < len(argv) and argv[k + 1] == "train":
            return k + 2
    return None


def resume_checkpoint(argv: list[str], cwd: Path) -> Path | None:
    """The checkpoint ``--resume [PATH]`` of a YOLOv5 command resumes from."""
    start = _is_yolov5_train(argv)
    if start is None:
        return None
    opts = argv[start:]
    for k, a in enumerate(opts):
        if a == "--resume":
            nxt = opts[k + 1] if k + 1 < len(opts) else ""
            if nxt and not nxt.startswith("-"):
                return (cwd / nxt).resolve() if not Path(nxt).is_absolute() else Path(nxt)
            return newest_last_checkpoint(cwd)  # what a bare --resume takes: newest last*.pt below
        if a.startswith("--resume="):
            return (cwd / a.split("=", 1)[1]).resolve()
    return None


def _flag(key: str, value: Any) -> list[str]:
    name = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return [name] if value else []
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [name, *(str(v) for v in value)]
    return [name, str(value)]


def continuation_argv(argv: list[str], cont: Continuation, recipe: Path, config: dict[str, Any]) -> list[str]:
    """The user's entry point (``python train.py`` / ``python -m yolov5.train``) training ``cont``."""
    start = _is_yolov5_train(argv)
    entry = argv[: start if start is not None else 0] or ["python", "train.py"]
    out = list(entry)
    for key in CARRIED:
        if key in config:
            out += _flag(key, config[key])
    run_dir = cont.run_path
    project = run_dir.parent  # where the run is now (opt.yaml's project is where it was written)
    out += ["--weights", str(cont.weights), "--hyp", str(recipe), "--epochs", str(cont.epochs)]
    out += ["--optimizer", cont.optimizer, "--project", str(project), "--name", f"{run_dir.name}-continue"]
    if cont.cos_lr and "--cos-lr" not in out:
        out.append("--cos-lr")
    return out
