"""The LR multipliers ``lf(x)`` of YOLOv5 and Ultralytics, as pure functions of the epoch index.

``lf(x)`` multiplies each group's ``initial_lr``; ``x`` is the scheduler's ``last_epoch``. Both
accept floats or numpy arrays and return the same kind.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def linear_lf(x: ArrayLike, epochs: ArrayLike, lrf: float, *, clamp: bool = False, offset: int = 0) -> np.ndarray:
    """Linear decay from 1 at ``x = 0`` to ``lrf`` at ``x = epochs - offset``.

    ``lf(x) = (1 - x / (epochs - offset)) * (1 - lrf) + lrf``. YOLOv5 never clamps, so past the end
    the value keeps falling (and turns negative); Ultralytics >= 8.1 clamps ``1 - x/E`` at 0.

    Args:
        x: Epoch index (scheduler ``last_epoch``).
        epochs: Total epochs ``E`` of the schedule (broadcasts against ``x``).
        lrf: Final LR fraction.
        clamp: Clamp ``1 - x/E`` at 0 (Ultralytics >= 8.1).
        offset: 1 for YOLOv5 <= v6.0, which divided by ``E - 1``.

    Returns:
        ``lf(x)`` with the shape of ``x``.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        frac = 1.0 - np.asarray(x, dtype=float) / (np.asarray(epochs, dtype=float) - offset)
        if clamp:
            frac = np.maximum(frac, 0.0)
        return frac * (1.0 - lrf) + lrf


def cosine_lf(x: ArrayLike, epochs: ArrayLike, lrf: float) -> np.ndarray:
    """Half-cosine from 1 at ``x = 0`` to ``lrf`` at ``x = epochs`` (``one_cycle(1, lrf, epochs)``).

    The function is periodic: past ``epochs`` it climbs back towards 1 (period ``2 * epochs``),
    which is what a cosine schedule evaluated past its end does in both trainers.

    Args:
        x: Epoch index.
        epochs: Half period ``E``.
        lrf: Final LR fraction.

    Returns:
        ``lf(x)`` with the shape of ``x``.
    """
    xs = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return ((1.0 - np.cos(xs * np.pi / np.asarray(epochs, dtype=float))) / 2.0) * (lrf - 1.0) + 1.0
