"""Departures of the logged LR from its plan within a run's lineage, and the mechanism behind each.

The post-warmup rows of the reference group are cut into *stretches* at every upward step. Each
stretch is compared with the configured schedule and fitted for the two unknowns that resume
mechanics change: the total epochs ``E`` and the base LR. The transition between two stretches is
then attributed (mechanisms M3, M4, M6, M7, M10, M13 and the cosine past its end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.diagnosis.losses import loss_effect
from lrguard.model import Cause, Finding, Severity
from lrguard.numeric import median
from lrguard.schedules.curve import nw_of
from lrguard.schedules.fit import best_integer_epochs, implied_epochs
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers import get_trainer


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


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(a - b) / np.maximum(np.abs(a), 1e-30)
    err = err[np.isfinite(err)]
    return float(err.max()) if err.size else math.inf


def _fit_stretch(ctx: Context, rows: np.ndarray) -> Stretch:
    obs = ctx.obs[rows]
    x = np.maximum(ctx.epoch_index[rows] - ctx.profile.log_lag, 0).astype(float)
    # The first row of a YOLOv5-style resumed session shows the checkpoint's LR: use the rule anyway,
    # it equals lf(e - 1) of the schedule that wrote the checkpoint.
    base = ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref)
    cfg_err = _max_rel(obs, ctx.planned[rows, ctx.ref])
    e_fit, e_err = best_integer_epochs(obs, x, ctx.spec, ctx.profile, base=base)
    lf = ctx.spec.lf(x, ctx.profile)
    with np.errstate(divide="ignore", invalid="ignore"):
        bases = obs / lf
    bases = bases[np.isfinite(bases) & (bases > 0)]
    if bases.size:
        b = median(bases)
        b_err = _max_rel(obs, b * lf)
    else:
        b, b_err = None, math.inf
    return Stretch(rows=rows, cfg_err=cfg_err, epochs_fit=e_fit, epochs_err=e_err, base_fit=b, base_err=b_err)


def _is_break_down(ctx: Context, current: np.ndarray, i: int) -> bool:
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
    if e_fit is not None and _ok(err, ctx):
        x_i = max(float(ctx.epoch_index[i] - ctx.profile.log_lag), 0.0)
        predicted = base * float(ctx.spec.with_(epochs=e_fit).lf(x_i, ctx.profile))
        return not ctx.close(float(obs[i]), predicted, 3 * ctx.tol)
    # Otherwise compare with the recent per-row decrease.
    if len(current) < 3 or not drop > max(0.05, 10 * ctx.tol) * float(obs[prev]):
        return False
    recent = current[-6:]
    steps = obs[recent[:-1]] - obs[recent[1:]]
    return drop > 3 * max(median(steps), 0.0)


def _stretches(ctx: Context) -> tuple[list[Stretch], list[int], list[int]]:
    """Cut post-warmup rows into stretches; return them and the rows where the LR stepped up / down.

    A stretch ends at a warmup row, at a restart or rewind of the epoch column (a new lineage), at
    an upward step, and at a drop much steeper than the stretch's recent slope. The candidate rows
    are found with array operations; only those are examined one by one.
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
    # _is_break_down then decides whether it leaves the stretch's schedule.
    step = obs[prev] - obs[cur]
    step_before = np.concatenate([[np.inf], step[:-1]])
    big_drop = (step > 3 * ctx.tol * obs[prev]) & (step > 1.3 * step_before)
    candidates = np.nonzero(warm_between | new_lineage | up | big_drop)[0] + 1
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
        elif _is_break_down(ctx, rows[start:k], i):
            downs.append(i)
        else:
            continue
        groups.append(rows[start:k])
        start = k
    groups.append(rows[start:])
    return [_fit_stretch(ctx, g) for g in groups if g.size], ups, downs


def _ok(err: float, ctx: Context) -> bool:
    return err <= 3 * ctx.tol


def _epoch(ctx: Context, i: int) -> int:
    return int(ctx.run.epochs[i])


def _col(ctx: Context) -> str:
    return ctx.run.lr_columns[ctx.ref]


def _config_name(ctx: Context) -> str:
    return get_trainer(ctx.run.framework).config_file


def _resume_note(ctx: Context, i: int) -> tuple[int, str | None]:
    """First resumed epoch (run's epoch column) for a jump at row ``i``, and a line on how we know."""
    restored = ctx.profile.resume_row_restored
    start_row = i - 1 if restored and i > 0 else i
    s_epoch = _epoch(ctx, start_row)
    for r in (start_row, i):
        sess = ctx.sessions[ctx.session_of_row[r]]
        if sess.first_row == r and sess.index > 0:
            return s_epoch, f"a new training session starts at epoch {_epoch(ctx, r)}: {sess.evidence}"
    if restored:
        return s_epoch, (
            f"consistent with a resume at epoch {s_epoch}: the first resumed epoch still runs at the LR restored "
            "from the checkpoint, the changed schedule applies from the next epoch"
        )
    return s_epoch, None


def _checkpoint_lines(ctx: Context) -> list[str]:
    lines = []
    for f in ctx.run.checkpoints:
        if f.epoch is None or f.stripped:
            continue
        bits = [f"{f.path.name}: epoch {f.epoch}"]
        ta = f.train_args or {}
        if ta.get("epochs") is not None:
            bits.append(f"epochs {ta.get('epochs')}")
        if f.lrs and f.initial_lrs and f.initial_lrs[0]:
            ratios = [lr / ilr for lr, ilr in zip(f.lrs, f.initial_lrs, strict=False) if ilr]
            if ratios:
                bits.append(f"lr/initial_lr {ratios[0]:.6g}")
        lines.append(", ".join(bits))
    return lines


def _lr_end_target(ctx: Context) -> float:
    return ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref) * ctx.spec.lrf


def _finding(
    ctx: Context,
    cause: Cause,
    i: int,
    title: str,
    evidence: list[str],
    fix: str | None,
    data: dict,
    severity: Severity = Severity.WARNING,
) -> Finding:
    line, loss_data = loss_effect(ctx, i)
    if line:
        evidence.append(line)
    data = {**data, **loss_data}
    return Finding(
        cause=cause, severity=severity, epoch=_epoch(ctx, i), row=i, title=title, evidence=evidence, fix=fix, data=data
    )


def detect_lr_departures(ctx: Context) -> list[Finding]:
    """Explain every upward step of the reference LR after warmup (see module docstring).

    Every training run in the file (appended runs included) is examined against its own schedule.
    """
    findings: list[Finding] = []
    for k in range(len(ctx.lineages)):
        findings.extend(_departures(ctx.for_lineage(k)))
    if not ctx.lineages:
        findings.extend(_departures(ctx))
    findings.extend(_resume_blips(ctx))
    return findings


def _departures(ctx: Context) -> list[Finding]:
    stretches, ups, downs = _stretches(ctx)
    if not stretches:
        return []
    obs = ctx.obs
    by_first = {s.first: k for k, s in enumerate(stretches)}
    findings: list[Finding] = []
    spec = ctx.spec
    n_cfg = spec.epochs
    base = spec.lr0 * ctx.profile.lr_scale(ctx.ref)
    time_mode = get_trainer(ctx.run.framework).time_budget(ctx.run.hyp)

    if time_mode:
        return _time_budget(ctx, stretches, ups)

    skip: set[int] = set()
    explained: tuple[int, np.ndarray] | None = None  # (first row, predicted LR of every row)
    for i in sorted(ups + downs):
        if i in skip:
            continue
        if explained is not None and i > explained[0] and ctx.close(float(obs[i]), float(explained[1][i]), 3 * ctx.tol):
            continue  # this step belongs to a schedule already explained
        explained = None
        down = i in downs
        k = by_first[i]
        prev = stretches[k - 1] if k > 0 else None
        cur = stretches[k]
        lr_b, lr_a = float(obs[i - 1]), float(obs[i])
        rise = ctx.rel(lr_a, lr_b)  # inf after a logged LR of 0
        s_epoch, how = _resume_note(ctx, i)
        s_idx = s_epoch - ctx.profile.epoch_base
        head = (
            f"line {int(ctx.run.table.line_numbers[i])} (epoch {_epoch(ctx, i)}): {_col(ctx)} {'fell' if down else 'rose'} from {lr_b:.6g} "
            f"to {lr_a:.6g} ({rise:+.1%}); the plan from {_config_name(ctx)} has {ctx.planned[i, ctx.ref]:.6g} there"
        )
        evidence = [head] + ([how] if how else [])
        data: dict[str, Any] = {
            "lr_before": lr_b,
            "lr_after": lr_a,
            "rise": rise,
            "planned_lr": float(ctx.planned[i, ctx.ref]),
            "resume_epoch": s_epoch,
        }

        # A resume whose optimizer state was not restored: the first resumed row sits at lr0 (a
        # fresh optimizer), then the curve of the new settings; M10 below is the same row at lr0
        # followed by the old curve with the old settings.
        nostate = None if down else _without_optimizer_state(ctx, i, cur, prev, base)
        if nostate is not None:
            e_old, e_after, curve, lines = nostate
            evidence = [head, *lines]  # row i itself is the first resumed epoch: no restored LR on it
            data.update(
                {
                    "resume_epoch": _epoch(ctx, i),
                    "lr0": base,
                    "implied_epochs_before": e_old,
                    "implied_epochs_after": e_after,
                }
            )
            findings.append(
                _finding(
                    ctx,
                    Cause.RESUME_WITHOUT_OPTIMIZER_STATE,
                    i,
                    f"resumed at epoch {_epoch(ctx, i)} without the optimizer state: the first resumed epoch ran at "
                    f"lr0 {base:.6g}, then the schedule of the new settings",
                    evidence + _checkpoint_lines(ctx),
                    fixes.resume_without_optimizer_state(
                        ctx.run, lr_b, _lr_end_target(ctx), max((e_after or n_cfg) - int(ctx.epoch_index[i]), 1)
                    ),
                    data,
                )
            )
            explained = (i, curve)
            continue

        # M10: one row at lr0, then straight back to the old curve.
        nxt = i + 1
        if (
            not down
            and abs(ctx.rel(lr_a, base)) < 0.02
            and nxt < ctx.run.n_rows
            and np.isfinite(obs[nxt])
            and obs[nxt] < lr_a * (1 - ctx.tol)
            and prev is not None
            and _ok(prev.cfg_err, ctx)
            and ctx.close(float(obs[nxt]), float(ctx.planned[nxt, ctx.ref]), 3 * ctx.tol)
        ):
            evidence.append(f"the next epoch is back on plan ({obs[nxt]:.6g}): one epoch ran at lr0 = {base:.6g}")
            findings.append(
                _finding(
                    ctx,
                    Cause.SCHEDULER_BUILT_AFTER_LOAD,
                    i,
                    f"the first epoch after the resume at epoch {s_epoch} ran at lr0",
                    evidence,
                    fixes.scheduler_after_load(ctx.run),
                    data,
                )
            )
            continue

        e_before = n_cfg if (prev is None or _ok(prev.cfg_err, ctx)) else prev.epochs_fit
        e_before_ok = prev is None or _ok(prev.cfg_err, ctx) or _ok(prev.epochs_err, ctx)

        # M4: epochs below the epoch reached means "N more epochs".
        if n_cfg < s_idx:
            ext_linear = spec.with_(epochs=n_cfg + s_idx - 1)
            x = np.maximum(ctx.epoch_index[cur.rows] - ctx.profile.log_lag, 0)
            cand = ext_linear if not spec.cos_lr else spec
            pred = base * cand.lf(x, ctx.profile)
            if _ok(_max_rel(obs[cur.rows], pred), ctx) or (spec.cos_lr and cur.rows.size):
                kind = (
                    "cosine keeps its period" if spec.cos_lr else f"the linear schedule now spans {n_cfg + s_idx - 1}"
                )
                evidence.append(
                    f"{_config_name(ctx)} says epochs: {n_cfg}, fewer than the {s_idx} already trained: on resume the "
                    f"trainer adds the checkpoint's epoch ({s_idx - 1}) and {kind}"
                )
                data.update(
                    {
                        "implied_epochs_before": e_before,
                        "config_epochs": n_cfg,
                        "implied_epochs_after": n_cfg + s_idx - 1 if not spec.cos_lr else n_cfg,
                    }
                )
                findings.append(
                    _finding(
                        ctx,
                        Cause.FINETUNE_EXTENSION,
                        i,
                        f"resume with epochs {n_cfg} < epoch reached ({s_idx}): schedule rebuilt as '{n_cfg} more epochs'",
                        evidence + _checkpoint_lines(ctx),
                        fixes.finetune_extension(ctx.run, e_before or n_cfg, n_cfg, lr_b, _lr_end_target(ctx), s_idx),
                        data,
                    )
                )
                # The rebuilt schedule explains every later row it reproduces, including the rows
                # where a cosine climbs back: those are not new departures.
                followed = _rows_following(
                    ctx, i, pred_fn=lambda rows, c=cand: base * c.lf(_lf_x(ctx, rows), ctx.profile)
                )
                skip.update(j for j in ups + downs if j > i and j <= followed[-1])
                if spec.cos_lr:
                    findings.extend(_past_end(ctx, followed, n_cfg))
                continue

        if _ok(cur.cfg_err, ctx) and prev is not None and not _ok(prev.cfg_err, ctx):
            # The new stretch follows the configuration; the old one did not.
            if _ok(prev.epochs_err, ctx) and prev.epochs_fit is not None and prev.epochs_fit != n_cfg:
                findings.append(_epochs_changed(ctx, i, prev.epochs_fit, n_cfg, evidence, data, lr_b, s_idx))
                explained = (i, ctx.planned[:, ctx.ref])
                continue
            if _ok(prev.base_err, ctx) and prev.base_fit is not None:
                findings.append(_hyp_changed(ctx, i, prev.base_fit, base, evidence, data, lr_b))
                explained = (i, ctx.planned[:, ctx.ref])
                continue
        if not _ok(cur.cfg_err, ctx):
            if _ok(cur.epochs_err, ctx) and cur.epochs_fit is not None and e_before_ok and cur.epochs_fit != e_before:
                if cur.epochs_fit != n_cfg:
                    evidence.append(
                        f"{_config_name(ctx)} says epochs: {n_cfg}, yet the LR follows {cur.epochs_fit}: the schedule "
                        "was changed in a way the run's files do not record (a patched checkpoint or trainer?)"
                    )
                findings.append(_epochs_changed(ctx, i, e_before or n_cfg, cur.epochs_fit, evidence, data, lr_b, s_idx))
                explained = (i, _curve(ctx, spec.with_(epochs=cur.epochs_fit), base))
                continue
            if _ok(cur.base_err, ctx) and cur.base_fit is not None:
                findings.append(_hyp_changed(ctx, i, base, cur.base_fit, evidence, data, lr_b))
                explained = (i, _curve(ctx, spec, cur.base_fit))
                continue
        # M13: resumed row repeats the previous LR (tiny blip), then back on plan. A drop no
        # mechanism explains is not reported: only upward departures are a problem on their own.
        if down or ctx.close(lr_a, lr_b, 3 * ctx.tol):
            continue
        evidence.append(
            f"no known mechanism reproduces it: implied total epochs after the step {cur.epochs_fit} "
            f"(fit error {cur.epochs_err:.1e}), implied base LR {cur.base_fit if cur.base_fit is None else f'{cur.base_fit:.6g}'}"
        )
        findings.append(
            _finding(
                ctx,
                Cause.LR_OFF_PLAN,
                i,
                f"the LR left its schedule at epoch {_epoch(ctx, i)} ({rise:+.1%})",
                evidence + _checkpoint_lines(ctx),
                fixes.continuation(ctx.run, lr_b, _lr_end_target(ctx), max(n_cfg - s_idx, 1)),
                data,
            )
        )
    return findings


def _without_optimizer_state(
    ctx: Context, i: int, cur: Stretch, prev: Stretch | None, base: float
) -> tuple[int | None, int | None, np.ndarray, list[str]] | None:
    """Whether the up-step at row ``i`` is a resume with a fresh optimizer.

    Returns ``(E before, E after, predicted curve, evidence)``, or ``None``.

    Row ``i`` must sit at ``lr0`` (the LR a freshly built optimizer starts with), the rows before it
    well below, and the rows after it must follow one schedule below ``lr0`` that is not the one the
    rows before followed (that case, the old curve resumed, is M10).
    """
    obs = ctx.obs
    if prev is None or i < 1 or cur.rows.size < 2 or not ctx.close(float(obs[i]), base, 3 * ctx.tol):
        return None
    if ctx.spec.epochs < int(ctx.epoch_index[i]):
        return None  # epochs below the epoch reached: the fine-tune extension (M4) rebuilt the schedule
    if not obs[i - 1] < base * (1 - 10 * ctx.tol):
        return None
    after = cur.rows[1:]
    if not np.all(obs[after] < base * (1 - ctx.tol)):
        return None
    fit = _fit_stretch(ctx, after)
    spec = ctx.spec
    if _ok(fit.cfg_err, ctx):
        e_after, curve = spec.epochs, _curve(ctx, spec, base)
        follows = f"the plan of {_config_name(ctx)} (epochs: {spec.epochs})"
    elif _ok(fit.epochs_err, ctx) and fit.epochs_fit is not None:
        e_after, curve = fit.epochs_fit, _curve(ctx, spec.with_(epochs=fit.epochs_fit), base)
        follows = f"a schedule over {fit.epochs_fit} epochs with lr0 {base:.6g}"
    else:
        return None
    old = prev.epochs_fit if _ok(prev.epochs_err, ctx) else (spec.epochs if _ok(prev.cfg_err, ctx) else None)
    if old is not None and old == e_after:
        return None  # the old curve goes on: not a change of settings
    lines = [
        f"{_col(ctx)} {obs[i]:.6g} on the first resumed row is lr0 itself: the optimizer was built fresh from the "
        "hyperparameters, not restored from the checkpoint (a stripped or optimizer-less checkpoint)",
        f"from the next row the LR follows {follows}"
        + (f"; before the resume it followed {old} epochs" if old is not None else ""),
    ]
    return old, e_after, curve, lines


def _curve(ctx: Context, spec: ScheduleSpec, base: float) -> np.ndarray:
    """Reference-group LR of every row under ``spec`` with initial LR ``base`` (post-warmup rule)."""
    return base * spec.lf(np.maximum(ctx.epoch_index - ctx.profile.log_lag, 0), ctx.profile)


def _epochs_changed(
    ctx: Context, i: int, e_b: int, e_a: int, evidence: list[str], data: dict, lr_b: float, s_idx: int
) -> Finding:
    evidence.append(
        f"implied total epochs: {e_b} before the step, {e_a} after ({_config_name(ctx)} now says "
        f"epochs: {ctx.spec.epochs})"
    )
    evidence.extend(_checkpoint_lines(ctx))
    data.update({"implied_epochs_before": e_b, "implied_epochs_after": e_a, "config_epochs": ctx.spec.epochs})
    up = e_a > e_b
    return _finding(
        ctx,
        Cause.EPOCHS_CHANGED_ON_RESUME,
        i,
        f"total epochs changed from {e_b} to {e_a} on resume: the LR {'jumps up' if up else 'drops'} to the new curve",
        evidence,
        fixes.epochs_changed(ctx.run, e_b, e_a, lr_b, _lr_end_target(ctx), s_idx),
        data,
        Severity.WARNING,
    )


def _hyp_changed(
    ctx: Context, i: int, b_before: float, b_after: float, evidence: list[str], data: dict, lr_b: float
) -> Finding:
    evidence.append(f"implied lr0: {b_before:.6g} before the step, {b_after:.6g} after (same total epochs)")
    data.update({"lr0_before": b_before, "lr0_after": b_after})
    remaining = ctx.spec.epochs - int(ctx.epoch_index[i])
    return _finding(
        ctx,
        Cause.HYP_CHANGED_ON_RESUME,
        i,
        f"lr0 changed from {b_before:.6g} to {b_after:.6g} between sessions",
        evidence,
        fixes.hyp_changed(ctx.run, f"lr0: {b_before:.6g}", lr_b, _lr_end_target(ctx), remaining),
        data,
    )


def _lf_x(ctx: Context, rows: np.ndarray) -> np.ndarray:
    return np.maximum(ctx.epoch_index[rows] - ctx.profile.log_lag, 0).astype(float)


def _rows_following(ctx: Context, i: int, pred_fn) -> np.ndarray:
    """Rows ``i, i+1, ...`` of the same lineage whose reference LR matches ``pred_fn(rows)``."""
    end = ctx.run.n_rows - 1 if ctx.row_range is None else ctx.row_range[1]
    for s in ctx.sessions:
        if s.first_row > i and s.start in ("restart", "rewind"):
            end = s.first_row - 1
            break
    rows = np.arange(i, end + 1)
    pred = pred_fn(rows)
    obs = ctx.obs[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = np.abs(obs - pred) <= 3 * ctx.tol * np.maximum(np.abs(obs), 1e-30)
    bad = np.nonzero(~ok)[0]
    stop = int(bad[0]) if bad.size else rows.size
    return rows[: max(stop, 1)]


def _past_end(ctx: Context, rows: np.ndarray, period: int) -> list[Finding]:
    """First row of ``rows`` where a cosine of half-period ``period`` climbs back (x mod 2N in (N, 2N))."""
    x = ctx.epoch_index[rows] - ctx.profile.log_lag
    past = rows[np.mod(x, 2 * period) > period]
    if past.size == 0:
        return []
    i = int(past[0])
    return [
        Finding(
            cause=Cause.SCHEDULE_PAST_END,
            severity=Severity.WARNING,
            epoch=_epoch(ctx, i),
            row=i,
            title=f"the cosine schedule runs past its period ({period} epochs) from epoch {_epoch(ctx, i)} and climbs back",
            evidence=[f"cos_lr with epochs {period}: lf(x) rises again for x > {period} (period {2 * period})"],
            fix=fixes.past_end(ctx.run),
            data={"period": period},
        )
    ]


def _time_budget(ctx: Context, stretches: list[Stretch], ups: list[int]) -> list[Finding]:
    """Ultralytics ``time=``: the total epochs are re-estimated after every epoch (M7).

    Every post-warmup row implies its own total epochs; the finding points at the first row where
    that estimate grew (the schedule was stretched), or at the first upward LR step.
    """
    rows = np.array([r for s in stretches for r in s.rows], dtype=int)
    if ctx.spec.nb:
        # The row where warmup ends also shows lr0 * lf(e) of the schedule in force: include it.
        nw = nw_of(ctx.spec, ctx.profile)
        handoff = np.nonzero(ctx.in_warmup & (ctx.epoch_index * ctx.spec.nb + ctx.spec.nb - 1 > nw))[0]
        rows = np.union1d(rows, handoff).astype(int)
    base = ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref)
    implied: list[tuple[int, int]] = []
    if rows.size and base > 0:
        x = np.maximum(ctx.epoch_index[rows] - ctx.profile.log_lag, 0)
        est = implied_epochs(ctx.obs[rows] / base, x, ctx.spec.lrf, cos_lr=ctx.spec.cos_lr)
        implied = [(int(r), round(float(e))) for r, e in zip(rows, est, strict=True) if np.isfinite(e)]
    grew = next((implied[k][0] for k in range(1, len(implied)) if implied[k][1] > implied[k - 1][1]), None)
    distinct = [e for k, (_, e) in enumerate(implied) if k == 0 or e != implied[k - 1][1]]
    # The finding points at the jump: the first row whose LR rose; only a schedule that bends without
    # ever rising is located where the estimate first grew.
    if ups:
        first = ups[0]
    elif grew is not None:
        first = grew
    else:
        first = implied[0][0] if implied else stretches[0].first
    evidence = [
        f"args.yaml: time={ctx.run.hyp.get('time')} h, epochs={ctx.run.config.get('epochs')}: the trainer "
        "re-plans the total epochs from the measured epoch time after every epoch and rebuilds the scheduler",
        "total epochs implied by the logged LR, epoch by epoch: "
        + " -> ".join(str(e) for e in distinct[:14])
        + (" ..." if len(distinct) > 14 else ""),
    ]
    if grew is not None:
        evidence.append(f"the estimate first grew at epoch {_epoch(ctx, grew)}: the schedule was stretched mid-run")
    if ups:
        evidence.append(
            f"the LR stepped up {len(ups)} time(s), first at epoch {_epoch(ctx, ups[0])} "
            f"({ctx.obs[ups[0] - 1]:.6g} -> {ctx.obs[ups[0]]:.6g})"
        )
    evidence.append(
        "a resume restarts the time budget and re-estimates from the new session's speed, which can make the LR "
        "jump at the resumed epoch"
    )
    final = implied[-1][1] if implied else None
    moving = len(distinct) > 1 or bool(ups)
    return [
        _finding(
            ctx,
            Cause.TIME_BUDGET_REESTIMATION,
            first,
            "time= re-estimates the total epochs every epoch; the LR follows a moving target"
            + (f" ({distinct[0]} -> {distinct[-1]} epochs)" if len(distinct) > 1 else ""),
            evidence,
            fixes.time_budget(ctx.run, final),
            {"implied_epochs": [e for _, e in implied]},
            Severity.WARNING if moving else Severity.INFO,
        )
    ]


def _resume_blips(ctx: Context) -> list[Finding]:
    """M13: at a known resume the first row repeats the previous LR although the plan fell."""
    out: list[Finding] = []
    if ctx.profile.resume_row_restored is False:
        return out
    for s in ctx.sessions[1:]:
        i = s.first_row
        if s.start != "resume" or i < 1 or ctx.in_warmup[i]:
            continue
        if ctx.profile.checkpoint_lr_lag and ctx.close(float(ctx.obs[i]), float(ctx.obs[i - 1])):
            out.append(
                Finding(
                    cause=Cause.RESUME_LR_BLIP,
                    severity=Severity.INFO,
                    epoch=_epoch(ctx, i),
                    row=i,
                    title=f"the first resumed epoch ({_epoch(ctx, i)}) repeated the previous epoch's LR",
                    evidence=[
                        f"{_col(ctx)} {ctx.obs[i]:.6g} equals the row before; the checkpoint held the pre-step LR"
                    ],
                )
            )
    return out
