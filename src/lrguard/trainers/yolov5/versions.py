"""YOLOv5 versions from the files alone: the rules behind :func:`candidate_profiles`.

See :mod:`lrguard.trainers.infer` for the evidence and how the candidates are tested.
"""

from __future__ import annotations

from lrguard.trainers.infer import FileEvidence
from lrguard.trainers.profile import Profile
from lrguard.trainers.yolov5 import profiles as yolov5

# opt.yaml keys of YOLOv5: --linear-lr existed up to v6.0 (cosine was the default then).
V5_KEYS_UP_TO_6_0 = frozenset({"linear_lr"})


def candidate_profiles(ev: FileEvidence, why: list[str]) -> tuple[Profile, ...]:
    """The YOLOv5 profiles consistent with ``ev``, most likely first; appends one line per fact to ``why``."""
    if ev.config_keys & V5_KEYS_UP_TO_6_0:
        why.append("opt.yaml has linear_lr: YOLOv5 <= v6.0")
        return (yolov5.V6_0,)
    if ev.bias_column == 2:
        why.append("x/lr2 starts at warmup_bias_lr in the first row: the bias group is last (YOLOv5 <= v6.1 order)")
        # The LR columns of master 2022-04-11..06-27 (bias moved to x/lr0, its warmup still on x/lr2) look
        # exactly like the old order with the 100-iteration floor: without other evidence, no bug is assumed.
        return (yolov5.V6_1, yolov5.MASTER_2022_03, yolov5.MASTER_2022_04)
    if ev.bias_column == 0:
        why.append("x/lr0 starts at warmup_bias_lr in the first row: the bias group is first (YOLOv5 >= v6.2)")
        return (yolov5.CURRENT,)
    if ev.groups_equal:
        why.append("all LR columns are equal in the first row: the group order is not visible")
    return (yolov5.CURRENT, yolov5.V6_1, yolov5.MASTER_2022_03)
