"""Ultralytics YOLO (v8 / 11 / 26, the ``ultralytics`` package): versions and defaults.

Param-group order, scheduler step timing, warmup rules and the results.csv format changed across
8.0 - 8.4; each profile below records one of those behaviours.
"""

from __future__ import annotations

from dataclasses import replace

from lrguard.trainers.profile import Profile

DEFAULTS = {
    "lr0": 0.01,
    "lrf": 0.01,
    "momentum": 0.937,
    "weight_decay": 0.0005,
    "warmup_epochs": 3.0,
    "warmup_momentum": 0.8,
    "warmup_bias_lr": 0.1,
    "epochs": 100,
    "cos_lr": False,
    "close_mosaic": 10,
    "nbs": 64,
    "optimizer": "auto",
}

# 8.1.47 .. 8.3.x: the scheduler steps at the start of every epoch (PR #9468), so row e (1-based)
# shows lf(e - 1) of the epoch just trained and a resume is seamless; bias is group 0.
V8_3 = Profile(
    name="ultralytics-8.3",
    framework="ultralytics",
    label="Ultralytics 8.1.47 - 8.3.x",
    epoch_base=1,
    lr_prefix="lr/pg",
    group_names=("bias", "weight (decay)", "norm weight"),
    bias_group=0,
    warmup_bias_group=0,
    reference_group=1,
    log_lag=0,
    resume_row_restored=False,
    checkpoint_lr_lag=0,
    linear_clamp=True,
    warmup_floor=100,
    warmup_zero_disables=True,
    significant_digits=6,
    defaults=DEFAULTS,
)

# 8.1.0 .. 8.1.46: step at the end of the epoch after save_model (the checkpoint holds the pre-step
# LR, so the first resumed epoch repeats the previous LR: mechanism M13); 5 digits in the CSV.
V8_1_EARLY = replace(
    V8_3,
    name="ultralytics-8.1-early",
    label="Ultralytics 8.1.0 - 8.1.46",
    log_lag=1,
    resume_row_restored=True,
    checkpoint_lr_lag=1,
    significant_digits=5,
)

# 8.0.x: step at the end of the epoch after the LR is captured, checkpoint after the step, no clamp.
V8_0 = replace(V8_1_EARLY, name="ultralytics-8.0", label="Ultralytics 8.0.x", checkpoint_lr_lag=0, linear_clamp=False)

# 8.0.x before PR #4491 (2023-08-22, "Use 1-based indexing for results.csv epochs"): the epoch column
# is the 0-based epoch index, so row e shows lf(e - 1) exactly as YOLOv5 does.
V8_0_ZERO_BASED = replace(
    V8_0, name="ultralytics-8.0-0based", label="Ultralytics 8.0.x before PR #4491 (0-based epoch column)", epoch_base=0
)

# 8.4.x after PR #23234 (e.g. 8.4.190): tagged groups weight, bn, bias; no warmup floor; warmup
# capped at epochs - 1.
V8_4 = replace(
    V8_3,
    name="ultralytics-8.4",
    label="Ultralytics 8.4.x (tagged param groups)",
    group_names=("weight (decay)", "norm weight", "bias"),
    bias_group=2,
    warmup_bias_group=2,
    reference_group=0,
    warmup_floor=0,
    warmup_capped=True,
)

# 8.4.0: groups already reordered to weight, bn, bias but warmup still gives warmup_bias_lr to
# group 0 (the conv weights): mechanism M9, fixed by PR #23234.
V8_4_0 = replace(
    V8_4, name="ultralytics-8.4.0", label="Ultralytics 8.4.0 (bias warmup on the weight group)", warmup_bias_group=0
)

# 8.4.x with MuSGD: each of weight/bn/bias/muon split into a boosted (lr x3) and a normal group.
V8_4_MUSGD = replace(
    V8_4,
    name="ultralytics-8.4-musgd",
    label="Ultralytics 8.4.x with MuSGD (8 param groups)",
    group_names=("weight x3", "weight", "bn x3", "bn", "bias x3", "bias", "muon x3", "muon"),
    bias_group=5,
    warmup_bias_group=5,
    reference_group=1,
    group_lr_scale=(3.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0),
)

PROFILES = (V8_4, V8_4_MUSGD, V8_4_0, V8_3, V8_1_EARLY, V8_0, V8_0_ZERO_BASED)


def profile_for_version(version: str, n_groups: int = 3) -> Profile:
    """Return the profile of an exact Ultralytics version string such as ``"8.4.190"``.

    Args:
        version: ``major.minor.patch`` as stored in a checkpoint's ``version`` field.
        n_groups: Number of LR columns logged (8 selects the MuSGD layout on 8.4.x).

    Raises:
        ValueError: If ``version`` is not a dotted version string.
    """
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    if len(parts) < 2:
        raise ValueError(f"not an Ultralytics version: {version!r}")
    major, minor = parts[0], parts[1]
    patch = parts[2] if len(parts) > 2 else 0
    if (major, minor) >= (8, 4):
        if n_groups == 8:
            return V8_4_MUSGD
        return V8_4_0 if patch == 0 else V8_4
    if (major, minor) >= (8, 2) or ((major, minor) == (8, 1) and patch >= 47):
        return V8_3
    if (major, minor) == (8, 1):
        return V8_1_EARLY
    return V8_0


def hyp_from_config(args: dict, train_args: dict | None = None) -> dict:
    """Merge the schedule hyperparameters of an Ultralytics run.

    ``args.yaml`` is written before the optimizer is built, so with ``optimizer: auto`` it shows
    the requested ``lr0`` and ``warmup_bias_lr`` rather than the effective ones. A checkpoint's
    ``train_args`` (8.4.x writes the resolved optimizer and lr0 back into it) wins when given.
    """
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in args.items() if k in DEFAULTS or k in {"time", "batch", "warmup_bias_lr"}})
    if train_args:
        for key in ("optimizer", "lr0", "epochs", "time"):
            if train_args.get(key) is not None:
                merged[key] = train_args[key]
    if str(merged.get("optimizer", "")).lower() == "auto":
        merged["warmup_bias_lr"] = 0.0  # 'auto' forces warmup_bias_lr = 0
    return merged


def auto_optimizer(n_images: int, batch: int, epochs: int, nc: int, nbs: int = 64) -> tuple[str, float]:
    """What ``optimizer=auto`` resolves to in 8.4.x: ``(name, lr0)``.

    ``iterations = ceil(n_images / max(batch, nbs)) * epochs``; above 10000 it picks MuSGD with
    lr0 0.01 (SGD in <= 8.3), else AdamW with ``lr0 = round(0.002 * 5 / (4 + nc), 6)``.
    """
    import math

    iterations = math.ceil(n_images / max(batch, nbs)) * epochs
    if iterations > 10000:
        return "MuSGD", 0.01
    return "AdamW", round(0.002 * 5 / (4 + nc), 6)
