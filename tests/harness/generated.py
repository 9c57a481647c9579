"""Write run directories generated from the schedule functions.

For tests of mechanisms the real
trainers in the test environment cannot produce, and for benchmarks). Everything written here is
labelled as generated in a ``GENERATED.txt`` file in the run directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lrguard.schedules.curve import SessionPlan, logged_lr_sessions
from lrguard.trainers.profile import Profile


def _losses(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    base = 0.05 + 0.1 * np.exp(-t / max(n / 5, 1.0))
    return np.column_stack([base * (1 + 0.01 * rng.standard_normal(n)) for _ in range(3)])


def write_generated_run(
    run_dir: Path,
    profile: Profile,
    sessions: Sequence[SessionPlan],
    *,
    config: dict[str, Any] | None = None,
    loss_bumps: dict[int, float] | None = None,
    description: str = "",
    seed: int = 0,
) -> Path:
    """Write results.csv plus opt.yaml/hyp.yaml (YOLOv5) or args.yaml (Ultralytics) into ``run_dir``.

    Args:
        run_dir: Directory to create.
        profile: Trainer version rules (decides the CSV layout and LR maths).
        sessions: The sessions that produced the run (see :class:`SessionPlan`).
        config: Values written to the config file; by default taken from the last session.
        loss_bumps: Row index -> factor applied to the train losses from that row on (simulates the
            effect of an LR jump); a factor of ``nan`` writes NaN.
        description: Written to ``GENERATED.txt``.
        seed: Noise seed of the synthetic losses.

    Returns:
        ``run_dir``.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    epochs, lr = logged_lr_sessions(list(sessions), profile)
    n = epochs.shape[0]
    losses = _losses(n, seed)
    for row, factor in sorted((loss_bumps or {}).items()):
        losses[row:] = losses[row:] * factor
    last = sessions[-1].spec
    cfg = dict(config or {})
    hyp = {
        "lr0": last.lr0,
        "lrf": last.lrf,
        "momentum": 0.937,
        "weight_decay": 0.0005,
        "warmup_epochs": last.warmup_epochs,
        "warmup_momentum": 0.8,
        "warmup_bias_lr": last.warmup_bias_lr,
    }
    ep_col = epochs + profile.epoch_base
    if profile.framework == "yolov5":
        names = [
            "epoch",
            "train/box_loss",
            "train/obj_loss",
            "train/cls_loss",
            "metrics/precision",
            "metrics/recall",
            "metrics/mAP_0.5",
            "metrics/mAP_0.5:0.95",
            "val/box_loss",
            "val/obj_loss",
            "val/cls_loss",
        ]
        names += [f"x/lr{j}" for j in range(lr.shape[1])]
        lines = [",".join(f"{h:>20s}" for h in names)]
        for k in range(n):
            vals = [*losses[k], 0.5, 0.5, 0.4, 0.2, *losses[k], *lr[k]]
            lines.append(f"{int(ep_col[k]):>20d}," + ",".join(f"{v:>20.5g}" for v in vals))
        opt = {
            "weights": "",
            "cfg": "yolov5n.yaml",
            "hyp": hyp,
            "epochs": last.epochs,
            "batch_size": 16,
            "imgsz": 640,
            "resume": len(sessions) > 1,
            "cos_lr": last.cos_lr,
            "optimizer": "SGD",
            "data": "data.yaml",
        }
        opt.update(cfg)
        (run_dir / "opt.yaml").write_text(yaml.safe_dump(opt, sort_keys=False))
        (run_dir / "hyp.yaml").write_text(yaml.safe_dump(hyp, sort_keys=False))
    else:
        names = [
            "epoch",
            "time",
            "train/box_loss",
            "train/cls_loss",
            "train/dfl_loss",
            "metrics/precision(B)",
            "metrics/recall(B)",
            "metrics/mAP50(B)",
            "metrics/mAP50-95(B)",
            "val/box_loss",
            "val/cls_loss",
            "val/dfl_loss",
        ]
        names += [f"lr/pg{j}" for j in range(lr.shape[1])]
        lines = [",".join(names)]
        t = 0.0
        # Row where each session begins: sessions may repeat epochs (rewinds, appended runs), so count
        # rows rather than searching the epoch column.
        lengths = [max(s.stop_epoch - s.start_epoch, 0) for s in sessions]
        starts = {int(r) for r, length in zip(np.cumsum([0, *lengths[:-1]]), lengths, strict=True) if length}
        for k in range(n):
            # Each session's clock restarts below where the previous session's ended (its first row
            # included), as the trainer's does, so that a one-epoch session still shows the restart.
            t = 10.0 - 0.01 * sorted(starts).index(k) if k in starts else t + 10.0
            vals = [t, *losses[k], 0.5, 0.5, 0.4, 0.2, *losses[k], *lr[k]]
            lines.append(f"{int(ep_col[k])}," + ",".join(f"{v:.6g}" for v in vals))
        args = {
            "task": "detect",
            "mode": "train",
            "model": "yolov8n.yaml",
            "data": "data.yaml",
            "epochs": last.epochs,
            "time": None,
            "batch": 16,
            "optimizer": "SGD",
            "cos_lr": last.cos_lr,
            "close_mosaic": 0,
            "resume": False,
            **hyp,
            "nbs": 64,
        }
        args.update(cfg)
        (run_dir / "args.yaml").write_text(yaml.safe_dump(args, sort_keys=False))
    (run_dir / "results.csv").write_text("\n".join(lines) + "\n")
    (run_dir / "GENERATED.txt").write_text(
        "Generated from lrguard's schedule functions, not written by a real trainer.\n" + description + "\n"
    )
    return run_dir
