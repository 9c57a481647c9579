"""Stretches: consecutive post-warmup rows that follow one smooth schedule, and where they break."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lrguard.diagnosis.context import Context
from lrguard.diagnosis.departures.common import ok
from lrguard.numeric import median
from lrguard.schedules.fit import best_integer_epochs


@dataclass
class Stretch:
    """Consecutive post-warmup rows that follow one smooth schedule."""

    rows: np.ndarray
    cfg_err: float
    epochs_fit: int | None
    epochs_err: float
    base_fit: float | None
    base_err: float

    @property
    def first(self) -> int:
        """Index of the stretch's first row."""
        return int(self.rows[0])

    @property
    def last(self) -> int:
        """Index of the stretch's last row."""
        return int(self.rows[-1])


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest relative difference of ``b`` from ``a`` over finite entries (``inf`` when none)."""
    if a.size == 0:
        return math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(a - b) / np.maximum(np.abs(a), 1e-30)
    err = err[np.isfinite(err)]
    return float(err.max()) if err.size else math.inf


def fit_stretch(ctx: Context, rows: np.ndarray) -> Stretch:
    """Fit a stretch: error against the configuration, best total epochs, best base LR."""
    obs = ctx.obs[rows]
    x = np.maximum(ctx.epoch_index[rows] - ctx.profile.log_lag, 0).astype(float)
    # The first row of a YOLOv5-style resumed session shows the checkpoint's LR: use the rule anyway,
    # it equals lf(e - 1) of the schedule that wrote the checkpoint.
    base = ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref)
    cfg_err = max_rel(obs, ctx.planned[rows, ctx.ref])
    e_fit, e_err = best_integer_epochs(obs, x, ctx.spec, ctx.profile, base=base)
    lf = ctx.spec.lf(x, ctx.profile)
    with np.errstate(divide="ignore", invalid="ignore"):
        bases = obs / lf
    bases = bases[np.isfinite(bases) & (bases > 0)]
    if bases.size:
        b = median(bases)
        b_err = max_rel(obs, b * lf)
    else:
        b, b_err = None, math.inf
    return Stretch(rows=rows, cfg_err=cfg_err, epochs_fit=e_fit, epochs_err=e_err, base_fit=b, base_err=b_err)


def is_break_down(ctx: Context, current: np.ndarray, i: int) -> bool:
    """Whether row ``i`` drops far more than the rows before it were falling (a schedule change).

    Row ``i`` breaks the stretch when it is off the schedule the stretch's rows follow (same lr0,
    fitted total epochs), e.g. total epochs reduced on resume. When no single schedule fits the
    stretch, a drop of at least 5% that is more than three times the recent per-row decrease counts.
    """
    obs = ctx.obs
    prev = int(current[-1])
    drop = float(obs[prev] - obs[i])
    if not drop > 3 * ctx.tol * float(obs[prev]):
        return False
    # Best test: does row i continue the schedule the stretch so far follows (same lr0, fitted E)?
    base = ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref)
    x = np.maximum(ctx.epoch_index[current] - ctx.profile.log_lag, 0).astype(float)
    e_fit, err = best_integer_epochs(obs[current], x, ctx.spec, ctx.profile, base=base)
    if e_fit is not None and ok(err, ctx):
        x_i = max(float(ctx.epoch_index[i] - ctx.profile.log_lag), 0.0)
        predicted = base * float(ctx.spec.with_(epochs=e_fit).lf(x_i, ctx.profile))
        return not ctx.close(float(obs[i]), predicted, 3 * ctx.tol)
    # Otherwise compare with the recent per-row decrease.
    if len(current) < 3 or not drop > max(0.05, 10 * ctx.tol) * float(obs[prev]):
        return False
    recent = current[-6:]
    steps = obs[recent[:-1]] - obs[recent[1:]]
    return drop > 3 * max(median(steps), 0.0)


def _follows_one_schedule(st: Stretch, ctx: Context) -> bool:
    """Whether a stretch follows the configuration, or one schedule with other total epochs or base LR."""
    return ok(st.cfg_err, ctx) or ok(st.epochs_err, ctx) or ok(st.base_err, ctx)


def is_break_at_resume(ctx: Context, before: np.ndarray, after: np.ndarray) -> bool:
    """Whether a resume separates rows that follow two different schedules, with or without a visible step.

    A resume can change the schedule without any step of the LR (e.g. more total epochs: the LR
    then only decays more slowly). The rows ``before`` (the stretch so far) and ``after`` (the
    resumed session's rows from the candidate on) break apart when together they follow no single
    schedule (configured, other total epochs, other base LR) while each side, of at least two rows,
    follows the configuration or a schedule with other total epochs.
    """
    if before.size < 2 or after.size < 2:
        return False
    if _follows_one_schedule(fit_stretch(ctx, np.concatenate([before, after])), ctx):
        return False

    def fits(st: Stretch) -> bool:
        return ok(st.cfg_err, ctx) or ok(st.epochs_err, ctx)

    return fits(fit_stretch(ctx, before)) and fits(fit_stretch(ctx, after))


def _resume_candidates(ctx: Context, rows: np.ndarray) -> dict[int, int]:
    """Row -> last row of its session, for the rows where a resumed session's schedule can take over.

    That is the session's first row and, where the first resumed row still shows the LR restored
    from the checkpoint (``resume_row_restored``), the row after it.
    """
    out: dict[int, int] = {}
    for s in ctx.sessions:
        if s.start != "resume":
            continue
        firsts = [s.first_row, s.first_row + 1] if ctx.profile.resume_row_restored else [s.first_row]
        for r in firsts:
            if r <= s.last_row:
                out[r] = s.last_row
    return out


def cut_stretches(ctx: Context) -> tuple[list[Stretch], list[int], list[int]]:
    """Cut post-warmup rows into stretches; return them and the rows where the LR stepped up / down.

    A stretch ends at a warmup row, at a restart or rewind of the epoch column (a new lineage), at
    an upward step, at a drop much steeper than the stretch's recent slope, and at a resume after
    which the rows follow another schedule than before (:func:`is_break_at_resume`; reported with
    the drops, since the LR did not rise). The candidate rows are found with array operations;
    only those are examined one by one.
    """
    obs = ctx.obs
    keep = ~ctx.in_warmup & np.isfinite(obs)
    if ctx.row_range is not None:
        lo, hi = ctx.row_range
        keep[:lo] = False
        keep[hi + 1 :] = False
    rows = np.nonzero(keep)[0]
    if rows.size == 0:
        return [], [], []
    prev, cur = rows[:-1], rows[1:]
    warm_count = np.cumsum(ctx.in_warmup)
    warm_between = (warm_count[cur - 1] - warm_count[prev]) > 0
    new_start = np.array([s.start in ("restart", "rewind") for s in ctx.sessions], dtype=bool)
    sess = ctx.session_of_row
    new_lineage = (sess[cur] != sess[prev]) & new_start[sess[cur]]
    up = obs[cur] > obs[prev] * (1 + ctx.tol)
    # A drop is a candidate when it is clearly steeper than the step before it; the fit-based test in
    # is_break_down then decides whether it leaves the stretch's schedule.
    step = obs[prev] - obs[cur]
    step_before = np.concatenate([[np.inf], step[:-1]])
    big_drop = (step > 3 * ctx.tol * obs[prev]) & (step > 1.3 * step_before)
    seams = _resume_candidates(ctx, rows)
    at_seam = np.isin(cur, np.fromiter(seams, dtype=int, count=len(seams)))
    candidates = np.nonzero(warm_between | new_lineage | up | big_drop | at_seam)[0] + 1
    groups: list[np.ndarray] = []
    ups: list[int] = []
    downs: list[int] = []
    start = 0
    for k in (int(c) for c in candidates):
        i = int(rows[k])
        if warm_between[k - 1] or new_lineage[k - 1]:
            pass
        elif up[k - 1]:
            ups.append(i)
        elif (big_drop[k - 1] and is_break_down(ctx, rows[start:k], i)) or (
            i in seams and is_break_at_resume(ctx, rows[start:k], rows[k:][rows[k:] <= seams[i]])
        ):
            downs.append(i)
        else:
            continue
        groups.append(rows[start:k])
        start = k
    groups.append(rows[start:])
    return [fit_stretch(ctx, g) for g in groups if g.size], ups, downs
