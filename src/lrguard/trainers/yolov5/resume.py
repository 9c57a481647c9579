"""What ``train.py --resume`` does to the LR, for ``lrguard ckpt show`` (the checkpoint's resume verdict).

YOLOv5 replaces every option by the run's ``opt.yaml`` (falling back to the checkpoint's ``opt``),
restores the optimizer (so the first resumed epoch runs at the stored lr) and applies the new
``lf`` from the next scheduler step: editing ``epochs``/``lr0``/``lrf`` in opt.yaml therefore jumps
the LR one epoch after resuming, and an ``epochs`` below ``epoch + 1`` becomes a "fine-tune
extension" to ``epochs + epoch``. A broken opt.yaml makes the resume fail; a stripped file is
refused ("training to N epochs is finished, nothing to resume"). The shared check is
:mod:`lrguard.checkpoint.epoch_resume`; the version's maths is its profile (:mod:`.profiles`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.epoch_resume import ConfigEffect, EpochRules
from lrguard.checkpoint.resume import REFUSE, ResumeReport, load_yaml, num, show
from lrguard.trainers.profile import Profile
from lrguard.trainers.yolov5 import profiles


def profile_of_checkpoint(version: str | None) -> Profile:
    """The profile of a checkpoint's recorded version (``"<=v6.1"``, ``">=v6.2"``, ``"pip 7.0.14"``)."""
    return profiles.V6_1 if version == "<=v6.1" else profiles.CURRENT


class YOLOv5Resume(EpochRules):
    """``--resume`` of YOLOv5's ``train.py``."""

    label = "YOLOv5"
    command = "--resume"
    batch_key = "batch_size"

    def schedule_args(self, args: dict[str, Any]) -> dict[str, Any]:
        raw_hyp = args.get("hyp")
        hyp: dict[str, Any] = raw_hyp if isinstance(raw_hyp, dict) else {}
        return {
            "epochs": num(args.get("epochs")),
            "lr0": num(hyp.get("lr0")),
            "lrf": num(hyp.get("lrf")),
            "warmup_epochs": num(hyp.get("warmup_epochs")),
            "cos_lr": bool(args.get("cos_lr", False)),
            "time": num(args.get("time")),
        }

    def stripped(self, args: dict[str, Any], sched: dict[str, Any]) -> ResumeReport:
        epochs = sched["epochs"]
        rep = ResumeReport(
            REFUSE,
            f"{self.command} from this file will not continue the run: it is stripped (finished training). "
            f"YOLOv5 refuses: 'training to {int(epochs) if epochs else '?'} epochs is finished, nothing to resume'.",
        )
        wbl = num((args.get("hyp") or {}).get("warmup_bias_lr"))
        lr0 = sched["lr0"]
        rep.details.append(
            "Training on from these weights (--weights / YOLO(file).train()) starts a fresh schedule with "
            f"warmup: the bias group restarts at warmup_bias_lr={wbl if wbl is not None else 0.1:g} and the "
            f"other groups ramp up to lr0={lr0 if lr0 is not None else 0.01:g}."
        )
        return rep

    def read_config(self, run_dir: Path, sched: dict[str, Any], report: ResumeReport) -> ConfigEffect | None:
        name = C.YOLOV5_OPT_YAML
        cfg, why_not = load_yaml(run_dir / name)
        if cfg is None and why_not != "missing":
            return ConfigEffect(None, None, None, False, broken=f"{name} in the run directory {why_not}")
        if cfg is None:
            report.details.append(
                f"{name} is not in the run directory: --resume takes the options stored in the checkpoint."
            )
            return None
        cfg_sched = self.schedule_args(cfg)
        if isinstance(cfg.get("hyp"), str):
            report.details.append("opt.yaml names a hyp file; lrguard compares the checkpoint's hyp.")
            cfg_sched["lr0"], cfg_sched["lrf"] = sched["lr0"], sched["lrf"]
        diffs = [
            f"{k}: checkpoint {show(sched[k])} -> opt.yaml {show(cfg_sched[k])}"
            for k in ("epochs", "lr0", "lrf", "cos_lr")
            if cfg_sched[k] is not None and cfg_sched[k] != sched[k]
        ]
        if not diffs:
            return None
        return ConfigEffect(
            epochs=cfg_sched["epochs"] or sched["epochs"],
            lr0=cfg_sched["lr0"] or sched["lr0"],
            lrf=cfg_sched["lrf"] if cfg_sched["lrf"] is not None else sched["lrf"],
            cos_lr=cfg_sched["cos_lr"],
            reason="opt.yaml was edited (" + "; ".join(diffs) + "); --resume takes every option from it",
        )

    def extension(self, effect: ConfigEffect, start: int) -> bool:
        return effect.epochs is not None and effect.epochs < start
