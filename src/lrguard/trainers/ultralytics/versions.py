"""Ultralytics versions from the files alone: the rules behind :func:`candidate_profiles`.

See :mod:`lrguard.trainers.infer` for the evidence and how the candidates are tested.
"""

from __future__ import annotations

from lrguard.trainers.infer import FileEvidence
from lrguard.trainers.profile import Profile
from lrguard.trainers.ultralytics import profiles as ultralytics

# args.yaml keys that only some Ultralytics versions write (cfg/default.yaml of that version).
# 8.0.x only: the YOLOv5 dataloader switch and the display flags renamed to show_* in 8.1.0.
UL_KEYS_8_0 = frozenset({"v5loader", "boxes", "hide_labels", "hide_conf"})
# 8.4.x only: the YOLO26 loss gains and the end2end head switch, added with YOLO26 in 8.4.0.
UL_KEYS_8_4 = frozenset({"end2end", "rle", "angle"})
# Removed before 8.4.190 (dropped with a deprecation warning there): their presence points below it.
UL_KEYS_BEFORE_8_4_190 = frozenset({"save_hybrid", "crop_fraction", "label_smoothing"})


def _ordered(first: list[Profile], rest: list[Profile]) -> tuple[Profile, ...]:
    out: list[Profile] = []
    for p in first + rest:
        if p not in out:
            out.append(p)
    return tuple(out)


def candidate_profiles(ev: FileEvidence, why: list[str]) -> tuple[Profile, ...]:
    """The Ultralytics profiles consistent with ``ev``, most likely first; appends one line per fact to ``why``."""
    keys = ev.config_keys
    if ev.n_groups == 8:
        why.append("8 LR columns: the MuSGD param groups of Ultralytics 8.4.x")
        return (ultralytics.V8_4_MUSGD,)
    if ev.first_epoch == 0:
        why.append(
            "the epoch column starts at 0: Ultralytics wrote 1-based epochs from 8.0.x PR #4491 on, so this is an "
            "earlier 8.0.x"
        )
        return (ultralytics.V8_0_ZERO_BASED,)
    if ev.has_time:
        why.append("results.csv has a 'time' column: Ultralytics >= 8.3 (absent in 8.2.103, present in 8.3.40)")
        if ev.bias_column == 2:
            why.append("lr/pg2 starts at warmup_bias_lr in the first row: the bias group is last (8.4.x)")
            return (ultralytics.V8_4,)
        if ev.bias_column == 0:
            why.append("lr/pg0 starts at warmup_bias_lr in the first row: bias first (<= 8.3.x) or 8.4.0's bug")
            return (ultralytics.V8_3, ultralytics.V8_4_0)
        if ev.groups_equal:
            why.append("all LR columns are equal in the first row (no bias warmup): the group order is not visible")
        if keys & UL_KEYS_8_4:
            why.append(f"args.yaml has {', '.join(sorted(keys & UL_KEYS_8_4))}: written by 8.4.x (YOLO26)")
            return (ultralytics.V8_4,)
        if keys & UL_KEYS_BEFORE_8_4_190:
            why.append(
                f"args.yaml has {', '.join(sorted(keys & UL_KEYS_BEFORE_8_4_190))}: keys later versions removed, "
                "so 8.3.x is the likelier"
            )
            return (ultralytics.V8_3, ultralytics.V8_4)
        return (ultralytics.V8_4, ultralytics.V8_3)
    why.append(
        "no 'time' column"
        + (", space-padded cells" if ev.padded else "")
        + ": Ultralytics <= 8.2 (8.0.x, 8.1.0-8.1.46 or 8.1.47-8.2.x scheduler timing)"
    )
    if keys & UL_KEYS_8_0:
        why.append(f"args.yaml has {', '.join(sorted(keys & UL_KEYS_8_0))}: an 8.0.x key")
        return _ordered([ultralytics.V8_0], [ultralytics.V8_1_EARLY, ultralytics.V8_3])
    return (ultralytics.V8_3, ultralytics.V8_1_EARLY, ultralytics.V8_0)
