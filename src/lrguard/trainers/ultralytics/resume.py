"""What ``model.train(resume=True)`` does to the LR, for ``lrguard ckpt show`` (the checkpoint's resume verdict).

Ultralytics takes ``train_args`` from the checkpoint (edits of the run's ``args.yaml`` are ignored),
so a resume is seamless unless ``time=`` re-plans the epochs while training. A stripped file is not
resumable: Ultralytics starts a new training. The shared check is
:mod:`lrguard.checkpoint.epoch_resume`; the version's maths is its profile (:mod:`.profiles`,
chosen from the ``version`` the checkpoint records).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.epoch_resume import ConfigEffect, EpochRules
from lrguard.checkpoint.resume import REFUSE, ResumeReport, load_yaml, num, show


class UltralyticsResume(EpochRules):
    """``resume=True`` of Ultralytics' trainer."""

    label = "Ultralytics"
    command = "resume=True"
    batch_key = "batch"

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
        diffs = [
            f"{k}: checkpoint {show(sched[k])} vs args.yaml {show(cfg_sched[k])}"
            for k in ("epochs", "lr0", "lrf", "cos_lr")
            if cfg_sched[k] is not None and cfg_sched[k] != sched[k]
        ]
        if diffs:
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
