"""Warmup: how many iterations it lasts and what it does to each group's LR."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lrguard.trainers.profile import Profile


def warmup_iterations(warmup_epochs: float, nb: int, epochs: int, profile: Profile) -> int:
    """Return the number of warmup iterations ``nw`` (0 when warmup is off).

    YOLOv5 and Ultralytics <= 8.3: ``max(round(warmup_epochs * nb), floor)`` (floor 100, or 1000
    before YOLOv5 v6.2); Ultralytics switches warmup off for ``warmup_epochs <= 0``. Ultralytics
    8.4 has no floor and caps warmup at ``epochs - 1`` epochs.

    Args:
        warmup_epochs: Configured warmup length in epochs.
        nb: Batches per epoch.
        epochs: Total epochs of the session's schedule.
        profile: The trainer version's rules.
    """
    we = float(warmup_epochs)
    if profile.warmup_capped:
        we = min(we, max(epochs - 1, 0))
    if we <= 0 and profile.warmup_zero_disables:
        return 0
    return max(round(we * nb), profile.warmup_floor)


def warmup_lr(ni: ArrayLike, nw: int, start: ArrayLike, target: ArrayLike) -> np.ndarray:
    """Linear interpolation of warmup from ``start`` at iteration 0 to ``target`` at ``nw``.

    Args:
        ni: Global iteration index (``i + nb * epoch``), ``0 <= ni <= nw``.
        nw: Warmup iterations.
        start: ``warmup_bias_lr`` for the bias group, 0 for the others.
        target: ``initial_lr * lf(epoch)`` for the epoch of ``ni``.
    """
    frac = np.asarray(ni, dtype=float) / float(nw) if nw > 0 else np.ones_like(np.asarray(ni, dtype=float))
    s = np.asarray(start, dtype=float)
    return s + (np.asarray(target, dtype=float) - s) * frac
