"""Which trainer versions can have written a run, from the files alone.

When nothing records the version (no checkpoint ``version``, no ``--framework-version``), the files
still narrow it down: the results.csv layout (a ``time`` column, space padding, a 0- or 1-based epoch
column, the number of LR columns), which param group starts high in the first row (the bias group's
place in the optimizer), and configuration keys that exist only in some versions. What is left is an
ordered list of candidate profiles, most likely first; the diagnosis then tests the candidates that
still disagree against the logged rows (:mod:`lrguard.diagnosis.version`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lrguard.frameworks import ultralytics, yolov5
from lrguard.frameworks.profile import Profile

# args.yaml keys that only some Ultralytics versions write (cfg/default.yaml of that version).
# 8.0.x only: the YOLOv5 dataloader switch and the display flags renamed to show_* in 8.1.0.
UL_KEYS_8_0 = frozenset({"v5loader", "boxes", "hide_labels", "hide_conf"})
# 8.4.x only: the YOLO26 loss gains and the end2end head switch, added with YOLO26 in 8.4.0.
UL_KEYS_8_4 = frozenset({"end2end", "rle", "angle"})
# Removed before 8.4.190 (dropped with a deprecation warning there): their presence points below it.
UL_KEYS_BEFORE_8_4_190 = frozenset({"save_hybrid", "crop_fraction", "label_smoothing"})
# opt.yaml keys of YOLOv5: --linear-lr existed up to v6.0 (cosine was the default then).
V5_KEYS_UP_TO_6_0 = frozenset({"linear_lr"})


@dataclass(frozen=True)
class FileEvidence:
    """What a run's files say about the trainer version.

    Attributes:
        framework: ``"yolov5"`` or ``"ultralytics"``.
        n_groups: Number of LR columns.
        first_epoch: Value of the first row's epoch column.
        has_time: results.csv has a ``time`` column.
        padded: results.csv cells are space padded (fixed-width formatting).
        config_keys: Top-level keys of opt.yaml / args.yaml.
        bias_column: Index of the LR column that starts far above the others in the first row of a
            fresh run (the group receiving ``warmup_bias_lr``), ``None`` when no column does.
        groups_equal: Every LR column holds the same value in the first row.
    """

    framework: str
    n_groups: int
    first_epoch: int
    has_time: bool
    padded: bool
    config_keys: frozenset[str] = frozenset()
    bias_column: int | None = None
    groups_equal: bool = False


@dataclass(frozen=True)
class VersionCandidates:
    """The profiles the files leave, most likely first, and why.

    Attributes:
        profiles: Candidate profiles (at least one).
        evidence: One line per fact used.
        recorded: True when a file or the user named the version (no need to test candidates).
    """

    profiles: tuple[Profile, ...]
    evidence: tuple[str, ...] = field(default_factory=tuple)
    recorded: bool = False


def _ordered(first: list[Profile], rest: list[Profile]) -> tuple[Profile, ...]:
    out: list[Profile] = []
    for p in first + rest:
        if p not in out:
            out.append(p)
    return tuple(out)


def _ultralytics(ev: FileEvidence, why: list[str]) -> tuple[Profile, ...]:
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


def _yolov5(ev: FileEvidence, why: list[str]) -> tuple[Profile, ...]:
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


def candidate_profiles(ev: FileEvidence) -> VersionCandidates:
    """The profiles consistent with ``ev``, most likely first (see the module docstring)."""
    why: list[str] = []
    profiles = _yolov5(ev, why) if ev.framework == "yolov5" else _ultralytics(ev, why)
    return VersionCandidates(profiles=profiles, evidence=tuple(why))


def recorded_profile(profile: Profile, how: str) -> VersionCandidates:
    """A single candidate named by a checkpoint, ``--framework-version`` or ``--profile``."""
    return VersionCandidates(profiles=(profile,), evidence=(how,), recorded=True)
