"""The resume check of trainers that save a ``torch.optim.lr_scheduler`` state dict beside the optimizer's.

Plain PyTorch loops, Accelerate's ``save_state`` and Lightning save the scheduler's ``state_dict()``
(``last_epoch``, ``_step_count``, ``base_lrs``, ``_last_lr`` and the class's own fields such as
``T_max``) and the optimizer's (every group's ``lr`` and ``initial_lr``). A resume that loads both
continues exactly: the first resumed step trains at the ``lr`` the optimizer restores (the saved
``_last_lr``), and the next ``scheduler.step()`` moves to position ``last_epoch + 1``. This module
rebuilds the scheduler's closed form from the saved state
(:func:`lrguard.schedules.library.registry.from_torch_state_dict`, never executing anything) and says:

* whether the saved position reproduces the saved LR (``lrs(last_epoch) == _last_lr == optimizer
  lr``), and what the first resumed step and the one after it use;
* whether the schedule is already past its end (a cosine beyond ``T_max`` climbs back, a
  ``OneCycleLR`` refuses to step beyond ``total_steps``, a linear / polynomial one stays at its end);
* with no scheduler state, that a scheduler built on resume starts its schedule again from the
  first step (``jump``), unless no scheduler ever drove this optimizer (no ``initial_lr``).

What the texts call the resume and its fix comes from the trainer (:class:`ResumeWords`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrguard.checkpoint.resume import JUMP, REFUSE, SEAMLESS, UNKNOWN, ResumeReport

#: Relative tolerance between a closed form and the recursively stepped value torch saved.
REL_TOL = 1e-6


@dataclass(frozen=True)
class ResumeWords:
    """How one trainer's resume is named in the verdict texts.

    Attributes:
        resume: What the resume does, as the user writes it (``"loading model, optimizer and
            scheduler state"``).
        no_scheduler_fix: What to do when the scheduler state was not saved or not restored.
        steps_fix: What to do when the scheduler steps several times per optimizer step (empty:
            the trainer does not do that).
        order: What the verdict assumes about the order of construction and loading (a script's
            resume; empty where the trainer fixes the order).
    """

    resume: str
    no_scheduler_fix: str
    steps_fix: str = ""
    order: str = ""


def _floats(xs: Any) -> list[float] | None:
    if not isinstance(xs, list | tuple) or not xs:
        return None
    out = []
    for x in xs:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            return None
        out.append(float(x))
    return out


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=REL_TOL, abs_tol=1e-12) for x, y in zip(a, b, strict=True)
    )


def _g(xs: list[float]) -> str:
    return ", ".join(f"{x:.6g}" for x in xs)


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def past_end(class_name: str, sd: Mapping[str, Any], position: int) -> tuple[int, str, bool] | None:
    """``(end, what happens from there, whether stepping on fails)`` when ``position`` is past the end.

    Args:
        class_name: The scheduler class.
        sd: Its saved state dict.
        position: The saved ``last_epoch``.
    """
    if class_name == "CosineAnnealingLR" and (t := _int(sd.get("T_max"))) and position > t:
        return t, f"a cosine climbs back towards the base LR after T_max={t} (period {2 * t})", False
    if class_name == "OneCycleLR" and (t := _int(sd.get("total_steps"))):
        if position >= t:
            return t, f"torch raises on the next scheduler.step() (total_steps={t}: 'Tried to step ... times')", True
        if position == t - 1:
            return (
                t - 1,
                (
                    f"the cycle ended at last_epoch={t - 1}: the next scheduler.step() leaves it (the LR climbs back) "
                    f"and the one after raises (total_steps={t})"
                ),
                False,
            )
    if class_name in ("LinearLR", "ConstantLR", "PolynomialLR") and (t := _int(sd.get("total_iters"))) and position > t:
        return t, f"the LR stays at its final value after total_iters={t}", False
    return None


def at_end_of(class_name: str, sd: Mapping[str, Any], position: int) -> str | None:
    """What the end is when ``position`` is exactly the end of the schedule, else ``None``."""
    for cls, key in (("CosineAnnealingLR", "T_max"), ("LinearLR", "total_iters"), ("PolynomialLR", "total_iters")):
        if class_name == cls and _int(sd.get(key)) == position:
            return f"{key}={position}"
    return None


def scheduler_verdict(
    optimizer: Mapping[str, Any] | None,
    scheduler: Mapping[str, Any] | None,
    words: ResumeWords,
    *,
    step: int | None = None,
    scheduler_steps_per_step: int = 1,
) -> ResumeReport:
    """Say what a resume that loads this optimizer and scheduler state does to the LR.

    Args:
        optimizer: The saved ``optimizer.state_dict()`` as plain data (``None``: not saved).
        scheduler: The saved ``scheduler.state_dict()`` as plain data (``None``: not saved).
        words: The trainer's names for its resume and fixes.
        step: The optimizer step the checkpoint was saved at, when the trainer saved it.
        scheduler_steps_per_step: Scheduler steps per optimizer step (a scheduler prepared by
            Accelerate steps once per process); the LR after the first resumed step is the
            schedule's at ``last_epoch + scheduler_steps_per_step``.

    Returns:
        ``seamless`` (the LR continues), ``jump`` (the schedule restarts), ``refuse`` (the
        scheduler cannot step on) or ``unknown`` (inconsistent or unreadable state).
    """
    groups = optimizer.get("param_groups") if isinstance(optimizer, Mapping) else None
    groups = [g for g in groups if isinstance(g, Mapping)] if isinstance(groups, list) else []
    lrs = _floats([g.get("lr") for g in groups]) or []
    initial = [g.get("initial_lr") for g in groups]
    rep = ResumeReport(UNKNOWN, "", schedule={"lrs": lrs, "step": step})
    if not groups:
        rep.summary = f"no optimizer state: {words.resume} restarts the optimizer (momentum and moments lost)"
        rep.problems.append("no optimizer state")
        return rep
    rep.details.append(
        f"the optimizer restores {len(groups)} param group{'s' if len(groups) != 1 else ''} at lr {_g(lrs)}"
        + (f" (saved at step {step})" if step is not None else "")
        + "."
    )
    if scheduler is None:
        return _no_scheduler(rep, lrs, initial, words, step)
    return _with_scheduler(rep, optimizer, scheduler, lrs, words, step, scheduler_steps_per_step)


def _no_scheduler(
    rep: ResumeReport, lrs: list[float], initial: list[Any], words: ResumeWords, step: int | None
) -> ResumeReport:
    base = _floats(initial)
    if base is None:
        rep.verdict = SEAMLESS
        rep.summary = (
            f"{words.resume} restores the optimizer's own LR ({_g(lrs)}): no LR scheduler drove it "
            "(its param groups have no initial_lr) and none was saved"
        )
        return rep
    rep.schedule["initial_lrs"] = base
    rep.verdict = JUMP
    reason = (
        "no scheduler state was saved: a scheduler built on resume counts from its first step again while "
        "training continues"
        + (f" at step {step}" if step is not None else "")
        + f" (a closed-form one such as a LambdaLR warmup or OneCycleLR sets the LR from base LR {_g(base)} "
        "again, a recursive one such as StepLR or LinearLR re-applies the schedule's beginning to the restored LR)"
    )
    rep.jump = {"step": step + 1 if step is not None else None, "lr_before": lrs[0], "lr_after": None, "reason": reason}
    rep.problems.append("no scheduler state")
    rep.summary = f"the LR schedule restarts on resume: {reason}. Fix: {words.no_scheduler_fix}."
    return rep


def _with_scheduler(
    rep: ResumeReport,
    optimizer: Mapping[str, Any] | None,
    sd: Mapping[str, Any],
    lrs: list[float],
    words: ResumeWords,
    step: int | None,
    per_step: int,
) -> ResumeReport:
    from lrguard.schedules.library.base import NotRebuildable
    from lrguard.schedules.library.registry import from_torch_state_dict, infer_torch_class

    last_epoch = _int(sd.get("last_epoch"))
    last_lr = _floats(sd.get("_last_lr"))
    try:
        name = infer_torch_class(sd)
    except NotRebuildable as exc:
        name = None
        rep.details.append(f"scheduler class not recognised: {exc}")
    rep.schedule.update(
        {
            "scheduler": name,
            "last_epoch": last_epoch,
            "_step_count": _int(sd.get("_step_count")),
            "base_lrs": _floats(sd.get("base_lrs")),
            "_last_lr": last_lr,
        }
    )
    for key in ("T_max", "eta_min", "total_steps", "total_iters", "step_size", "gamma", "T_0", "T_mult"):
        if key in sd:
            rep.schedule[key] = sd[key]
    rep.details.append(
        f"the scheduler ({name or 'unknown class'}) restores last_epoch={last_epoch}"
        + (f", _step_count={rep.schedule['_step_count']}" if rep.schedule["_step_count"] is not None else "")
        + f", _last_lr={_g(last_lr) if last_lr else '?'}."
    )
    if last_lr is not None and lrs and not _close(last_lr, lrs):
        rep.problems.append(
            f"the scheduler's _last_lr ({_g(last_lr)}) differs from the optimizer's lr ({_g(lrs)}): the LR was set "
            "outside the scheduler, or the two states come from different points of the run"
        )
    if step is not None and last_epoch is not None and last_epoch != step * per_step:
        why = (
            "the scheduler was restarted during the run (one built after a resume and never loaded counts from 0)"
            if last_epoch < step * per_step
            else "the scheduler stepped more often than the optimizer"
        )
        rep.problems.append(
            f"scheduler position {last_epoch} != {step} optimizer steps"
            + (f" x {per_step} scheduler steps per optimizer step" if per_step != 1 else "")
            + f": {why}"
        )
    if per_step > 1 and last_epoch is not None and step is not None:
        rep.details.append(
            f"the scheduler steps {per_step} times per optimizer step (last_epoch {last_epoch} = {step} optimizer "
            f"steps x {per_step}): its lengths count scheduler steps."
        )
    schedule = None
    if name is not None and last_epoch is not None:
        try:
            schedule = from_torch_state_dict(name, sd, optimizer_state_dict=optimizer)
        except NotRebuildable as exc:
            rep.details.append(f"closed form not rebuilt ({exc}): the script's own scheduler continues from it.")
    end = past_end(name or "", sd, last_epoch) if last_epoch is not None else None
    if schedule is not None and last_epoch is not None:
        now = [float(x) for x in schedule.lrs(last_epoch)]
        nxt = [float(x) for x in schedule.lrs(last_epoch + per_step)] if not (end and end[2]) else None
        rep.schedule["closed_form_lr"] = now
        rep.schedule["next_lr"] = nxt
        ref = last_lr or lrs
        if ref and not _close(now, ref):
            rep.problems.append(
                f"{name} rebuilt from the saved state gives lr {_g(now)} at last_epoch={last_epoch}, not the saved "
                f"{_g(ref)}: the state does not describe the schedule that produced the LR"
            )
        elif nxt is not None:
            rep.details.append(
                f"the first resumed step trains at lr {_g(lrs)} (restored with the optimizer); "
                + ("scheduler.step() then sets" if per_step == 1 else f"{per_step} scheduler steps then set")
                + f" {_g(nxt)} ({name} at last_epoch={last_epoch + per_step}, its closed form rebuilt from the "
                "saved state)."
            )
    if words.order:
        rep.details.append(words.order)
    at_end = at_end_of(name or "", sd, last_epoch) if last_epoch is not None and end is None else None
    if at_end is not None:
        rep.details.append(
            f"the schedule has reached its end ({at_end}): training on from this checkpoint runs past it."
        )
    if end is not None:
        t, what, fails = end
        rep.schedule["schedule_end"] = t
        text = f"the schedule is past its end: last_epoch={last_epoch}, {what}"
        if per_step > 1 and last_epoch is not None and last_epoch == (step or 0) * per_step:
            text += f"; stepped {per_step}x per optimizer step, it ended after {t / per_step:g} optimizer steps"
            if words.steps_fix:
                text += f" (fix: {words.steps_fix})"
        rep.problems.append(text)
        if fails:
            rep.verdict = REFUSE
            rep.summary = f"{words.resume} cannot continue the schedule: {text}."
            return rep
    if any("past its end" not in p for p in rep.problems):
        rep.verdict = UNKNOWN
        rep.summary = f"{words.resume} restores a scheduler state that is inconsistent (see problems)."
        return rep
    rep.verdict = SEAMLESS
    cont = f"{words.resume} continues the LR schedule without a jump at lr {_g(lrs)}"
    if last_epoch is not None:
        cont += f" (scheduler position {last_epoch} restored)"
    rep.summary = cont + (f", but {rep.problems[0]}" if rep.problems else "")
    return rep
