"""Lint rules for a planned schedule: one small function per rule, each returning zero or more :class:`Lint`.

The rules look for what the mechanisms catalogue says can be seen before training starts: a cosine
evaluated past its period, ``lrf`` outside a sensible range, warmup too short or too long (the
100-iteration floor on tiny datasets), ``optimizer=auto`` overriding ``lr0``, ``time=`` re-planning,
weight decay scaled by the batch size, every planned jump and every planned step down.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lrguard.model import Severity
from lrguard.plan.scenario import Plan
from lrguard.schedules.curve import nw_of
from lrguard.trainers import get_trainer

MIN_WARMUP_ITERATIONS = 300
MAX_WARMUP_SHARE = 0.2


@dataclass(frozen=True)
class Lint:
    """One remark about a planned schedule.

    Attributes:
        rule: Stable id (used in ``--json``).
        severity: ``info``, ``warning`` or ``error``.
        title: One line.
        detail: The numbers behind it.
        fix: What to change (``None`` for pure information).
        row: Plan row it concerns, if any.
    """

    rule: str
    severity: Severity
    title: str
    detail: str = ""
    fix: str | None = None
    row: int | None = None


def _pct(rel: float) -> str:
    return f"{rel * 100:+.1f}%" if math.isfinite(rel) else "from 0"


def jumps(plan: Plan) -> list[Lint]:
    """Every planned upward jump, with its size."""
    out: list[Lint] = []
    header = get_trainer(plan.config.framework).continuation_header()
    for j in plan.jumps[:20]:
        rel = j.rel
        sev = Severity.ERROR if rel > 0.10 else Severity.WARNING if rel > 1e-3 else Severity.INFO
        others = "; ".join(f"{c} {a:.5g} -> {b:.5g}" for c, (a, b) in list(j.others.items())[:3])
        detail = f"{j.column} {j.before:.5g} -> {j.after:.5g} ({_pct(rel)}) at epoch {j.epoch}: {j.why}"
        same = j.others and all(
            b > 0 and a > 0 and abs((b / a) / (j.after / j.before) - 1) < 1e-6 for a, b in j.others.values()
        )
        if same and len(j.others) == plan.lr.shape[1] - 1:
            detail += "; every param group by the same factor"
        elif others:
            detail += f"; also {others}"
        if j.kind == "restart":
            fix = (
                "start the new run where the LR is: `lrguard continue RUN --epochs N` writes lr0/lrf and warmup off"
                + header
            )
            title = f"the new run restarts the LR: {j.column} {_pct(rel)} ({j.after / max(j.before, 1e-30):.3g}x)"
        else:
            fix = _resume_fix(plan, j.row)
            title = (
                f"LR jumps up {_pct(rel)} at epoch {j.epoch}"
                if j.span == 1
                else f"LR climbs {_pct(rel)} over {j.span} epochs from epoch {j.epoch}"
            )
        out.append(Lint("planned-jump", sev, title, detail, fix, j.row))
    if len(plan.jumps) > 20:
        out.append(Lint("planned-jump", Severity.INFO, f"{len(plan.jumps) - 20} more planned rises not listed"))
    return out


def drops(plan: Plan) -> list[Lint]:
    """Every planned downward step: the LR falls below what the schedule running until then gives."""
    out: list[Lint] = []
    for j in plan.drops[:20]:
        detail = (
            f"{j.column} {j.before:.5g} -> {j.after:.5g} ({_pct(j.rel)}) at epoch {j.epoch}, where the schedule "
            f"until then gives {j.expected:.5g}: {j.why}"
        )
        if j.others:
            detail += "; also " + "; ".join(f"{c} {a:.5g} -> {b:.5g}" for c, (a, b) in list(j.others.items())[:3])
        fix = _resume_fix(plan, j.row) if plan.segment_of_row(j.row).kind == "resume" else None
        title = f"LR steps down {_pct(j.rel)} at epoch {j.epoch} (the previous schedule gives {j.expected:.5g})"
        out.append(Lint("planned-drop", Severity.INFO, title, detail, fix, j.row))
    if len(plan.drops) > 20:
        out.append(Lint("planned-drop", Severity.INFO, f"{len(plan.drops) - 20} more planned steps down not listed"))
    return out


def _resume_fix(plan: Plan, row: int) -> str:
    seg = plan.segment_of_row(row)
    first = plan.segments[0].spec
    if seg.kind != "resume":
        return "keep one schedule for the whole run; to train longer, continue as a new run with `lrguard continue`"
    changed = [
        f"{k} {getattr(first, k)}"
        for k in ("epochs", "lr0", "lrf", "cos_lr")
        if getattr(first, k) != getattr(seg.spec, k)
    ]
    where = get_trainer(plan.config.framework).resume_keeps_settings()
    more = seg.spec.epochs - first.epochs
    tail = (
        f"; to end at {seg.spec.epochs} epochs without a jump, let the run finish and then "
        f"`lrguard continue RUN --epochs {more}` (a new run that starts at the LR where this one ends)"
        if more > 0
        else "; to change the schedule, finish (or stop) and continue with `lrguard continue RUN --epochs N`"
    )
    return f"resume with the settings the run started with ({', '.join(changed) or 'unchanged'}); {where}{tail}"


def cosine_past_period(plan: Plan) -> list[Lint]:
    """A cosine schedule trained past its period climbs back up."""
    out = []
    for seg in plan.segments:
        if not seg.spec.cos_lr:
            continue
        last_epoch = seg.start_epoch + (seg.last_row - seg.first_row)
        if last_epoch > seg.spec.epochs:
            out.append(
                Lint(
                    "cosine-past-period",
                    Severity.ERROR,
                    f"the cosine schedule is evaluated past its period ({seg.spec.epochs} epochs)",
                    f"it runs to epoch {last_epoch}; one_cycle is periodic and climbs back towards lr0 after "
                    f"epoch {seg.spec.epochs}",
                    "never extend a cosine run through resume; continue as a new run with `lrguard continue`",
                    seg.first_row + (seg.spec.epochs - seg.start_epoch)
                    if seg.spec.epochs >= seg.start_epoch
                    else seg.first_row,
                )
            )
    return out


def linear_past_end(plan: Plan) -> list[Lint]:
    """YOLOv5's linear schedule is not clamped: past its end the LR turns negative."""
    out = []
    for seg in plan.segments:
        last_epoch = seg.start_epoch + (seg.last_row - seg.first_row)
        if not seg.spec.cos_lr and not plan.config.profile.linear_clamp and last_epoch > seg.spec.epochs:
            out.append(
                Lint(
                    "linear-past-end",
                    Severity.ERROR,
                    "the linear schedule runs past its end and the LR goes below lrf (negative eventually)",
                    f"epochs {seg.spec.epochs}, last trained epoch {last_epoch}",
                    "set epochs to the number of epochs you will train",
                )
            )
    lr = plan.lr[:, plan.ref]
    if (lr < 0).any():
        row = int(np.argmax(lr < 0))
        out.append(
            Lint(
                "negative-lr", Severity.ERROR, f"the planned LR is negative from epoch {plan.epoch_label[row]}", row=row
            )
        )
    return out


def lrf_range(plan: Plan) -> list[Lint]:
    """``lrf`` is a fraction of lr0: 0 < lrf < 1, and usually 0.001 .. 0.2."""
    out = []
    seen = set()
    for seg in plan.segments:
        lrf = seg.spec.lrf
        if lrf in seen:
            continue
        seen.add(lrf)
        if lrf <= 0:
            out.append(
                Lint(
                    "lrf-range",
                    Severity.ERROR,
                    f"lrf {lrf:g} makes the LR reach {lrf:g}x lr0 (zero or below)",
                    fix="lrf is a fraction of lr0; the trainers' defaults are 0.01 (scratch-low) and 0.1",
                )
            )
        elif lrf > 1:
            out.append(
                Lint(
                    "lrf-range",
                    Severity.ERROR,
                    f"lrf {lrf:g} > 1: the LR rises over the whole run",
                    fix="lrf is the final LR as a fraction of lr0; use a value below 1",
                )
            )
        elif lrf >= 0.5 and seg.kind != "from-weights":
            out.append(Lint("lrf-range", Severity.INFO, f"lrf {lrf:g}: the LR barely decays (ends at {lrf:g}x lr0)"))
        elif lrf < 1e-3:
            out.append(
                Lint(
                    "lrf-range",
                    Severity.WARNING,
                    f"lrf {lrf:g}: the last epochs train at almost no LR",
                    fix="lrf between 0.001 and 0.2 is usual (defaults 0.01 / 0.1)",
                )
            )
    return out


def warmup_length(plan: Plan) -> list[Lint]:
    """Warmup shorter than a few hundred iterations, or longer than a large share of the run."""
    cfg = plan.config
    spec = cfg.spec
    prof = cfg.profile
    if spec.nb is None:
        return []
    nw = nw_of(spec, prof)
    total = spec.nb * spec.epochs
    out = []
    asked = round(spec.warmup_epochs * spec.nb)
    if prof.warmup_floor and asked < prof.warmup_floor and not (spec.warmup_epochs <= 0 and prof.warmup_zero_disables):
        sev = Severity.WARNING if nw > 0.05 * total else Severity.INFO
        out.append(
            Lint(
                "warmup-floor",
                sev,
                f"warmup_epochs {spec.warmup_epochs:g} x {spec.nb} batches = {asked} iterations, but the trainer warms up "
                f"at least {prof.warmup_floor} iterations ({prof.warmup_floor / spec.nb:.3g} epochs)",
                f"nw = max(round(warmup_epochs * nb), {prof.warmup_floor}) = {nw}",
                "on a tiny dataset use more images per epoch or fewer epochs of warmup; YOLOv5 cannot switch it off, "
                "so set warmup_bias_lr = lr0 to keep the bias group flat",
            )
        )
    if nw == 0:
        if spec.warmup_epochs > 0:
            return out
        out.append(Lint("warmup-off", Severity.INFO, "warmup is off: training starts at lr0 with full momentum"))
        return out
    share = nw / total if total else 0
    if nw < MIN_WARMUP_ITERATIONS and share <= MAX_WARMUP_SHARE:
        out.append(
            Lint(
                "warmup-short",
                Severity.WARNING if nw < 100 else Severity.INFO,
                f"warmup is only {nw} iterations",
                f"{spec.warmup_epochs:g} epochs x {spec.nb} batches; a few hundred iterations or more is usual from scratch",
                "raise warmup_epochs (fine-tuning from good weights can use less)",
            )
        )
    if share > MAX_WARMUP_SHARE:
        seg = plan.segments[0]
        ref = plan.ref if plan.ref < plan.lr.shape[1] else 0
        peak = float(plan.lr[seg.first_row : seg.last_row + 1, ref].max())
        base = spec.lr0 * prof.lr_scale(ref)
        never = nw >= total
        detail = (
            f"the run never leaves warmup: {plan.columns[ref]} peaks at {peak:.3g} = {peak / base:.0%} of lr0"
            if never
            else f"{plan.columns[ref]} peaks at {peak:.3g} ({peak / base:.0%} of lr0) while the decay has already moved on"
        )
        out.append(
            Lint(
                "warmup-long",
                Severity.ERROR if never else Severity.WARNING,
                f"warmup takes {share:.0%} of the run ({nw} of {total} iterations, {nw / spec.nb:.3g} epochs)",
                detail,
                (
                    f"the {prof.warmup_floor}-iteration floor cannot be lowered: use a smaller batch size (more "
                    "iterations per epoch), more images, or more epochs"
                )
                if prof.warmup_floor and asked < prof.warmup_floor
                else "train more epochs, use a larger dataset per epoch, or lower warmup_epochs",
            )
        )
    return out


def auto_optimizer(plan: Plan) -> list[Lint]:
    """``optimizer=auto`` (Ultralytics) picks the optimizer and lr0 itself."""
    cfg = plan.config
    trainer = get_trainer(cfg.framework)
    if not trainer.trainer_chooses_lr0({"optimizer": cfg.optimizer}):
        return []
    choice = None
    if cfg.images is not None and cfg.nc is not None:
        choice = trainer.auto_optimizer(cfg.images, cfg.batch, cfg.spec.epochs, cfg.nc, cfg.nbs)
    if choice is not None:
        name, lr0, detail = choice.optimizer, choice.lr0, choice.detail
        title = f"optimizer=auto picks {name} lr0={lr0:g}; your lr0={cfg.requested_lr0:g} is ignored"
    else:
        name, lr0 = None, None
        detail = "needs the dataset size (--images) and the class count (--nc) to say which"
        title = f"optimizer=auto chooses the optimizer and lr0 itself; your lr0={cfg.requested_lr0:g} may be ignored"
    detail += "; warmup_bias_lr is forced to 0; a continuation with other epochs can pick another optimizer"
    return [
        Lint(
            "auto-optimizer",
            Severity.WARNING,
            title,
            detail,
            f"name it: optimizer={name or 'SGD'} lr0={lr0 if lr0 is not None else cfg.requested_lr0:g}",
        )
    ]


def time_budget(plan: Plan) -> list[Lint]:
    """``time=`` re-estimates the total epochs after every epoch and rebuilds the schedule."""
    cfg = plan.config
    if cfg.time is None:
        return []
    return [
        Lint(
            "time-budget",
            Severity.WARNING,
            f"time={cfg.time:g} h overrides epochs={cfg.spec.epochs} and rebuilds the schedule after every epoch",
            "epochs = ceil(time * 3600 / mean epoch time) is recomputed and the scheduler rebuilt after every epoch, "
            "so the curve bends instead of following one line; within one process the LR still falls (the running mean "
            "only grows the estimate slower than the epochs pass), but a resume re-measures the speed and restarts the "
            "budget, which can step the LR up",
            "for a stable curve set epochs= explicitly (patience= stops early); `--epoch-seconds` simulates it",
        )
    ]


def weight_decay_scaling(plan: Plan) -> list[Lint]:
    """Both trainers multiply weight_decay by ``batch * accumulate / nbs``."""
    cfg = plan.config
    accumulate = max(round(cfg.nbs / cfg.batch), 1)
    factor = cfg.batch * accumulate / cfg.nbs
    if abs(factor - 1) < 1e-9:
        return []
    sev = Severity.WARNING if factor >= 4 or factor <= 0.5 else Severity.INFO
    return [
        Lint(
            "weight-decay-scaling",
            sev,
            f"weight decay is scaled x{factor:g} by the batch size: {cfg.weight_decay:g} -> {cfg.weight_decay * factor:.3g}",
            f"weight_decay *= batch {cfg.batch} x accumulate {accumulate} / nbs {cfg.nbs}; the LR is not scaled",
            "divide weight_decay by the factor if you want the nominal value" if sev is Severity.WARNING else None,
        )
    ]


def lr0_range(plan: Plan) -> list[Lint]:
    """An lr0 far from what the optimizer usually uses."""
    cfg = plan.config
    opt = cfg.optimizer.lower()
    lr0 = cfg.spec.lr0
    if opt in ("adam", "adamw", "nadam", "radam") and lr0 > 0.005:
        return [
            Lint(
                "lr0-range",
                Severity.WARNING,
                f"lr0 {lr0:g} is high for {cfg.optimizer}",
                fix="Adam-type optimizers usually use lr0 0.0001 - 0.002",
            )
        ]
    if opt == "sgd" and lr0 > 0.1:
        return [
            Lint("lr0-range", Severity.WARNING, f"lr0 {lr0:g} is high for SGD", fix="SGD usually uses lr0 0.001 - 0.02")
        ]
    return []


RULES: tuple[Callable[[Plan], list[Lint]], ...] = (
    jumps,
    drops,
    cosine_past_period,
    linear_past_end,
    lrf_range,
    warmup_length,
    auto_optimizer,
    time_budget,
    weight_decay_scaling,
    lr0_range,
)


def lint_plan(plan: Plan) -> list[Lint]:
    """Run every rule; return the lints, most severe first (stable within a severity)."""
    out: list[Lint] = []
    for rule in RULES:
        out += rule(plan)
    out.sort(key=lambda lint: -lint.severity.rank)
    plan.lints = out
    return out
