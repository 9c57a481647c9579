"""Warmup findings.

The normal ramp (info), warmup re-entered after a resume (M11), and bias warmup applied to the
wrong param group (M9).
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.model import Cause, Finding, Severity
from lrguard.schedules.curve import nw_of


def detect_warmup(ctx: Context) -> list[Finding]:
    """Describe each fresh run's warmup, and flag warmup continued across a resume."""
    out: list[Finding] = []
    run, prof = ctx.run, ctx.profile
    for s in ctx.sessions:
        rows = np.nonzero(ctx.in_warmup[s.first_row : s.last_row + 1])[0] + s.first_row
        if rows.size == 0:
            continue
        i = int(rows[0])
        spec = ctx.spec_at(i)  # an appended run has its own warmup
        nw = nw_of(spec, prof)
        if s.start in ("start", "restart") and ctx.epoch_index[i] == 0:
            last = int(rows[-1])
            b = prof.warmup_bias_group if prof.warmup_bias_group < run.n_groups else 0
            ev = [
                f"rows epoch {int(run.epochs[i])}..{int(run.epochs[last])}: "
                + (
                    f"{nw} warmup iterations ({spec.nb} batches per epoch as the warmup rows imply, warmup_epochs "
                    f"{spec.warmup_epochs:g}" + (f", floor {prof.warmup_floor}" if prof.warmup_floor else "") + ")"
                    if spec.nb
                    else "the LR ramp"
                ),
                f"{run.lr_columns[b]} falls from warmup_bias_lr {spec.warmup_bias_lr:g} towards lr0 while the "
                "other groups rise from 0 (normal)"
                if spec.warmup_bias_lr > 0
                else "all groups rise from 0 (warmup_bias_lr is 0)",
            ]
            out.append(
                Finding(
                    cause=Cause.WARMUP,
                    severity=Severity.INFO,
                    epoch=int(run.epochs[i]),
                    row=i,
                    title=f"warmup over the first {last - i + 1} epoch(s)",
                    evidence=ev,
                    data={"warmup_iterations": nw, "batches_per_epoch": spec.nb},
                )
            )
        elif s.start == "resume":
            out.append(
                Finding(
                    cause=Cause.WARMUP_REENTERED_ON_RESUME,
                    severity=Severity.INFO,
                    epoch=int(run.epochs[i]),
                    row=i,
                    title=f"resumed inside warmup at epoch {int(run.epochs[i])}: warmup continues (correct)",
                    evidence=[
                        f"warmup lasts {nw} iterations; the resumed epoch still contains warmup iterations, so the "
                        "bias group is still above lr0 in a merged plot"
                    ],
                )
            )
    return out


def detect_wrong_bias_group(ctx: Context) -> list[Finding]:
    """M9: warmup_bias_lr applied to a weight group (versions with that bug)."""
    prof = ctx.profile
    if prof.warmup_bias_group == prof.bias_group or ctx.spec.warmup_bias_lr <= 0:
        return []
    first = ctx.sessions[0]
    if ctx.epoch_index[first.first_row] != 0 or not ctx.in_warmup[first.first_row]:
        return []
    i = first.first_row
    g, b = prof.warmup_bias_group, prof.bias_group
    if g >= ctx.run.n_groups or b >= ctx.run.n_groups:
        return []
    run = ctx.run
    if not run.lr[i, g] > 1.5 * max(run.lr[i, b], 1e-30):
        return []
    return [
        Finding(
            cause=Cause.BIAS_WARMUP_WRONG_GROUP,
            severity=Severity.WARNING,
            epoch=int(run.epochs[i]),
            row=i,
            title=f"warmup_bias_lr went to the {prof.group_names[g]} group ({run.lr_columns[g]}), not the biases",
            evidence=[
                f"{prof.label}: group {g} holds {prof.group_names[g]}, the biases are group {b}",
                f"first row: {run.lr_columns[g]} {run.lr[i, g]:.6g} (starts at warmup_bias_lr "
                f"{ctx.spec.warmup_bias_lr:g}, {ctx.spec.warmup_bias_lr / max(ctx.spec.lr0, 1e-30):.0f}x lr0), "
                f"{run.lr_columns[b]} {run.lr[i, b]:.6g}",
            ],
            fix=fixes.wrong_bias_group(run),
        )
    ]
