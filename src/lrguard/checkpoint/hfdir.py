"""Hugging Face Trainer checkpoint directories (``checkpoint-N/``), read without executing anything.

A directory holds ``trainer_state.json`` (``global_step``, ``epoch``, ``max_steps``, ``log_history``
with ``learning_rate``), ``optimizer.pt``, ``scheduler.pt`` (a ``LambdaLR``-style ``state_dict``:
``last_epoch``, ``_step_count``, ``_last_lr``, ``base_lrs``), ``scaler.pt``, ``rng_state*.pth``,
``training_args.bin`` and the weights (``model.safetensors`` or ``pytorch_model.bin``). The pickled
files are read with lrguard's non-executing reader. Resume is seamless when the scheduler position
equals ``global_step`` and its last LR equals the optimizer's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.archive import load
from lrguard.checkpoint.facts import as_dict, param_groups
from lrguard.errors import InputError

TRAINER_STATE = C.HF_TRAINER_STATE
PICKLED = (C.HF_OPTIMIZER, C.HF_SCHEDULER, C.HF_SCALER, C.HF_TRAINING_ARGS, C.HF_MODEL_BIN)


def is_hf_dir(path: Path) -> bool:
    """Whether ``path`` is an HF Trainer checkpoint directory."""
    return path.is_dir() and (path / TRAINER_STATE).exists()


def inspect_dir(path: Path) -> dict[str, Any]:
    """Describe an HF checkpoint directory.

    Returns:
        ``{"has", "global_step", "epoch", "max_steps", "param_groups", "scheduler", "resume",
        "files", "unreadable", "loaded"}`` where ``loaded`` maps file name ->
        :class:`~lrguard.checkpoint.archive.Loaded`.

    Raises:
        InputError: trainer_state.json is unreadable.
    """
    try:
        state = json.loads((path / TRAINER_STATE).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(path / TRAINER_STATE, f"unreadable ({exc})") from None
    loaded = {}
    problems: list[str] = []
    for name in PICKLED:
        f = path / name
        if f.exists():
            try:
                loaded[name] = load(f)
            except InputError as exc:
                problems.append(exc.one_line())
    rng = sorted(p.name for p in path.glob(C.HF_RNG_GLOB))
    has = {
        "model": (path / C.HF_MODEL_SAFETENSORS).exists()
        or (path / C.HF_MODEL_BIN).exists()
        or any(path.glob("model-*" + C.SAFETENSORS_SUFFIX)),
        "optimizer": C.HF_OPTIMIZER in loaded,
        "scheduler": C.HF_SCHEDULER in loaded,
        "scaler": C.HF_SCALER in loaded,
        "rng": bool(rng),
        "training_args": C.HF_TRAINING_ARGS in loaded,
        "trainer_state": True,
    }
    groups = param_groups(loaded[C.HF_OPTIMIZER].root) if C.HF_OPTIMIZER in loaded else []
    sched = as_dict(loaded[C.HF_SCHEDULER].root) if C.HF_SCHEDULER in loaded else None
    step = state.get("global_step")
    logged = [h.get("learning_rate") for h in state.get("log_history", []) if "learning_rate" in h]
    resume: dict[str, Any] = {"verdict": "unknown", "details": [], "problems": list(problems)}
    unreadable = list(problems)
    if sched is not None:
        last_epoch = sched.get("last_epoch")
        last_lr = sched.get("_last_lr")
        resume["details"].append(f"scheduler last_epoch={last_epoch}, global_step={step}")
        if isinstance(last_epoch, int) and isinstance(step, int) and last_epoch != step:
            resume["problems"].append(
                f"scheduler position {last_epoch} != global_step {step}: the LR will jump on resume"
            )
        opt_lrs = [g.get("lr") for g in groups]
        if (
            isinstance(last_lr, list)
            and opt_lrs
            and len(last_lr) == len(opt_lrs)
            and not all(
                isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-6)
                for a, b in zip(last_lr, opt_lrs, strict=True)
            )
        ):
            resume["problems"].append(f"scheduler _last_lr {last_lr} != optimizer lr {opt_lrs}")
    missing = [k for k in ("optimizer", "scheduler", "rng") if not has[k]]
    if not (path / C.HF_SCHEDULER).exists() and isinstance(step, int) and step > 0:
        resume["problems"].append(
            f"no {C.HF_SCHEDULER} (save_only_model=True?): resume_from_checkpoint builds a fresh scheduler, so "
            f"the LR schedule starts again from step 0 (warmup included) while training continues at step "
            f"{step}: the LR will jump"
            + (f" from {logged[-1]:.6g}" if logged and isinstance(logged[-1], int | float) else "")
        )
    if missing:
        resume["problems"].append("missing for an exact resume: " + ", ".join(missing))
    if resume["problems"]:
        resume["verdict"] = "jump" if any("jump" in p for p in resume["problems"]) else "incomplete"
        resume["summary"] = "resume_from_checkpoint will not continue exactly: " + "; ".join(resume["problems"])
    else:
        resume["verdict"] = "seamless"
        resume["summary"] = (
            f"resume_from_checkpoint continues at step {step}: optimizer, scheduler and RNG state are consistent"
        )
    return {
        "has": has,
        "global_step": step,
        "epoch": state.get("epoch"),
        "max_steps": state.get("max_steps"),
        "last_logged_lr": logged[-1] if logged else None,
        "param_groups": [
            {"index": j, "lr": g.get("lr"), "initial_lr": g.get("initial_lr")} for j, g in enumerate(groups)
        ],
        "scheduler": {k: sched.get(k) for k in ("last_epoch", "_step_count", "_last_lr", "base_lrs")}
        if sched
        else None,
        "resume": resume,
        "files": sorted(p.name for p in path.iterdir()),
        "unreadable": unreadable,
        "loaded": loaded,
    }
