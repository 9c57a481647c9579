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

from lrguard.trainers.profile import Profile


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


def candidate_profiles(ev: FileEvidence) -> VersionCandidates:
    """The profiles consistent with ``ev``, most likely first (see the module docstring)."""
    from lrguard.trainers import get_trainer

    why: list[str] = []
    profiles = get_trainer(ev.framework).candidate_profiles(ev, why)
    return VersionCandidates(profiles=profiles, evidence=tuple(why))


def recorded_profile(profile: Profile, how: str) -> VersionCandidates:
    """A single candidate named by a checkpoint, ``--framework-version`` or ``--profile``."""
    return VersionCandidates(profiles=(profile,), evidence=(how,), recorded=True)
