"""``resume-without-optimizer-state``: the first resumed row at ``lr0``, then the curve of the new settings.

A stripped or optimizer-less checkpoint makes the trainer build a fresh optimizer from the
hyperparameters: the first resumed row sits at ``lr0`` itself, and from the next row the LR follows
the schedule of the settings now in force. (The same row at ``lr0`` followed by the *old* curve is
``scheduler-built-after-load``, the next rule.)
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.diagnosis.departures.common import (
    checkpoint_lines,
    config_name,
    curve,
    epoch_of,
    finding,
    lr_end_target,
    ok,
    ref_column,
)
from lrguard.diagnosis.departures.step import Outcome, Step
from lrguard.diagnosis.departures.stretch import Stretch, fit_stretch
from lrguard.model import Cause


def without_optimizer_state(
    ctx: Context, i: int, cur: Stretch, prev: Stretch | None, base: float
) -> tuple[int | None, int | None, np.ndarray, list[str]] | None:
    """Whether the up-step at row ``i`` is a resume with a fresh optimizer.

    Returns ``(E before, E after, predicted curve, evidence)``, or ``None``.

    Row ``i`` must sit at ``lr0`` (the LR a freshly built optimizer starts with), the rows before it
    well below, and the rows after it must follow one schedule below ``lr0`` that is not the one the
    rows before followed (that case, the old curve resumed, is M10).
    """
    obs = ctx.obs
    if prev is None or i < 1 or cur.rows.size < 2 or not ctx.close(float(obs[i]), base, 3 * ctx.tol):
        return None
    if ctx.spec.epochs < int(ctx.epoch_index[i]):
        return None  # epochs below the epoch reached: the fine-tune extension (M4) rebuilt the schedule
    if not obs[i - 1] < base * (1 - 10 * ctx.tol):
        return None
    after = cur.rows[1:]
    if not np.all(obs[after] < base * (1 - ctx.tol)):
        return None
    fit = fit_stretch(ctx, after)
    spec = ctx.spec
    if ok(fit.cfg_err, ctx):
        e_after, predicted = spec.epochs, curve(ctx, spec, base)
        follows = f"the plan of {config_name(ctx)} (epochs: {spec.epochs})"
    elif ok(fit.epochs_err, ctx) and fit.epochs_fit is not None:
        e_after, predicted = fit.epochs_fit, curve(ctx, spec.with_(epochs=fit.epochs_fit), base)
        follows = f"a schedule over {fit.epochs_fit} epochs with lr0 {base:.6g}"
    else:
        return None
    old = prev.epochs_fit if ok(prev.epochs_err, ctx) else (spec.epochs if ok(prev.cfg_err, ctx) else None)
    if old is not None and old == e_after:
        return None  # the old curve goes on: not a change of settings
    lines = [
        f"{ref_column(ctx)} {obs[i]:.6g} on the first resumed row is lr0 itself: the optimizer was built fresh from the "
        "hyperparameters, not restored from the checkpoint (a stripped or optimizer-less checkpoint)",
        f"from the next row the LR follows {follows}"
        + (f"; before the resume it followed {old} epochs" if old is not None else ""),
    ]
    return old, e_after, predicted, lines


def rule(step: Step) -> Outcome | None:
    """A resume with a fresh optimizer whose new settings changed the curve."""
    if step.down:
        return None
    ctx, i = step.ctx, step.i
    found = without_optimizer_state(ctx, i, step.cur, step.prev, step.base)
    if found is None:
        return None
    e_old, e_after, predicted, lines = found
    evidence = [step.head, *lines]  # row i itself is the first resumed epoch: no restored LR on it
    data = {
        **step.data,
        "resume_epoch": epoch_of(ctx, i),
        "lr0": step.base,
        "implied_epochs_before": e_old,
        "implied_epochs_after": e_after,
    }
    remaining = max((e_after or ctx.spec.epochs) - int(ctx.epoch_index[i]), 1)
    f = finding(
        ctx,
        Cause.RESUME_WITHOUT_OPTIMIZER_STATE,
        i,
        f"resumed at epoch {epoch_of(ctx, i)} without the optimizer state: the first resumed epoch ran at "
        f"lr0 {step.base:.6g}, then the schedule of the new settings",
        evidence + checkpoint_lines(ctx),
        fixes.resume_without_optimizer_state(ctx.run, step.lr_before, lr_end_target(ctx), remaining),
        data,
    )
    return Outcome([f], explained=predicted)
