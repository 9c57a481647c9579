"""The LR against its plan: per param group, relative to the planned value."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Deviation:
    """An LR off its plan.

    Attributes:
        group: Param group index.
        lr: The LR used.
        planned: The planned LR.
        rel: ``lr / planned - 1`` (``inf`` when the plan is 0 and the LR is not).
    """

    group: int
    lr: float
    planned: float
    rel: float


def relative_error(lr: float, planned: float) -> float:
    """``lr / planned - 1``; 0 when both are 0, ``inf`` when only the plan is 0, NaN when either is NaN."""
    if math.isnan(lr) or math.isnan(planned):
        return math.nan
    if planned == 0:
        return 0.0 if lr == 0 else math.inf
    return lr / planned - 1.0


def check(
    lrs: list[float] | tuple[float, ...], planned: list[float] | tuple[float, ...], rel_tol: float
) -> list[Deviation]:
    """The groups whose LR is more than ``rel_tol`` off plan at one step (the guard's per-step form).

    Raises:
        ValueError: ``lrs`` and ``planned`` have different lengths.
    """
    if len(lrs) != len(planned):
        raise ValueError(f"{len(lrs)} LRs for {len(planned)} planned values")
    out = []
    for g, (lr, p) in enumerate(zip(lrs, planned, strict=True)):
        rel = relative_error(float(lr), float(p))
        if not math.isnan(rel) and abs(rel) > rel_tol:
            out.append(Deviation(g, float(lr), float(p), rel))
    return out


def off_plan(lr: np.ndarray, planned: np.ndarray, rel_tol: float) -> np.ndarray:
    """Mask of the (row, group) cells more than ``rel_tol`` off plan (the batch form of :func:`check`)."""
    lr = np.asarray(lr, dtype=float)
    planned = np.asarray(planned, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(planned == 0, np.where(lr == 0, 0.0, np.inf), lr / planned - 1.0)
    return np.abs(rel) > rel_tol
