"""What resuming a plain PyTorch loop from a ``torch.save``'d training checkpoint does to the LR.

A loop saves a dict such as ``{"model": ..., "optimizer": optimizer.state_dict(), "scheduler":
scheduler.state_dict(), "step": n}`` and resumes by loading each part. The verdict assumes the
conventional resume (optimizer and scheduler constructed, then their state loaded) and is the
shared check of :mod:`lrguard.checkpoint.scheduler_resume`: the scheduler's closed form rebuilt from
the saved state, the LR of the first resumed step, a schedule already past its end, and the
restart that follows when no scheduler state was saved.
"""

from __future__ import annotations

from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.facts import as_dict
from lrguard.checkpoint.plain import to_plain
from lrguard.checkpoint.resume import ResumeReport, SavedState
from lrguard.checkpoint.scheduler_resume import ResumeWords, scheduler_verdict

RESUME = "a resume that loads the optimizer and scheduler state"
#: What the verdict assumes of the script (checked against real torch in tests/test_trainers_torch_resume.py).
ORDER = (
    "this assumes the scheduler is constructed before optimizer.load_state_dict(): one constructed after it "
    "applies its first-step factor to the restored LR (LinearLR x start_factor, ConstantLR x factor, a LambdaLR "
    "warmup x lambda(0), OneCycleLR from max_lr / div_factor), and the first resumed step trains at that LR."
)


def _first(d: dict[Any, Any], keys: tuple[str, ...]) -> tuple[str, dict[str, Any]] | None:
    for key in keys:
        sd = as_dict(d.get(key))
        if sd:
            plain = to_plain(sd)
            if isinstance(plain, dict):
                return key, plain
    return None


def is_training_checkpoint(root: Any) -> bool:
    """A dict holding an optimizer or scheduler state under the keys a loop uses (not a bare state_dict)."""
    d = as_dict(root) or {}
    opt = _first(d, C.TORCH_OPTIMIZER_KEYS)
    return (opt is not None and isinstance(opt[1].get(C.CKPT_PARAM_GROUPS), list)) or (
        _first(d, C.TORCH_SCHEDULER_KEYS) is not None
    )


def torch_verdict(state: SavedState, no_scheduler_fix: str) -> ResumeReport:
    """The verdict on a loop's training checkpoint.

    Args:
        state: The file as the inspector read it (``state.root`` is the saved dict).
        no_scheduler_fix: The trainer's fix text for a scheduler that was not saved or restored.
    """
    d = as_dict(state.root) or {}
    opt = _first(d, C.TORCH_OPTIMIZER_KEYS)
    sched = _first(d, C.TORCH_SCHEDULER_KEYS)
    step = next(
        (int(d[k]) for k in C.TORCH_STEP_KEYS if isinstance(d.get(k), int) and not isinstance(d.get(k), bool)), None
    )
    rep = scheduler_verdict(
        opt[1] if opt else None,
        sched[1] if sched else None,
        ResumeWords(resume=RESUME, no_scheduler_fix=no_scheduler_fix, order=ORDER if sched else ""),
        step=step,
    )
    saved = [
        f"{what} under {key!r}"
        for what, found in (("optimizer", opt), ("scheduler", sched))
        if found
        for key in [found[0]]
    ]
    if saved:
        rep.details.insert(0, "saved: " + ", ".join(saved) + (f", step {step}" if step is not None else "") + ".")
    return rep
