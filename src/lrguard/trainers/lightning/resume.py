"""What ``Trainer.fit(ckpt_path=...)`` does to the LR, for ``lrguard ckpt show`` (a ``.ckpt``'s resume verdict).

A Lightning checkpoint stores ``epoch``, ``global_step``, ``optimizer_states``, ``lr_schedulers``
(each scheduler's ``state_dict``: ``last_epoch``, ``_last_lr``, ...) and ``loops``.
``Trainer.fit(ckpt_path=...)`` restores all of them, so the LR continues when the scheduler exists
and its last LR equals the optimizer's; a checkpoint without ``lr_schedulers`` restarts any
schedule from its beginning.
"""

from __future__ import annotations

import math
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.facts import as_dict, param_groups
from lrguard.checkpoint.resume import SEAMLESS, UNKNOWN, ResumeReport


def lightning_verdict(root: Any) -> ResumeReport:
    """Say what ``Trainer.fit(ckpt_path=this)`` does to the LR."""
    d = as_dict(root) or {}
    groups = param_groups(root)
    lrs = [g.get("lr") for g in groups]
    scheds = d.get(C.LIGHTNING_SCHEDULERS)
    rep = ResumeReport(UNKNOWN, "", schedule={"lrs": lrs, "epoch": d.get("epoch"), "global_step": d.get("global_step")})
    if not groups:
        rep.summary = "no optimizer state: fit(ckpt_path=...) would restart the optimizer"
        rep.problems.append("no optimizer state")
        return rep
    if not scheds:
        rep.summary = (
            "no lr_schedulers state: if the LightningModule configures a scheduler, it restarts from "
            "its first step on resume"
        )
        return rep
    opts = d.get(C.LIGHTNING_OPTIMIZERS)
    if isinstance(opts, list) and len(opts) > 1:
        return _several(opts, scheds, rep)
    s = as_dict(scheds[0]) or {}
    last_lr = s.get("_last_lr")
    rep.schedule.update({"last_epoch": s.get("last_epoch"), "_last_lr": last_lr, "base_lrs": s.get("base_lrs")})
    if (
        isinstance(last_lr, list)
        and len(last_lr) == len(lrs)
        and all(
            isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-6)
            for a, b in zip(last_lr, lrs, strict=True)
        )
    ):
        rep.verdict = SEAMLESS
        rep.summary = (
            f"fit(ckpt_path=...) restores optimizer and scheduler (last_epoch={s.get('last_epoch')}); "
            "the LR continues without a jump"
        )
    else:
        rep.problems.append(f"scheduler _last_lr {last_lr} differs from optimizer lr {lrs}")
        rep.summary = "the stored scheduler and optimizer disagree about the LR"
    return rep


def _same(a: Any, b: list[Any]) -> bool:
    return (
        isinstance(a, list)
        and len(a) == len(b)
        and all(
            isinstance(x, float) and isinstance(y, float) and math.isclose(x, y, rel_tol=1e-6)
            for x, y in zip(a, b, strict=True)
        )
    )


def _several(opts: list[Any], scheds: list[Any], rep: ResumeReport) -> ResumeReport:
    """Several optimizers (manual optimization): each saved scheduler must agree with one optimizer's LR.

    Lightning saves ``optimizer_states`` and ``lr_schedulers`` in ``configure_optimizers`` order but
    not which scheduler drives which optimizer; a scheduler is paired with the optimizer whose
    param-group LRs equal its ``_last_lr``.
    """
    lrs = [[g.get("lr") for g in param_groups({C.CKPT_OPTIMIZER: o})] for o in opts]
    rep.schedule.update({"optimizers": len(opts), "lrs_per_optimizer": lrs, "schedulers": []})
    driven: set[int] = set()
    for i, raw in enumerate(scheds):
        s = as_dict(raw) or {}
        last_lr = s.get("_last_lr")
        k = next((k for k, o in enumerate(lrs) if k not in driven and _same(last_lr, o)), None)
        rep.schedule["schedulers"].append({"last_epoch": s.get("last_epoch"), "_last_lr": last_lr, "optimizer": k})
        if k is None:
            rep.problems.append(f"scheduler {i}'s _last_lr {last_lr} matches no optimizer's lr {lrs}")
        else:
            driven.add(k)
            rep.details.append(
                f"scheduler {i} (last_epoch={s.get('last_epoch')}) drives optimizer {k}: same LR {last_lr}."
            )
    for k in range(len(opts)):
        if k not in driven:
            rep.details.append(f"optimizer {k} has no scheduler: its LR {lrs[k]} is restored as saved.")
    if rep.problems:
        rep.summary = "the stored schedulers and optimizers disagree about the LR"
        return rep
    rep.verdict = SEAMLESS
    rep.summary = (
        f"fit(ckpt_path=...) restores {len(opts)} optimizers and {len(scheds)} schedulers; "
        "every LR continues without a jump"
    )
    return rep
