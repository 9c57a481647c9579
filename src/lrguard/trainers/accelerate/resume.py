"""What ``accelerator.load_state(dir)`` does to the LR: the verdict on a ``save_state`` directory.

A ``save_state`` directory (accelerate 1.x) holds ``model.safetensors`` (or ``pytorch_model.bin``),
``optimizer.bin`` and ``scheduler.bin`` (``optimizer_<i>.bin`` / ``scheduler_<i>.bin`` for further
ones), ``random_states_<rank>.pkl`` per process, ``scaler.pt`` with mixed precision and
``custom_checkpoint_<i>.pkl`` for each object registered with ``register_for_checkpointing`` (a loop's
own step counter). ``load_state`` restores every prepared object, so the LR continues when the
scheduler was prepared; the shared check is :mod:`lrguard.checkpoint.scheduler_resume`. A prepared
scheduler steps once per process for every optimizer step (``split_batches=False``), which the
verdict reads off ``last_epoch`` against the saved step counter and the number of RNG files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.facts import as_dict
from lrguard.checkpoint.plain import to_plain
from lrguard.checkpoint.resume import ResumeReport, SavedState
from lrguard.checkpoint.scheduler_resume import ResumeWords, scheduler_verdict
from lrguard.checkpoint.statedir import StateDir

KIND = "accelerate"
FORMAT = "accelerate-state-dir"
#: What ``load_state`` needs for an exact resume (the scheduler only where one drove the optimizer).
NEEDS = ("model", "optimizer", "rng")


def state_dir(path: Path) -> StateDir | None:
    """The files of a ``save_state`` directory, or ``None`` when ``path`` is not one."""
    try:
        if not path.is_dir():
            return None
        names = {p.name: p for p in path.iterdir() if p.is_file()}
    except OSError:
        return None

    def glob(pattern: str) -> list[Path]:
        return sorted(path.glob(pattern))

    optimizers, schedulers, rng = (
        glob(C.ACCELERATE_OPTIMIZER_GLOB),
        glob(C.ACCELERATE_SCHEDULER_GLOB),
        glob(C.ACCELERATE_RNG_GLOB),
    )
    models = glob(C.ACCELERATE_MODEL_SAFETENSORS_GLOB) + glob(C.ACCELERATE_MODEL_BIN_GLOB)
    if not (optimizers or schedulers or rng):
        return None
    pickled = [*optimizers, *schedulers, *rng, *glob(C.ACCELERATE_CUSTOM_GLOB), *glob(C.ACCELERATE_SAMPLER_GLOB)]
    pickled += glob(C.ACCELERATE_MODEL_BIN_GLOB)
    if C.ACCELERATE_SCALER in names:
        pickled.append(names[C.ACCELERATE_SCALER])
    has = {
        "model": bool(models),
        "optimizer": bool(optimizers),
        "scheduler": bool(schedulers),
        "rng": bool(rng),
        "scaler": C.ACCELERATE_SCALER in names,
        "custom_state": bool(glob(C.ACCELERATE_CUSTOM_GLOB)),
    }
    return StateDir(kind=KIND, format=FORMAT, pickled=tuple(pickled), has=has, needs=NEEDS)


def _plain(files: dict[str, Any], name: str) -> dict[str, Any] | None:
    d = as_dict(files.get(name))
    plain = to_plain(d) if d else None
    return plain if isinstance(plain, dict) else None


def saved_step(files: dict[str, Any]) -> int | None:
    """The loop's own step counter, from the first registered object that holds an integer ``step``."""
    for name in sorted(n for n in files if n.startswith("custom_checkpoint_")):
        d = as_dict(files[name]) or {}
        step = d.get("step")
        if isinstance(step, int) and not isinstance(step, bool):
            return step
    return None


def accelerate_verdict(state: SavedState, no_scheduler_fix: str, steps_fix: Any) -> ResumeReport:
    """The verdict on a ``save_state`` directory.

    Args:
        state: The directory as the inspector read it (``state.files``: walked pickled files by name).
        no_scheduler_fix: The trainer's fix for a scheduler that was not prepared or not saved.
        steps_fix: ``n -> fix text`` for a prepared scheduler stepped ``n`` times per optimizer step.
    """
    files = state.files
    n_proc = sum(1 for n in files if n.startswith("random_states_"))
    step = saved_step(files)
    sched = _plain(files, C.ACCELERATE_SCHEDULER)
    last_epoch = sched.get("last_epoch") if sched else None
    per_step = 1
    if step and isinstance(last_epoch, int) and n_proc > 1 and last_epoch == step * n_proc:
        per_step = n_proc
    rep = scheduler_verdict(
        _plain(files, C.ACCELERATE_OPTIMIZER),
        sched,
        ResumeWords(
            resume="`accelerator.load_state()`",
            no_scheduler_fix=no_scheduler_fix,
            steps_fix=steps_fix(per_step) if per_step > 1 else "",
        ),
        step=step,
        scheduler_steps_per_step=per_step,
    )
    rep.schedule["num_processes"] = n_proc or None
    rep.details.insert(
        0,
        f"saved by {n_proc or 'an unknown number of'} process{'es' if n_proc != 1 else ''} (random_states_*.pkl)"
        + (f"; the loop's registered step counter is {step}" if step is not None else "; no registered step counter")
        + ".",
    )
    extra = sorted(n for n in files if n.startswith(("optimizer_", "scheduler_")))
    if extra:
        rep.details.append(f"further prepared objects not checked here: {', '.join(extra)}.")
    return rep
