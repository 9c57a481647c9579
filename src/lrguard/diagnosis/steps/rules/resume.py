"""What a resume did to the LR: seamless, the schedule restarted, one value repeated or skipped, or a jump.

At every resumed session the first resumed LR is compared with the LR the previous session's curve
would have reached at that step (the last logged value plus its trend). The settings each checkpoint
recorded (HF ``training_args.bin`` of ``checkpoint-N``) name the cause of a jump; a setting that
changed without moving the LR is reported as having had no effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, Session, Severity

#: LR agreement at a boundary, relative to the larger value (the trend extrapolation of a cosine is
#: exact to well under this over one logging interval).
REL_TOL = 0.02
#: A repeated or skipped value is the same number again (logged values round-trip): a far tighter bar.
EXACT_TOL = 1e-6
LENGTH_KEYS = ("max_steps", "num_train_epochs")
SCHEDULE_KEYS = ("learning_rate", "lr_scheduler_type", "warmup_steps", "warmup_ratio", "lr_scheduler_kwargs")


def applies(tl: Timeline) -> bool:
    """The log shows at least one resumed session."""
    return any(s.start in ("resume", "rewind") for s in tl.sessions)


def _close(a: float, b: float, scale: float, tol: float = REL_TOL) -> bool:
    return abs(a - b) <= tol * max(abs(a), abs(b)) + 1e-12 * scale


def _settings_at(tl: Timeline, step: int) -> dict[str, Any] | None:
    """The settings of the newest checkpoint saved at or before ``step``."""
    best = None
    for f in tl.run.checkpoints:
        if f.step is not None and f.step <= step and f.train_args and (best is None or f.step > (best.step or 0)):
            best = f
    return best.train_args if best is not None else None


def _changed(before: dict[str, Any] | None, after: dict[str, Any] | None, keys: tuple[str, ...]) -> list[str]:
    if not before or not after:
        return []
    return [f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in keys if k in before and before.get(k) != after.get(k)]


def _boundary(tl: Timeline, s: Session) -> Finding | None:
    lr, steps = tl.lr, tl.steps
    r = s.first_row
    earlier = np.nonzero((np.arange(tl.run.n_rows) < r) & (steps < steps[r]))[0]
    if earlier.size < 2:
        return None
    p, q = int(earlier[-1]), int(earlier[-2])
    gap = (steps[r] - steps[p]) / max(steps[p] - steps[q], 1)
    trend = lr[p] - lr[q]
    expected = lr[p] + trend * gap
    if lr[p] >= 0 > expected:
        expected = 0.0  # a decay that reaches its end extrapolates below zero; no LR goes there
    b = float(lr[r])
    step = int(steps[r])
    nxt = r + 1 if r + 1 <= s.last_row else None
    before = _settings_at(tl, int(steps[p]))
    after = _settings_at(tl, int(steps[s.last_row]))
    length = _changed(before, after, LENGTH_KEYS)
    sched = _changed(before, after, SCHEDULE_KEYS)
    where = f"{tl.where(r)} (the first resumed step)"
    base = [f"{tl.where(p)}: LR {lr[p]:.6g} before the resume; {where}: {b:.6g}"]
    data: dict[str, Any] = {"step": step, "lr_before": float(lr[p]), "lr_after": b, "expected": float(expected)}
    if _close(b, expected, tl.peak):
        if nxt is not None and not _close(float(lr[nxt]), float(expected + trend), tl.peak) and (length or sched):
            r, b = nxt, float(lr[nxt])  # HF rebuilds the schedule from the new settings one step late
            step = int(steps[r])
            base.append(f"{tl.where(r)}: {b:.6g} — the new settings take over one step after the resume")
            data.update(step=step, lr_after=b)
        else:
            changed = [c for c in sched if c.startswith("learning_rate")]
            if changed:
                return Finding(
                    cause=Cause.HYP_CHANGED_ON_RESUME,
                    severity=Severity.INFO,
                    epoch=tl.epoch_of(r),
                    row=r,
                    title=f"{changed[0]} on resume had no effect: the LR continues its old curve",
                    evidence=[
                        *base,
                        "the optimizer and scheduler state restored from the checkpoint bring the old "
                        "rates back; training_args.bin records the new value anyway",
                    ],
                    data=data,
                )
            return None
    unchanged = not (length or sched)
    if unchanged and trend != 0 and _close(b, float(lr[p]), tl.peak, EXACT_TOL):
        return Finding(
            cause=Cause.RESUME_OFF_BY_ONE,
            severity=Severity.WARNING,
            epoch=tl.epoch_of(r),
            row=r,
            title=f"the LR of step {int(steps[p])} is used again at step {step}: the scheduler is one step behind",
            evidence=[
                *base,
                f"the curve before moved by {trend:+.3g} per logged step",
                "a scheduler saved before its step of the checkpoint's step (or not stepped after the last "
                "optimizer step) resumes one step behind",
            ],
            fix="save the checkpoint after scheduler.step(): one written between optimizer.step() and "
            "scheduler.step() holds a scheduler one step behind the step counter saved with it; then restore the "
            "scheduler with load_state_dict() after building it with the default last_epoch=-1",
            data=data,
        )
    if unchanged and trend != 0 and abs(b - (expected + trend)) <= 0.1 * abs(trend):
        return Finding(
            cause=Cause.RESUME_OFF_BY_ONE,
            severity=Severity.WARNING,
            epoch=tl.epoch_of(r),
            row=r,
            title=f"one LR value is skipped at step {step}: the scheduler is one step ahead after the resume",
            evidence=[*base, f"expected {expected:.6g}; got the value one step further"],
            fix="build the scheduler with last_epoch=-1 and restore it with load_state_dict(); constructing it with "
            "last_epoch=step steps it once in the constructor",
            data=data,
        )
    start = tl.sessions[0].first_row
    m = min(4, s.last_row - r + 1)
    restarted = m >= 2 and all(_close(float(lr[r + j]), float(lr[start + j]), tl.peak) for j in range(m))
    if restarted or (b < expected and nxt is not None and lr[nxt] > b and b <= 0.5 * max(float(lr[p]), 1e-300)):
        return Finding(
            cause=Cause.SCHEDULER_BUILT_AFTER_LOAD,
            severity=Severity.WARNING,
            epoch=tl.epoch_of(r),
            row=r,
            title=f"the schedule restarted at step {step}: training resumed, the scheduler did not",
            evidence=[
                *base,
                f"the resumed LR repeats the run's first steps ({', '.join(f'{v:.3g}' for v in lr[r : r + m])})",
            ],
            fix=tl.trainer.scheduler_not_restored(),
            data=data,
        )
    if length:
        cause, what = Cause.EPOCHS_CHANGED_ON_RESUME, "; ".join(length)
    elif sched:
        cause, what = Cause.HYP_CHANGED_ON_RESUME, "; ".join(sched)
    else:
        cause, what = Cause.LR_OFF_PLAN, "no setting recorded in the checkpoints changed"
    up = b > expected
    return Finding(
        cause=cause,
        severity=Severity.WARNING,
        epoch=tl.epoch_of(r),
        row=r,
        title=f"the LR {'jumps up' if up else 'drops'} {abs(b / expected - 1) if expected else float('inf'):.0%} at the "
        f"resume (step {step}): {what}",
        evidence=[*base, f"the previous curve would have reached {expected:.6g} there"],
        fix="resume with the settings the run started with (the schedule is rebuilt from the new ones); to train "
        "longer or at another LR, start a new run from the last checkpoint's weights with the LR where it is",
        data={**data, "changed": length + sched},
    )


def explain(tl: Timeline) -> list[Finding]:
    """One finding per resumed session whose first resumed steps leave the previous curve."""
    return [f for s in tl.sessions if s.start in ("resume", "rewind") if (f := _boundary(tl, s)) is not None]
