"""Trainer plug-ins and the one registry through which the core finds them.

Each trainer is a package below ``lrguard.trainers`` exposing ``TRAINER``, an instance of
:class:`~lrguard.trainers.base.Trainer`. Adding a trainer is a new package plus one line in
:data:`REGISTRY`; the core only ever imports this module, :mod:`~lrguard.trainers.base`,
:mod:`~lrguard.trainers.profile` and :mod:`~lrguard.trainers.infer` (a test checks it), and the
packages are imported on first use.
"""

from __future__ import annotations

import importlib
from functools import cache

from lrguard.trainers.base import Trainer
from lrguard.trainers.profile import Profile

# Trainer name -> the package that implements it. Order matters where two trainers could claim
# the same files: the first one that recognises them wins.
REGISTRY: dict[str, str] = {
    "yolov5": "lrguard.trainers.yolov5",
    "ultralytics": "lrguard.trainers.ultralytics",
    "hf": "lrguard.trainers.hf",
    "lightning": "lrguard.trainers.lightning",
    "accelerate": "lrguard.trainers.accelerate",
    "torch": "lrguard.trainers.torch",
}


@cache
def get_trainer(name: str) -> Trainer:
    """Return the registered trainer called ``name``.

    Raises:
        KeyError: No trainer of that name is registered.
    """
    module = importlib.import_module(REGISTRY[str(name)])
    trainer: Trainer = module.TRAINER
    return trainer


def all_trainers() -> tuple[Trainer, ...]:
    """Every registered trainer, in registry order."""
    return tuple(get_trainer(name) for name in REGISTRY)


def all_profiles() -> tuple[Profile, ...]:
    """Every version profile of every registered trainer."""
    return tuple(p for t in all_trainers() for p in t.profiles)


def get_profile(name: str) -> Profile:
    """Return the profile called ``name`` (see ``lrguard diagnose --help`` for the list).

    Raises:
        KeyError: If no profile has that name.
    """
    for profile in all_profiles():
        if profile.name == name:
            return profile
    raise KeyError(name)


__all__ = ["REGISTRY", "Profile", "Trainer", "all_profiles", "all_trainers", "get_profile", "get_trainer"]
