"""Framework specifics, one module per framework; :class:`Profile` describes one version's maths."""

from __future__ import annotations

from lrguard.frameworks import ultralytics, yolov5
from lrguard.frameworks.profile import Profile

ALL_PROFILES: tuple[Profile, ...] = yolov5.PROFILES + ultralytics.PROFILES


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` (see ``lrguard diagnose --help`` for the list).

    Raises:
        KeyError: If no profile has that name.
    """
    for profile in ALL_PROFILES:
        if profile.name == name:
            return profile
    raise KeyError(name)


__all__ = ["ALL_PROFILES", "Profile", "get_profile"]
