"""Recover unknown schedule inputs from logged rows.

Inverse functions of :mod:`lrguard.schedules.lambdas` and small searches over
:func:`lrguard.schedules.curve.logged_lr`: implied total epochs per row, ``lr0`` from a row, and
batches per epoch ``nb`` from the warmup rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

from lrguard.numeric import median, row_medians
from lrguard.schedules.curve import logged_lr
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers.profile import Profile

# Batches per epoch beyond this are not a real dataset (1M batches of 1 image per epoch), and around
# a guess no more than this many candidates either side are tried: both bound the fit's memory.
MAX_NB = 1_000_000
MAX_NB_SPAN = 2_000


def implied_epochs(ratio: ArrayLike, x: ArrayLike, lrf: float, *, cos_lr: bool = False, offset: int = 0) -> np.ndarray:
    """Total epochs ``E`` for which ``lf(x) == ratio`` (``ratio = lr / initial_lr``).

    Linear: ``E = x / (1 - (r - lrf) / (1 - lrf)) + offset``. Cosine (valid while ``x < E``):
    ``E = pi * x / arccos(1 - 2 (1 - r) / (1 - lrf))``. Rows where the inverse is undefined
    (``x <= 0``, ``r >= 1``, ``r <= lrf`` for cosine) give NaN.

    Args:
        ratio: Logged LR divided by the group's ``initial_lr``.
        x: The ``lf`` argument of each row (see :attr:`Profile.log_lag`).
        lrf: Final LR fraction.
        cos_lr: Cosine instead of linear.
        offset: 1 for YOLOv5 <= v6.0's ``E - 1`` denominator.
    """
    r = np.asarray(ratio, dtype=float)
    xs = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if cos_lr:
            c = 1.0 - 2.0 * (1.0 - r) / (1.0 - lrf)
            ang = np.arccos(np.clip(c, -1.0, 1.0))
            out = np.pi * xs / ang
            bad = (c >= 1.0) | (c <= -1.0)
        else:
            frac = (r - lrf) / (1.0 - lrf)
            out = xs / (1.0 - frac) + offset
            bad = frac >= 1.0
    out = np.where(bad | (xs <= 0) | ~np.isfinite(out), np.nan, out)
    return out


def implied_lr0(lr: ArrayLike, x: ArrayLike, spec: ScheduleSpec, profile: Profile) -> np.ndarray:
    """``initial_lr`` implied by logged ``lr`` at ``lf`` argument ``x`` under ``spec``'s E and lrf."""
    lf = spec.lf(np.asarray(x, dtype=float), profile)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(lr, dtype=float) / lf


def best_integer_epochs(
    lr: ArrayLike, x: ArrayLike, spec: ScheduleSpec, profile: Profile, base: float | None = None
) -> tuple[int | None, float]:
    """The integer total epochs that best reproduces ``lr`` at ``lf`` arguments ``x``.

    Args:
        lr: Logged LR of one group (post-warmup rows).
        x: The ``lf`` argument of each row.
        spec: Supplies ``lrf``, ``cos_lr`` and (unless ``base`` is given) ``lr0``.
        profile: Trainer version rules.
        base: The group's ``initial_lr``; defaults to ``spec.lr0``.

    Returns:
        ``(E, max_relative_error)``; ``(None, inf)`` when no row constrains E.
    """
    lr_a = np.asarray(lr, dtype=float)
    x_a = np.asarray(x, dtype=float)
    b = spec.lr0 if base is None else base
    with np.errstate(divide="ignore", invalid="ignore"):  # lr0 of 0 in a (broken) config
        ratio = lr_a / b
    est = implied_epochs(ratio, x_a, spec.lrf, cos_lr=spec.cos_lr, offset=profile.linear_offset)
    est = est[np.isfinite(est)]
    if est.size == 0:
        return None, math.inf
    centre = median(est)
    # E must exceed the linear offset (YOLOv5 <= v6.0 divides by E - 1).
    lo = max(1 + profile.linear_offset, math.floor(centre * 0.98) - 2)
    hi = max(lo, math.ceil(centre * 1.02) + 2)
    candidates = np.arange(lo, hi + 1)
    # All candidates at once: rows = candidate E, columns = logged rows.
    pred = b * spec.lf_of(x_a[None, :], candidates[:, None].astype(float), profile)
    errs = np.max(np.abs(pred - lr_a[None, :]) / np.maximum(np.abs(lr_a), 1e-30)[None, :], axis=1)
    if not np.isfinite(errs).any():
        return None, math.inf
    k = int(np.nanargmin(errs))
    return int(candidates[k]), float(errs[k])


def warmup_start(row0: np.ndarray, spec: ScheduleSpec, profile: Profile) -> tuple[float | None, float | None]:
    """Warmup progress and lr0 at the end of a fresh run's first epoch, from its first logged row.

    During warmup the warmed-down group shows ``b0 = wb + (lr0 - wb) * r`` and a weight group
    ``w0 = lr0 * r`` with ``r = (nb - 1) / nw``; with ``warmup_bias_lr = wb > 0`` the two give ``r``
    and ``lr0`` without knowing either (so an lr0 edited after the run started does not mislead).

    Returns:
        ``(r, lr0)``; ``(None, None)`` when the row does not determine them.
    """
    ref, b = profile.reference_group, profile.warmup_bias_group
    wb = spec.warmup_bias_lr
    if wb <= 0 or b >= row0.shape[0] or ref >= row0.shape[0]:
        return None, None
    w0, b0 = float(row0[ref]) / profile.lr_scale(ref), float(row0[b]) / profile.lr_scale(b)
    r = (wb + w0 - b0) / wb
    if not (0.0 < r < 1.0) or not np.isfinite(r):
        return None, None
    return r, w0 / r


def _first_row(spec: ScheduleSpec, profile: Profile, nb: np.ndarray, n_groups: int) -> np.ndarray:
    """Logged LR of epoch 0 for every candidate ``nb`` at once, ``(len(nb), n_groups)``.

    Same rule as :func:`lrguard.schedules.curve.logged_lr` for the first row, where ``lf(0) = 1``:
    the warmup value at the epoch's last iteration ``nb - 1``.
    """
    we = float(spec.warmup_epochs)
    if profile.warmup_capped:
        we = min(we, max(spec.epochs - 1, 0))
    if we <= 0 and profile.warmup_zero_disables:
        nw = np.zeros_like(nb)
    else:
        nw = np.maximum(np.round(we * nb), profile.warmup_floor)
    bases = np.array([spec.lr0 * profile.lr_scale(j) for j in range(n_groups)])
    starts = np.zeros(n_groups)
    if profile.warmup_bias_group < n_groups:
        starts[profile.warmup_bias_group] = spec.warmup_bias_lr
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(nw > 0, np.minimum(nb - 1, nw) / nw, 1.0)
    return starts[None, :] + (bases - starts)[None, :] * frac[:, None]


def estimate_nb(
    observed: np.ndarray,
    spec: ScheduleSpec,
    profile: Profile,
    n_rows: int,
    candidates: Iterable[int] | None = None,
) -> tuple[int | None, float]:
    """Batches per epoch ``nb`` that best reproduces the first ``n_rows`` logged rows of a fresh run.

    The first row pins the warmup progress ``r = (nb - 1) / nw`` (see :func:`warmup_start`), and
    ``nw`` is a function of ``nb``; the candidates closest to it are then ranked on all ``n_rows``
    leading rows. The first row does not depend on the total epochs, so an ``epochs`` value edited
    after the run started does not disturb the estimate.

    Args:
        observed: Logged LR ``(rows, groups)`` of a run's first rows (epoch index 0, 1, ...).
        spec: Schedule inputs except ``nb``.
        profile: Trainer version rules.
        n_rows: How many leading rows to use for the ranking.
        candidates: ``nb`` values to try (default: guesses from the first row plus 1..199).

    Returns:
        ``(nb, max_relative_error_on_the_first_row)``, or ``(None, inf)`` when nothing fits.
    """
    rows = observed[:n_rows]
    if rows.size == 0:
        return None, math.inf
    # A results.csv may log fewer groups than the profile has (the context falls back to group 0 too).
    ref = profile.reference_group if profile.reference_group < rows.shape[1] else 0
    if not np.isfinite(rows[0]).any():
        return None, math.inf
    r, lr0_warm = warmup_start(rows[0], spec, profile)
    if lr0_warm is not None:
        spec = spec.with_(lr0=lr0_warm)
    if r is None:
        r = rows[0, ref] / max(spec.lr0 * profile.lr_scale(ref), 1e-30)
    if candidates is None:
        cands: set[int] = set(range(1, 200))
        if 0 < r < 1:
            guesses = []
            if profile.warmup_floor:
                guesses.append(profile.warmup_floor * r + 1)  # nw = floor
            if spec.warmup_epochs > 0 and spec.warmup_epochs * r < 1:
                guesses.append(1.0 / (1.0 - spec.warmup_epochs * r))  # nw = warmup_epochs * nb
            for guess in guesses:
                # w * r close to 1 makes the guess explode: no epoch has more than MAX_NB batches.
                if not guess <= MAX_NB:
                    continue
                span = min(max(3, int(0.05 * guess)), MAX_NB_SPAN)
                cands.update(range(max(1, int(guess) - span), int(guess) + span + 1))
        candidates = sorted(cands)
    cand = np.asarray(sorted(set(int(c) for c in candidates)), dtype=float)
    denom0 = np.maximum(np.abs(rows[0]), 1e-30)
    pred0 = _first_row(spec, profile, cand, rows.shape[1])
    with np.errstate(invalid="ignore"):
        err0 = np.nanmax(np.abs(pred0 - rows[0][None, :]) / denom0[None, :], axis=1)
    if not np.isfinite(err0).any():
        return None, math.inf
    best0 = float(np.nanmin(err0))
    ties = [int(c) for c in cand[err0 <= best0 * 1.5 + 1e-4]]
    # Many nb reproduce a 5-6 digit row equally well when nb is large: rank an even sample of them
    # on all rows, preferring the middle of the tie set when the rows cannot tell them apart.
    if len(ties) > 50:
        ties = [ties[int(k)] for k in np.linspace(0, len(ties) - 1, 50)]
    middle = ties[len(ties) // 2]
    epochs = np.arange(rows.shape[0])
    denom = np.maximum(np.abs(rows), 1e-30)
    best: tuple[int | None, float] = (None, math.inf)
    best_key = (math.inf, math.inf)
    for nb in ties:
        pred = logged_lr(spec.with_(nb=nb), profile, epochs, rows.shape[1])
        err = float(np.nanmax(np.abs(pred - rows) / denom))
        key = (round(err, 6), abs(nb - middle))
        if key < best_key:
            best, best_key = (nb, err), key
    return (best[0], best0) if best[0] is not None else (None, math.inf)


def fit_nb_and_lr0(
    observed: np.ndarray,
    epochs: np.ndarray,
    spec: ScheduleSpec,
    profile: Profile,
    group: int,
    candidates: Iterable[int] | None = None,
) -> tuple[int | None, float | None, float]:
    """Batches per epoch and ``lr0`` together, from one group's first rows of a fresh run.

    For a group whose warmup starts at 0 (every group with ``warmup_bias_lr`` 0, as Ultralytics'
    ``optimizer=auto`` forces) the logged rows are ``lr0`` times a shape that depends on ``nb`` only
    (warmup fraction ``min(nb*e + nb - 1, nw) / nw`` times ``lf``), so each candidate ``nb`` gets the
    ``lr0`` that scales its shape onto the rows, and the candidate with the smallest error wins. All-zero
    rows determine nothing (``lr0`` would be 0): they give ``(None, None, inf)``.

    Args:
        observed: Logged LR of ``group`` on the rows (1-D).
        epochs: 0-based schedule epoch of each row.
        spec: Schedule inputs except ``nb`` and ``lr0``.
        profile: Trainer version rules.
        group: The group (for its LR scale).
        candidates: ``nb`` values to try (default 1..400 plus a geometric grid up to 20000).

    Returns:
        ``(nb, lr0, max_relative_error)``.
    """
    obs = np.asarray(observed, dtype=float)
    e = np.asarray(epochs, dtype=float)
    ok_rows = np.isfinite(obs)
    if not (ok_rows.any() and np.any(obs[ok_rows] > 0)):
        return None, None, math.inf
    if candidates is None:
        cand = np.union1d(np.arange(1, 401), np.unique(np.round(np.geomspace(400, 20000, 80))))
    else:
        cand = np.asarray(sorted(set(int(c) for c in candidates)), dtype=float)
    nb = cand[:, None]
    we = float(spec.warmup_epochs)
    if profile.warmup_capped:
        we = min(we, max(spec.epochs - 1, 0))
    if we <= 0 and profile.warmup_zero_disables:
        nw = np.zeros_like(nb)
    else:
        nw = np.maximum(np.round(we * nb), profile.warmup_floor)
    lf_e = spec.lf(e, profile)[None, :]
    lf_after = spec.lf(np.maximum(e - profile.log_lag, 0.0), profile)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(nw > 0, np.minimum(nb * e[None, :] + nb - 1, nw) / np.maximum(nw, 1), 1.0)
    in_w = (nb * e[None, :] <= nw) & (nw > 0)
    unit = np.where(in_w, lf_e * frac, lf_after) * profile.lr_scale(group)
    valid = ok_rows[None, :] & (unit > 0) & (obs[None, :] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(valid, obs[None, :] / unit, np.nan)
    lr0 = row_medians(ratio)
    pred = lr0[:, None] * unit
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(pred - obs[None, :]) / np.maximum(np.abs(obs[None, :]), 1e-12)
    err = np.where(ok_rows[None, :], err, 0.0)
    worst = np.where(np.isfinite(lr0) & (lr0 > 0), np.max(err, axis=1), np.inf)
    if not np.isfinite(worst).any():
        return None, None, math.inf
    best = float(np.min(worst))
    ties = np.nonzero(worst <= best * 1.5 + 1e-6)[0]
    k = int(ties[len(ties) // 2])  # rows that cannot tell nb apart: the middle of the tie set
    return int(cand[k]), float(lr0[k]), float(worst[k])
