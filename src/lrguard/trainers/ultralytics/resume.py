"""What ``model.train(resume=True)`` does to the LR, for ``lrguard ckpt show`` (the checkpoint's resume verdict).

Ultralytics takes ``train_args`` from the checkpoint (edits of the run's ``args.yaml`` are ignored),
so a resume is seamless unless ``time=`` re-plans the epochs while training. A stripped file is not
resumable: Ultralytics starts a new training. The shared check is
:mod:`lrguard.checkpoint.epoch_resume`; the version's maths is its profile (:mod:`.profiles`,
chosen from the ``version`` the checkpoint records).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.epoch_resume import ConfigEffect, EpochRules, implied_epochs
from lrguard.checkpoint.resume import JUMP, REFUSE, REL_TOL, SEAMLESS, ResumeReport, load_yaml, num, show

_SCHEDULE_KEYS = ("epochs", "lr0", "lrf", "cos_lr")


class UltralyticsResume(EpochRules):
    """``resume=True`` of Ultralytics' trainer."""

    label = "Ultralytics"
    command = "resume=True"
    batch_key = "batch"
    #: args.yaml's schedule (written when the run started), once :meth:`read_config` has read it.
    started_with: dict[str, Any] | None = None

    def schedule_args(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "epochs": num(args.get("epochs")),
            "lr0": num(args.get("lr0")),
            "lrf": num(args.get("lrf")),
            "warmup_epochs": num(args.get("warmup_epochs")),
            "cos_lr": bool(args.get("cos_lr", False)),
            "time": num(args.get("time")),
        }

    def stripped(self, args: dict[str, Any], sched: dict[str, Any]) -> ResumeReport:
        rep = ResumeReport(
            REFUSE,
            f"{self.command} from this file will not continue the run: it is stripped (finished training). "
            "Ultralytics says it is not resumable and starts a NEW training.",
        )
        wbl = num(args.get("warmup_bias_lr"))
        lr0 = sched["lr0"]
        rep.details.append(
            "Training on from these weights (--weights / YOLO(file).train()) starts a fresh schedule with "
            f"warmup: the bias group restarts at warmup_bias_lr={wbl if wbl is not None else 0.1:g} and the "
            f"other groups ramp up to lr0={lr0 if lr0 is not None else 0.01:g}."
        )
        return rep

    def replans_epochs(self, sched: dict[str, Any]) -> bool:
        return bool(sched["time"])

    def read_config(self, run_dir: Path, sched: dict[str, Any], report: ResumeReport) -> ConfigEffect | None:
        name = C.ULTRALYTICS_ARGS_YAML
        cfg, why_not = load_yaml(run_dir / name)
        if cfg is None:
            report.details.append(
                f"{name} in the run directory {why_not}; resume=True uses the checkpoint's train_args anyway."
            )
            return None
        cfg_sched = self.schedule_args(cfg)
        self.started_with = cfg_sched
        diffs = [
            f"{k}: checkpoint {show(sched[k])} vs args.yaml {show(cfg_sched[k])}"
            for k in _SCHEDULE_KEYS
            if cfg_sched[k] is not None and cfg_sched[k] != sched[k]
        ]
        # when the stored LR disagrees with train_args, the difference is the edit (edited_after_save)
        if diffs and "implied_epochs" not in report.schedule:
            report.details.append(
                "args.yaml differs from the checkpoint (" + "; ".join(diffs) + "); resume=True uses the "
                "checkpoint's train_args, so these edits are ignored."
            )
        return None

    def before_resume(self, sched: dict[str, Any], report: ResumeReport) -> None:
        if sched["time"]:
            report.details.append(
                f"time={sched['time']:g} h: Ultralytics re-plans epochs from the measured epoch time "
                "after every epoch, so the LR follows a moving schedule after resuming."
            )

    def saved_schedule(self, ratio: float, epoch: int, sched: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
        """The schedule the optimizer state was saved by, when train_args no longer describe it.

        Ultralytics writes train_args and the optimizer from the same arguments, so a stored
        ``lr / initial_lr`` that train_args' schedule does not give means train_args were edited
        after the save. args.yaml (written when the run started) names the original schedule when
        its ``lf`` gives the stored ratio; else a whole number of total epochs that gives it does.

        Returns:
            The saved schedule (``epochs``, ``lr0``, ``lrf``, ``cos_lr``) and where it was read, or ``None``.
        """
        stored_at = epoch - self.profile.checkpoint_lr_lag
        cfg = self.started_with
        if cfg is not None and cfg.get("epochs") and cfg.get("lrf") is not None:
            old = {k: cfg[k] if cfg.get(k) is not None else sched[k] for k in _SCHEDULE_KEYS}
            if math.isclose(ratio, self.lf(stored_at, old["epochs"], old["lrf"], old["cos_lr"]), rel_tol=REL_TOL):
                return old, C.ULTRALYTICS_ARGS_YAML
        implied = implied_epochs(ratio, stored_at, sched["lrf"], sched["cos_lr"], self.profile.linear_offset)
        if implied is not None and round(implied) > epoch + 1 and math.isclose(implied, round(implied), rel_tol=1e-3):
            return {**sched, "epochs": float(round(implied))}, "the optimizer's lr/initial_lr"
        return None

    def edited_after_save(
        self, report: ResumeReport, ratio: float, epoch: int, sched: dict[str, Any], base: float
    ) -> bool:
        """The verdict on a checkpoint whose train_args were edited after it was saved (resume=True honours them)."""
        saved = self.saved_schedule(ratio, epoch, sched)
        if saved is None:
            return False
        old, where = saved
        diffs = [
            f"{k}: {where} {show(old[k])} -> train_args {show(sched[k])}" for k in _SCHEDULE_KEYS if old[k] != sched[k]
        ]
        reason = (
            "the checkpoint's train_args were edited after it was saved (" + "; ".join(diffs) + "); "
            f"{self.command} takes every schedule setting from them"
        )
        report.problems.clear()  # the inconsistency is explained: the edit
        start = epoch + 1
        before = (old["lr0"] or base) * self.first_resumed(start, old["epochs"], old["lrf"], old["cos_lr"])
        after = (sched["lr0"] or base) * self.first_resumed(start, sched["epochs"], sched["lrf"], sched["cos_lr"])
        if math.isclose(before, after, rel_tol=1e-3):
            report.verdict = SEAMLESS
            report.summary = (
                f"{self.command} continues the LR schedule without a jump (train_args edited but the LR agrees)."
            )
            return True
        report.verdict = JUMP
        direction = "up" if after > before else "down"
        report.jump = {"epoch": start, "lr_before": before, "lr_after": after, "reason": reason}
        report.summary = (
            f"{self.command} from this file jumps the LR {direction} to {after:.6g} (instead of {before:.6g}) at "
            f"epoch {self.trainer_epoch(start)}: {reason}."
        )
        return True
