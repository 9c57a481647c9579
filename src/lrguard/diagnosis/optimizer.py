"""Ultralytics ``optimizer=auto``: which optimizer and lr0 the trainer really used (M8)."""

from __future__ import annotations

from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.model import Cause, Finding, Severity
from lrguard.trainers import get_trainer


def detect_auto_optimizer(ctx: Context) -> list[Finding]:
    """Info: optimizer=auto ignored lr0 and picked its own optimizer and LR."""
    run = ctx.run
    if not get_trainer(run.framework).trainer_chooses_lr0(run.config):
        return []
    chosen = next(
        (
            str(f.train_args.get("optimizer"))
            for f in run.checkpoints
            if f.train_args and str(f.train_args.get("optimizer", "auto")).lower() != "auto"
        ),
        None,
    )
    asked = run.config.get("lr0", 0.01)
    ev = [
        f"args.yaml: optimizer: auto, lr0: {asked} (written before the optimizer is built)",
        f"the logged LR implies lr0 = {ctx.spec.lr0:.6g}" + (f" with {chosen}" if chosen else ""),
        "optimizer=auto also forces warmup_bias_lr to 0, so every group ramps up from 0",
    ]
    return [
        Finding(
            cause=Cause.AUTO_OPTIMIZER_SWITCH,
            severity=Severity.INFO,
            epoch=int(run.epochs[0]),
            row=0,
            title=f"optimizer=auto chose {chosen or 'its own optimizer'} with lr0 {ctx.spec.lr0:.6g}; lr0 {asked} was ignored",
            evidence=ev,
            fix=fixes.auto_optimizer(run, chosen, ctx.spec.lr0),
        )
    ]
