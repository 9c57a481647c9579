"""YOLOv5 (ultralytics/yolov5 and the ``yolov5`` PyPI package): versions, defaults and fixes.

Everything specific to YOLOv5 lives here: param-group order per release, how ``train.py`` logs the
LR, its defaults, and the remedies lrguard suggests (hyp edits and command lines).
"""

from __future__ import annotations

from dataclasses import replace

from lrguard.trainers.profile import Profile

# data/hyps/hyp.scratch-low.yaml (the default --hyp): every key train.py reads.
HYP_SCRATCH_LOW: dict[str, float] = {
    "lr0": 0.01,
    "lrf": 0.01,
    "momentum": 0.937,
    "weight_decay": 0.0005,
    "warmup_epochs": 3.0,
    "warmup_momentum": 0.8,
    "warmup_bias_lr": 0.1,
    "box": 0.05,
    "cls": 0.5,
    "cls_pw": 1.0,
    "obj": 1.0,
    "obj_pw": 1.0,
    "iou_t": 0.2,
    "anchor_t": 4.0,
    "fl_gamma": 0.0,
    "hsv_h": 0.015,
    "hsv_s": 0.7,
    "hsv_v": 0.4,
    "degrees": 0.0,
    "translate": 0.1,
    "scale": 0.5,
    "shear": 0.0,
    "perspective": 0.0,
    "flipud": 0.0,
    "fliplr": 0.5,
    "mosaic": 1.0,
    "mixup": 0.0,
    "copy_paste": 0.0,
}

# The schedule-relevant defaults (hyp plus the train.py options that shape the LR).
DEFAULTS = {
    **{k: HYP_SCRATCH_LOW[k] for k in ("lr0", "lrf", "momentum", "weight_decay", "warmup_epochs", "warmup_momentum")},
    "warmup_bias_lr": HYP_SCRATCH_LOW["warmup_bias_lr"],
    "epochs": 100,
    "cos_lr": False,
}

# >= v6.2 (2022-08, incl. v7.0 and the yolov5 7.0.x PyPI package): bias is group 0; the scheduler
# steps at the end of the epoch, so a row shows the previous epoch's lf and --resume is seamless.
CURRENT = Profile(
    name="yolov5",
    framework="yolov5",
    label="YOLOv5 >= v6.2 (incl. v7.0 / pip yolov5 7.x)",
    epoch_base=0,
    lr_prefix="x/lr",
    group_names=("bias", "weight (decay)", "norm weight"),
    bias_group=0,
    warmup_bias_group=0,
    reference_group=1,
    log_lag=1,
    resume_row_restored=True,
    checkpoint_lr_lag=0,
    linear_clamp=False,
    warmup_floor=100,
    significant_digits=5,
    defaults=DEFAULTS,
    fixed_nbs=64,
)

# v6.1 (2022-02-22): linear schedule over E (a936f5f21), still the 1000-iteration warmup floor
# (lowered to 100 by 47f265dde on 2022-02-24, in v6.2), bias still group 2.
V6_1 = replace(
    CURRENT,
    name="yolov5-v6.1",
    label="YOLOv5 v6.1",
    group_names=("norm weight", "weight (decay)", "bias"),
    bias_group=2,
    warmup_bias_group=2,
    warmup_floor=1000,
)

# master after v6.1, 2022-02-24 .. 2022-04-10: the warmup floor already 100 (47f265dde), the bias
# group still x/lr2 (reordered by bd2dda8e6, PR #7376, on 2022-04-11).
MASTER_2022_03 = replace(
    V6_1,
    name="yolov5-master-2022-03",
    label="YOLOv5 master 2022-02-24 .. 2022-04-10 (bias x/lr2, 100-iteration warmup floor)",
    warmup_floor=100,
)

# <= v6.0: as v6.1, but the linear schedule divides by E - 1.
V6_0 = replace(V6_1, name="yolov5-v6.0", label="YOLOv5 v4.0 - v6.0", linear_offset=1)

# master between PR #7376 and PR #8356 (2022-04 .. 2022-06): bias moved to group 0 but warmup
# still gave warmup_bias_lr to group 2 (the norm weights). Mechanism M9.
MASTER_2022_04 = replace(
    CURRENT,
    name="yolov5-master-2022-04",
    label="YOLOv5 master 2022-04-11 .. 2022-06-27 (bias warmup on the wrong group)",
    warmup_bias_group=2,
)

PROFILES = (CURRENT, V6_1, MASTER_2022_03, V6_0, MASTER_2022_04)


def hyp_from_config(opt: dict, hyp_file: dict | None = None) -> dict:
    """Merge the schedule hyperparameters of a YOLOv5 run.

    ``opt.yaml`` embeds the hyp dict that ``--resume`` will use, so it wins over ``hyp.yaml``
    (which a user may have edited without effect); trainer defaults fill the gaps.
    """
    merged = dict(DEFAULTS)
    if hyp_file:
        merged.update({k: v for k, v in hyp_file.items() if v is not None})
    embedded = opt.get("hyp")
    if isinstance(embedded, dict):
        merged.update({k: v for k, v in embedded.items() if v is not None})
    if "epochs" in opt:
        merged["epochs"] = opt["epochs"]
    if "linear_lr" in opt:  # <= v6.0 had --linear-lr with cosine as the default
        merged["cos_lr"] = not bool(opt["linear_lr"])
    elif "cos_lr" in opt:
        merged["cos_lr"] = bool(opt["cos_lr"])
    return merged
