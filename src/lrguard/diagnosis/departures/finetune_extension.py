"""``finetune-extension`` (M4): ``epochs`` below the epoch reached means "N more epochs" on resume.

The trainer adds the checkpoint's epoch to ``epochs`` and rebuilds the schedule: a linear schedule
now spans ``epochs + start - 1``; a cosine keeps its period and may climb back past its end
(``schedule-past-end`` for the rows where it does).
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.departures.common import (
    checkpoint_lines,
    config_name,
    finding,
    lf_x,
    lr_end_target,
    ok,
    past_end,
    rows_following,
)
from lrguard.diagnosis.departures.step import Outcome, Step
from lrguard.diagnosis.departures.stretch import max_rel
from lrguard.model import Cause


def rule(step: Step) -> Outcome | None:
    """The configured epochs are fewer than the epochs already trained at the resume."""
    ctx, i, spec = step.ctx, step.i, step.ctx.spec
    n_cfg, s_idx, base = spec.epochs, step.resume_index, step.base
    if not n_cfg < s_idx:
        return None
    ext_linear = spec.with_(epochs=n_cfg + s_idx - 1)
    x = np.maximum(ctx.epoch_index[step.cur.rows] - ctx.profile.log_lag, 0)
    cand = ext_linear if not spec.cos_lr else spec
    pred = base * cand.lf(x, ctx.profile)
    if not (ok(max_rel(ctx.obs[step.cur.rows], pred), ctx) or (spec.cos_lr and step.cur.rows.size)):
        return None
    prev = step.prev
    e_before = n_cfg if (prev is None or ok(prev.cfg_err, ctx)) else prev.epochs_fit
    kind = "cosine keeps its period" if spec.cos_lr else f"the linear schedule now spans {n_cfg + s_idx - 1}"
    step.evidence.append(
        f"{config_name(ctx)} says epochs: {n_cfg}, fewer than the {s_idx} already trained: on resume the "
        f"trainer adds the checkpoint's epoch ({s_idx - 1}) and {kind}"
    )
    data = {
        **step.data,
        "implied_epochs_before": e_before,
        "config_epochs": n_cfg,
        "implied_epochs_after": n_cfg + s_idx - 1 if not spec.cos_lr else n_cfg,
    }
    findings = [
        finding(
            ctx,
            Cause.FINETUNE_EXTENSION,
            i,
            f"resume with epochs {n_cfg} < epoch reached ({s_idx}): schedule rebuilt as '{n_cfg} more epochs'",
            step.evidence + checkpoint_lines(ctx),
            fixes.finetune_extension(ctx.run, e_before or n_cfg, n_cfg, step.lr_before, lr_end_target(ctx), s_idx),
            data,
        )
    ]
    # The rebuilt schedule explains every later row it reproduces, including the rows where a cosine
    # climbs back: those are not new departures.
    followed = rows_following(ctx, i, pred_fn=lambda rows: base * cand.lf(lf_x(ctx, rows), ctx.profile))
    if spec.cos_lr:
        findings.extend(past_end(ctx, followed, n_cfg))
    return Outcome(findings, skip=set(range(i + 1, int(followed[-1]) + 1)))
