"""Read an HF Accelerate project directory into a step-counted :class:`~lrguard.model.Run`.

What Accelerate writes (accelerate 1.11, see ``docs/trainers/accelerate.md``): TensorBoard event
files below ``project_dir/<project_name>/`` (``Accelerator(log_with="tensorboard")`` +
``init_trackers``), and one directory per ``accelerator.save_state()``: ``checkpoint_N/`` (or
``checkpoints/checkpoint_N`` with ``automatic_checkpoint_naming``) holding ``model.safetensors``,
``optimizer.bin``, ``scheduler.bin`` (``scheduler.state_dict()``, ``torch.save``'d) and one
``random_states_<rank>.pkl`` per process, which is how the number of processes shows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lrguard.model import CheckpointFacts, Run
from lrguard.readers.tbrun import read_tb_run

CHECKPOINT_DIR = re.compile(r"^checkpoint_(\d+)$")
MARKERS = ("optimizer.bin", "scheduler.bin", "model.safetensors", "pytorch_model.bin")


def checkpoint_dirs(root: Path) -> list[Path]:
    """``checkpoint_N`` directories (in ``root`` or ``root/checkpoints``) that hold a state file, by N."""
    found = []
    for base in (root, root / "checkpoints"):
        for p in base.iterdir() if base.is_dir() else ():
            m = CHECKPOINT_DIR.match(p.name)
            if m and p.is_dir() and (any((p / f).is_file() for f in MARKERS) or any(p.glob("random_states_*.pkl"))):
                found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def recognises(path: Path) -> bool:
    """A directory with ``save_state`` checkpoint dirs (event files are the torch reader's test)."""
    try:
        return path.is_dir() and bool(checkpoint_dirs(path))
    except OSError:
        return False


def _checkpoint(ck: Path, notes: list[str]) -> CheckpointFacts:
    from lrguard.checkpoint.archive import load
    from lrguard.checkpoint.facts import as_dict, param_groups
    from lrguard.checkpoint.plain import to_plain
    from lrguard.errors import InputError

    extra: dict[str, Any] = {"num_processes": len(list(ck.glob("random_states_*.pkl")))}
    lrs: tuple[float, ...] = ()
    has_opt = False
    if (ck / "optimizer.bin").is_file():
        try:
            groups = param_groups(load(ck / "optimizer.bin").root)
            has_opt = bool(groups)
            lrs = tuple(float(g["lr"]) for g in groups if isinstance(g.get("lr"), int | float))
        except InputError as exc:
            notes.append(f"{exc.one_line()}: optimizer state not read")
    if (ck / "scheduler.bin").is_file():
        try:
            sd = as_dict(load(ck / "scheduler.bin").root)
            plain = to_plain(sd) if sd else None
            if isinstance(plain, dict):
                extra["scheduler"] = plain
        except InputError as exc:
            notes.append(f"{exc.one_line()}: scheduler state not read")
    step = None
    for custom in sorted(ck.glob("custom_checkpoint_*.pkl")):
        try:
            sd = as_dict(load(custom).root) or {}
        except InputError:
            continue
        if isinstance(sd.get("step"), int) and not isinstance(sd.get("step"), bool):
            step = int(sd["step"])  # the loop's own step counter, registered for checkpointing
            break
    m = CHECKPOINT_DIR.match(ck.name)
    return CheckpointFacts(
        path=ck, has_optimizer=has_opt, lrs=lrs, step=step, train_args=extra, epoch=int(m.group(1)) if m else None
    )


def read_accelerate_run(path: Path) -> Run:
    """Read the project directory at ``path``.

    The number of processes is the count of ``random_states_*.pkl`` files of the newest
    checkpoint; the scheduler's ``last_epoch`` there counts scheduler steps, which a prepared
    scheduler takes ``num_processes`` at a time.

    Raises:
        NotARunError: No event file below ``path``.
        InputError: An event file is malformed, or none holds an LR tag.
    """
    notes: list[str] = []
    facts = [_checkpoint(ck, notes) for ck in checkpoint_dirs(path)]
    config: dict[str, Any] = {}
    if facts:
        last = facts[-1].train_args
        config["num_processes"] = last.get("num_processes") or None
        sched = last.get("scheduler")
        if isinstance(sched, dict) and isinstance(sched.get("last_epoch"), int):
            config["scheduler_last_epoch"] = sched["last_epoch"]
            config["scheduler_checkpoint"] = facts[-1].path.name
            config["scheduler_state"] = sched
            if facts[-1].step:
                config["scheduler_steps_per_step"] = sched["last_epoch"] / facts[-1].step
                config["optimizer_steps_at_checkpoint"] = facts[-1].step
    return read_tb_run(path, "accelerate", checkpoints=facts, config=config, notes=notes)


__all__ = ["checkpoint_dirs", "read_accelerate_run", "recognises"]
