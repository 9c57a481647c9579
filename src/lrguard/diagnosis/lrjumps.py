"""Departures of the logged LR from its plan within a run's lineage, and the mechanism behind each.

The post-warmup rows of the reference group are cut into *stretches* at every upward step. Each
stretch is compared with the configured schedule and fitted for the two unknowns that resume
mechanics change: the total epochs ``E`` and the base LR. The transition between two stretches is
then attributed by the rules of :mod:`lrguard.diagnosis.departures` (one module per mechanism:
M3, M4, M6, M7, M10, M13, the cosine past its end, a resume without optimizer state); the time
budget (``time=``) and the one-row blip at a resume are judged here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.diagnosis.departures import Step, explain
from lrguard.diagnosis.departures.common import (
    config_name,
    epoch_of,
    finding,
    ref_column,
    resume_note,
)
from lrguard.diagnosis.departures.stretch import Stretch, cut_stretches
from lrguard.model import Cause, Finding, Severity
from lrguard.schedules.curve import nw_of
from lrguard.schedules.fit import implied_epochs
from lrguard.trainers import get_trainer


def detect_lr_departures(ctx: Context) -> list[Finding]:
    """Explain every upward step of the reference LR after warmup (see module docstring).

    Every training run in the file (appended runs included) is examined against its own schedule.
    """
    findings: list[Finding] = []
    for k in range(len(ctx.lineages)):
        findings.extend(_departures(ctx.for_lineage(k)))
    if not ctx.lineages:
        findings.extend(_departures(ctx))
    findings.extend(_resume_blips(ctx))
    return findings


def _departures(ctx: Context) -> list[Finding]:
    stretches, ups, downs = cut_stretches(ctx)
    if not stretches:
        return []
    if get_trainer(ctx.run.framework).time_budget(ctx.run.hyp):
        return _time_budget(ctx, stretches, ups)
    obs = ctx.obs
    by_first = {s.first: k for k, s in enumerate(stretches)}
    base = ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref)
    findings: list[Finding] = []
    skip: set[int] = set()
    explained: tuple[int, np.ndarray] | None = None  # (first row, predicted LR of every row)
    for i in sorted(ups + downs):
        if i in skip:
            continue
        if explained is not None and i > explained[0] and ctx.close(float(obs[i]), float(explained[1][i]), 3 * ctx.tol):
            continue  # this step belongs to a schedule already explained
        outcome = explain(_step(ctx, i, i in downs, stretches, by_first[i], base))
        findings.extend(outcome.findings)
        skip |= outcome.skip
        explained = None if outcome.explained is None else (i, outcome.explained)
    return findings


def _step(ctx: Context, i: int, down: bool, stretches: list[Stretch], k: int, base: float) -> Step:
    """The step at row ``i`` (first row of ``stretches[k]``) with its first evidence lines."""
    lr_b, lr_a = float(ctx.obs[i - 1]), float(ctx.obs[i])
    rise = ctx.rel(lr_a, lr_b)  # inf after a logged LR of 0
    s_epoch, how = resume_note(ctx, i)
    head = (
        f"line {int(ctx.run.table.line_numbers[i])} (epoch {epoch_of(ctx, i)}): {ref_column(ctx)} "
        f"{'fell' if down else 'rose'} from {lr_b:.6g} to {lr_a:.6g} ({rise:+.1%}); the plan from "
        f"{config_name(ctx)} has {ctx.planned[i, ctx.ref]:.6g} there"
    )
    data: dict[str, Any] = {
        "lr_before": lr_b,
        "lr_after": lr_a,
        "rise": rise,
        "planned_lr": float(ctx.planned[i, ctx.ref]),
        "resume_epoch": s_epoch,
    }
    return Step(
        ctx=ctx,
        i=i,
        down=down,
        cur=stretches[k],
        prev=stretches[k - 1] if k > 0 else None,
        base=base,
        lr_before=lr_b,
        lr_after=lr_a,
        rise=rise,
        resume_epoch=s_epoch,
        head=head,
        evidence=[head] + ([how] if how else []),
        data=data,
    )


def _time_budget(ctx: Context, stretches: list[Stretch], ups: list[int]) -> list[Finding]:
    """Ultralytics ``time=``: the total epochs are re-estimated after every epoch (M7).

    Every post-warmup row implies its own total epochs; the finding points at the first row where
    that estimate grew (the schedule was stretched), or at the first upward LR step.
    """
    rows = np.array([r for s in stretches for r in s.rows], dtype=int)
    if ctx.spec.nb:
        # The row where warmup ends also shows lr0 * lf(e) of the schedule in force: include it.
        nw = nw_of(ctx.spec, ctx.profile)
        handoff = np.nonzero(ctx.in_warmup & (ctx.epoch_index * ctx.spec.nb + ctx.spec.nb - 1 > nw))[0]
        rows = np.union1d(rows, handoff).astype(int)
    base = ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref)
    implied: list[tuple[int, int]] = []
    if rows.size and base > 0:
        x = np.maximum(ctx.epoch_index[rows] - ctx.profile.log_lag, 0)
        est = implied_epochs(ctx.obs[rows] / base, x, ctx.spec.lrf, cos_lr=ctx.spec.cos_lr)
        implied = [(int(r), round(float(e))) for r, e in zip(rows, est, strict=True) if np.isfinite(e)]
    grew = next((implied[k][0] for k in range(1, len(implied)) if implied[k][1] > implied[k - 1][1]), None)
    distinct = [e for k, (_, e) in enumerate(implied) if k == 0 or e != implied[k - 1][1]]
    # The finding points at the jump: the first row whose LR rose; only a schedule that bends without
    # ever rising is located where the estimate first grew.
    if ups:
        first = ups[0]
    elif grew is not None:
        first = grew
    else:
        first = implied[0][0] if implied else stretches[0].first
    evidence = [
        f"args.yaml: time={ctx.run.hyp.get('time')} h, epochs={ctx.run.config.get('epochs')}: the trainer "
        "re-plans the total epochs from the measured epoch time after every epoch and rebuilds the scheduler",
        "total epochs implied by the logged LR, epoch by epoch: "
        + " -> ".join(str(e) for e in distinct[:14])
        + (" ..." if len(distinct) > 14 else ""),
    ]
    if grew is not None:
        evidence.append(f"the estimate first grew at epoch {epoch_of(ctx, grew)}: the schedule was stretched mid-run")
    if ups:
        evidence.append(
            f"the LR stepped up {len(ups)} time(s), first at epoch {epoch_of(ctx, ups[0])} "
            f"({ctx.obs[ups[0] - 1]:.6g} -> {ctx.obs[ups[0]]:.6g})"
        )
    evidence.append(
        "a resume restarts the time budget and re-estimates from the new session's speed, which can make the LR "
        "jump at the resumed epoch"
    )
    final = implied[-1][1] if implied else None
    moving = len(distinct) > 1 or bool(ups)
    return [
        finding(
            ctx,
            Cause.TIME_BUDGET_REESTIMATION,
            first,
            "time= re-estimates the total epochs every epoch; the LR follows a moving target"
            + (f" ({distinct[0]} -> {distinct[-1]} epochs)" if len(distinct) > 1 else ""),
            evidence,
            fixes.time_budget(ctx.run, final),
            {"implied_epochs": [e for _, e in implied]},
            Severity.WARNING if moving else Severity.INFO,
        )
    ]


def _resume_blips(ctx: Context) -> list[Finding]:
    """M13: at a known resume the first row repeats the previous LR although the plan fell."""
    out: list[Finding] = []
    if ctx.profile.resume_row_restored is False:
        return out
    for s in ctx.sessions[1:]:
        i = s.first_row
        if s.start != "resume" or i < 1 or ctx.in_warmup[i]:
            continue
        if ctx.profile.checkpoint_lr_lag and ctx.close(float(ctx.obs[i]), float(ctx.obs[i - 1])):
            out.append(
                Finding(
                    cause=Cause.RESUME_LR_BLIP,
                    severity=Severity.INFO,
                    epoch=epoch_of(ctx, i),
                    row=i,
                    title=f"the first resumed epoch ({epoch_of(ctx, i)}) repeated the previous epoch's LR",
                    evidence=[
                        f"{ref_column(ctx)} {ctx.obs[i]:.6g} equals the row before; the checkpoint held the pre-step LR"
                    ],
                )
            )
    return out
