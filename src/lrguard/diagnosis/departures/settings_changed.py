"""``epochs-changed-on-resume`` and ``hyp-changed-on-resume``: the schedule's settings differ across the step.

Two rules. *Config now followed*: the stretch after the step follows the configuration and the one
before did not, so the configuration was edited before the resume; the stretch before tells what it
said (its fitted total epochs, else its fitted ``lr0``). *Config not followed*: the stretch after the
step follows neither, but a schedule with other total epochs (or another ``lr0``) reproduces it.
"""

from __future__ import annotations

from lrguard.diagnosis.departures.common import config_name, curve, epochs_changed, hyp_changed, ok
from lrguard.diagnosis.departures.step import Outcome, Step


def config_now_followed(step: Step) -> Outcome | None:
    """The new stretch follows the configuration; the old one did not."""
    ctx, cur, prev = step.ctx, step.cur, step.prev
    if not ok(cur.cfg_err, ctx) or prev is None or ok(prev.cfg_err, ctx):
        return None
    planned = ctx.planned[:, ctx.ref]
    if ok(prev.epochs_err, ctx) and prev.epochs_fit is not None and prev.epochs_fit != ctx.spec.epochs:
        f = epochs_changed(
            ctx, step.i, prev.epochs_fit, ctx.spec.epochs, step.evidence, step.data, step.lr_before, step.resume_index
        )
        return Outcome([f], explained=planned)
    if ok(prev.base_err, ctx) and prev.base_fit is not None:
        f = hyp_changed(ctx, step.i, prev.base_fit, step.base, step.evidence, step.data, step.lr_before)
        return Outcome([f], explained=planned)
    return None


def config_not_followed(step: Step) -> Outcome | None:
    """The new stretch follows another total of epochs, or another ``lr0``, than the configuration."""
    ctx, cur, prev, spec = step.ctx, step.cur, step.prev, step.ctx.spec
    if ok(cur.cfg_err, ctx):
        return None
    n_cfg = spec.epochs
    e_before = n_cfg if (prev is None or ok(prev.cfg_err, ctx)) else prev.epochs_fit
    e_before_ok = prev is None or ok(prev.cfg_err, ctx) or ok(prev.epochs_err, ctx)
    if ok(cur.epochs_err, ctx) and cur.epochs_fit is not None and e_before_ok and cur.epochs_fit != e_before:
        if cur.epochs_fit != n_cfg:
            step.evidence.append(
                f"{config_name(ctx)} says epochs: {n_cfg}, yet the LR follows {cur.epochs_fit}: the schedule "
                "was changed in a way the run's files do not record (a patched checkpoint or trainer?)"
            )
        f = epochs_changed(
            ctx, step.i, e_before or n_cfg, cur.epochs_fit, step.evidence, step.data, step.lr_before, step.resume_index
        )
        return Outcome([f], explained=curve(ctx, spec.with_(epochs=cur.epochs_fit), step.base))
    if ok(cur.base_err, ctx) and cur.base_fit is not None:
        f = hyp_changed(ctx, step.i, step.base, cur.base_fit, step.evidence, step.data, step.lr_before)
        return Outcome([f], explained=curve(ctx, spec, cur.base_fit))
    return None
