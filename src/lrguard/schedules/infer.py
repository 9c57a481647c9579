"""Infer a schedule's family and parameters from the logged LR alone (torch-free, pure).

When a run's files do not record its schedule, the logged LR still shows it: a constant, a linear
warmup then a linear decay to zero, a warmup then a cosine, a step decay by ``gamma`` every ``k``
steps, an exponential decay. :func:`infer_schedule` fits each family to ``(step, lr)`` points and
returns the simplest one that reproduces every point to a relative tolerance, or ``None``.

Positions are the logged steps themselves: whether a loop logs the LR before or after
``scheduler.step()`` only shifts the fitted ``offset``. The closed forms are those of
:mod:`lrguard.schedules.library` (``HFLinear``/``HFCosine`` with warmup, ``StepLR``,
``ExponentialLR``), written here in logged-step coordinates ``p = step + offset``:

- ``constant``: ``lr = peak``;
- ``exponential``: ``lr = peak * gamma ** p`` (a step decay every step is reported as this);
- ``step``: ``lr = peak * gamma ** floor(p / k)``;
- ``linear``: ``peak * p / W`` for ``p < W``, then ``peak * max(0, (N - p) / (N - W))``;
- ``cosine``: ``peak * p / W`` for ``p < W``, then ``peak * (1 + cos(pi * (p - W) / (N - W))) / 2``
  (periodic past ``N``, as ``CosineAnnealingLR``'s closed form).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Families tried, simplest first.
FAMILIES = ("constant", "exponential", "step", "linear", "cosine")
#: Default agreement: the largest error relative to the peak LR.
REL_TOL = 1e-3


@dataclass(frozen=True)
class InferredSchedule:
    """A schedule recovered from logged LR values.

    Attributes:
        family: One of :data:`FAMILIES`.
        params: The fitted parameters (``peak`` always; ``offset``, ``warmup``, ``total``,
            ``gamma``, ``step_size`` by family), in logged-step units.
        max_error: Largest ``|fit - logged| / peak`` over the points fitted.
        points: How many points were fitted.
        inferred: Always True: the parameters come from the log, not from the run's files.
    """

    family: str
    params: dict[str, float] = field(default_factory=dict)
    max_error: float = 0.0
    points: int = 0
    inferred: bool = True

    def lr_at(self, steps: np.ndarray | float) -> np.ndarray:
        """The schedule's LR at each logged step (any array shape)."""
        return _evaluate(self.family, self.params, np.asarray(steps, dtype=float))

    def describe(self) -> str:
        """One line: the family and its parameters, marked as inferred from the log."""
        p = self.params
        if self.family == "constant":
            what = f"constant {p['peak']:.6g}"
        elif self.family == "step":
            what = f"step decay x{p['gamma']:.6g} every {p['step_size']:.6g} steps from {p['peak']:.6g}"
        elif self.family == "exponential":
            what = f"exponential decay x{p['gamma']:.6g} per step from {p['peak']:.6g}"
        else:
            warm = f"warmup {p['warmup']:.6g} steps, " if p.get("warmup", 0) > 0 else ""
            what = f"{self.family} to 0 over {p['total']:.6g} steps, {warm}peak {p['peak']:.6g}"
        return f"{what} (inferred from the logged LR)"


def _evaluate(family: str, p: dict[str, float], s: np.ndarray) -> np.ndarray:
    peak = p["peak"]
    pos = s + p.get("offset", 0.0)
    if family == "constant":
        return np.full(s.shape, peak)
    if family == "step":
        return peak * p["gamma"] ** np.floor(pos / p["step_size"] + 1e-9)
    if family == "exponential":
        return peak * p["gamma"] ** pos
    w, n = p.get("warmup", 0.0), p["total"]
    span = max(n - w, 1e-12)
    warm = peak * pos / w if w > 0 else np.full(s.shape, peak)
    if family == "linear":
        after = peak * np.clip((n - pos) / span, 0.0, None)
    else:
        after = peak * 0.5 * (1.0 + np.cos(math.pi * (pos - w) / span))
    return np.where(pos < w, warm, after)


def _error(family: str, params: dict[str, float], s: np.ndarray, lr: np.ndarray, peak: float) -> float:
    fit = _evaluate(family, params, s)
    return float(np.max(np.abs(fit - lr)) / peak) if peak > 0 else float(np.max(np.abs(fit - lr)))


def _fit_step(s: np.ndarray, lr: np.ndarray) -> dict[str, float] | None:
    change = np.flatnonzero(lr[1:] != lr[:-1]) + 1
    if change.size == 0:
        return None
    if np.any(lr[change - 1] <= 0):
        return None
    ratios = lr[change] / lr[change - 1]
    if not np.all(ratios > 0) or not np.all(ratios < 1):
        return None
    gamma = float(np.median(ratios))
    first = float(s[change[0]])
    if change.size >= 2:
        k = float(np.median(np.diff(s[change])))
        offset = k - first  # the first decay happens where pos reaches k
    else:
        k, offset = first - float(s[0]), -float(s[0])  # one decay: the log starts at position 0
    if k <= 0:
        return None
    return {"peak": float(lr[0]), "gamma": gamma, "step_size": k, "offset": offset}


def _fit_exponential(s: np.ndarray, lr: np.ndarray) -> dict[str, float] | None:
    if s.size < 3 or np.any(lr <= 0):
        return None
    slope, icpt = np.polyfit(s - s[0], np.log(lr), 1)
    gamma = float(np.exp(slope))
    if not 0 < gamma < 1:
        return None
    return {"peak": float(np.exp(icpt)), "gamma": gamma, "offset": -float(s[0])}


def _fit_warmup_decay(family: str, s: np.ndarray, lr: np.ndarray) -> dict[str, float] | None:
    """Warmup from the rows before the peak, the decay from the first descent after it.

    The peak is taken as the largest logged value, so the warmup must end on a logged step (or
    there is no warmup); the decay is fitted up to its first minimum (past-end rows are left out).
    """
    top = int(np.argmax(lr))
    peak = float(lr[top])
    if peak <= 0 or s.size < 3:
        return None
    if top >= 1:
        # lr[0] = peak * (s0 + o) / W with W = s_top + o
        f = float(lr[0] / peak)
        if not 0 <= f < 1:
            return None
        offset = (f * float(s[top]) - float(s[0])) / (1 - f)
        warmup = float(s[top]) + offset
    else:
        offset, warmup = -float(s[0]), 0.0
    dec_s, dec_lr = s[top:], lr[top:]
    bottom = int(np.argmin(dec_lr))
    x, y = dec_s[: bottom + 1] + offset, dec_lr[: bottom + 1] / peak
    if family == "linear":
        keep = y > 1e-9
        if keep.sum() < 2:
            return None
        slope, icpt = np.polyfit(x[keep], y[keep], 1)
        if slope >= 0:
            return None
        return {"peak": peak, "offset": offset, "warmup": warmup, "total": float(-icpt / slope)}
    progress = np.arccos(np.clip(2 * y - 1, -1, 1)) / math.pi  # (p - W) / (N - W)
    keep = (progress > 0.02) & (progress < 0.98)
    if keep.sum() < 2:
        keep = progress < 0.999
    if keep.sum() < 2:
        return None
    slope = float(np.polyfit(x[keep] - warmup, progress[keep], 1)[0])
    if slope <= 0:
        return None
    return {"peak": peak, "offset": offset, "warmup": warmup, "total": warmup + 1 / slope}


def fit_family(family: str, steps: np.ndarray, lr: np.ndarray) -> InferredSchedule | None:
    """Fit one family to the points; ``None`` when its shape cannot match them at all."""
    s = np.asarray(steps, dtype=float)
    y = np.asarray(lr, dtype=float)
    finite = np.isfinite(y)
    s, y = s[finite], y[finite]
    if s.size == 0:
        return None
    peak = float(np.max(np.abs(y)))
    params: dict[str, float] | None
    if family == "constant":
        params = {"peak": float(np.median(y))}
    elif family == "step":
        params = _fit_step(s, y)
    elif family == "exponential":
        params = _fit_exponential(s, y)
    elif family in ("linear", "cosine"):
        params = _fit_warmup_decay(family, s, y)
    else:
        raise ValueError(f"unknown schedule family {family!r}")
    if params is None or not all(math.isfinite(v) for v in params.values()):
        return None
    return InferredSchedule(family, params, _error(family, params, s, y, peak), int(s.size))


def infer_schedule(steps: np.ndarray, lr: np.ndarray, rel_tol: float = REL_TOL) -> InferredSchedule | None:
    """The simplest family that reproduces every finite ``(step, lr)`` point within ``rel_tol`` of the peak.

    Args:
        steps: Logged steps, increasing.
        lr: The LR logged at each step.
        rel_tol: Largest error allowed, relative to the peak LR.

    Returns:
        The inferred schedule, or ``None`` when no family fits (fewer than 2 finite points included).
    """
    s = np.asarray(steps, dtype=float)
    y = np.asarray(lr, dtype=float)
    if int(np.isfinite(y).sum()) < 2:
        return None
    best: InferredSchedule | None = None
    for family in FAMILIES:
        got = fit_family(family, s, y)
        if got is None:
            continue
        if got.max_error <= rel_tol:
            return got
        if best is None or got.max_error < best.max_error:
            best = got
    return None


__all__ = ["FAMILIES", "REL_TOL", "InferredSchedule", "fit_family", "infer_schedule"]
