"""Helpers every departure rule shares: tolerances, names, evidence lines and the findings they build."""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.diagnosis.losses import loss_effect
from lrguard.model import Cause, Finding, Severity
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers import get_trainer


def ok(err: float, ctx: Context) -> bool:
    """Whether a relative fit error is within the run's tolerance (3x the logging precision)."""
    return err <= 3 * ctx.tol


def epoch_of(ctx: Context, i: int) -> int:
    """Epoch of row ``i`` in the run's own numbering."""
    return int(ctx.run.epochs[i])


def ref_column(ctx: Context) -> str:
    """The results.csv column of the reference group."""
    return ctx.run.lr_columns[ctx.ref]


def config_name(ctx: Context) -> str:
    """The run-directory file whose keys the fix texts name (``opt.yaml``, ``args.yaml``)."""
    return get_trainer(ctx.run.framework).config_file


def resume_note(ctx: Context, i: int) -> tuple[int, str | None]:
    """First resumed epoch (run's epoch column) for a jump at row ``i``, and a line on how we know."""
    restored = ctx.profile.resume_row_restored
    start_row = i - 1 if restored and i > 0 else i
    s_epoch = epoch_of(ctx, start_row)
    for r in (start_row, i):
        sess = ctx.sessions[ctx.session_of_row[r]]
        if sess.first_row == r and sess.index > 0:
            return s_epoch, f"a new training session starts at epoch {epoch_of(ctx, r)}: {sess.evidence}"
    if restored:
        return s_epoch, (
            f"consistent with a resume at epoch {s_epoch}: the first resumed epoch still runs at the LR restored "
            "from the checkpoint, the changed schedule applies from the next epoch"
        )
    return s_epoch, None


def checkpoint_lines(ctx: Context) -> list[str]:
    """Evidence lines on each unstripped checkpoint: epoch, configured epochs, lr/initial_lr."""
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


def lr_end_target(ctx: Context) -> float:
    """The reference group's final LR under the configured schedule (``lr0 * lrf``)."""
    return ctx.spec.lr0 * ctx.profile.lr_scale(ctx.ref) * ctx.spec.lrf


def finding(
    ctx: Context,
    cause: Cause,
    i: int,
    title: str,
    evidence: list[str],
    fix: str | None,
    data: dict,
    severity: Severity = Severity.WARNING,
) -> Finding:
    """A finding at row ``i``, with the loss effect around it added to its evidence and data."""
    line, loss_data = loss_effect(ctx, i)
    if line:
        evidence.append(line)
    data = {**data, **loss_data}
    return Finding(
        cause=cause,
        severity=severity,
        epoch=epoch_of(ctx, i),
        row=i,
        title=title,
        evidence=evidence,
        fix=fix,
        data=data,
    )


def curve(ctx: Context, spec: ScheduleSpec, base: float) -> np.ndarray:
    """Reference-group LR of every row under ``spec`` with initial LR ``base`` (post-warmup rule)."""
    return base * spec.lf(np.maximum(ctx.epoch_index - ctx.profile.log_lag, 0), ctx.profile)


def epochs_changed(
    ctx: Context, i: int, e_b: int, e_a: int, evidence: list[str], data: dict, lr_b: float, s_idx: int
) -> Finding:
    """The ``epochs-changed-on-resume`` finding: total epochs ``e_b`` before the step, ``e_a`` after."""
    evidence.append(
        f"implied total epochs: {e_b} before the step, {e_a} after ({config_name(ctx)} now says "
        f"epochs: {ctx.spec.epochs})"
    )
    evidence.extend(checkpoint_lines(ctx))
    data.update({"implied_epochs_before": e_b, "implied_epochs_after": e_a, "config_epochs": ctx.spec.epochs})
    if float(ctx.obs[i]) > lr_b:
        how = "jumps up to the new curve"
    elif e_a > e_b:  # no step up: the longer schedule only shows as a slower decay
        how = "decays more slowly, on the new curve"
    else:
        how = "drops to the new curve"
    return finding(
        ctx,
        Cause.EPOCHS_CHANGED_ON_RESUME,
        i,
        f"total epochs changed from {e_b} to {e_a} on resume: the LR {how}",
        evidence,
        fixes.epochs_changed(ctx.run, e_b, e_a, lr_b, lr_end_target(ctx), s_idx),
        data,
        Severity.WARNING,
    )


def hyp_changed(
    ctx: Context, i: int, b_before: float, b_after: float, evidence: list[str], data: dict, lr_b: float
) -> Finding:
    """The ``hyp-changed-on-resume`` finding: implied ``lr0`` ``b_before`` before the step, ``b_after`` after."""
    evidence.append(f"implied lr0: {b_before:.6g} before the step, {b_after:.6g} after (same total epochs)")
    data.update({"lr0_before": b_before, "lr0_after": b_after})
    remaining = ctx.spec.epochs - int(ctx.epoch_index[i])
    return finding(
        ctx,
        Cause.HYP_CHANGED_ON_RESUME,
        i,
        f"lr0 changed from {b_before:.6g} to {b_after:.6g} between sessions",
        evidence,
        fixes.hyp_changed(ctx.run, f"lr0: {b_before:.6g}", lr_b, lr_end_target(ctx), remaining),
        data,
    )


def lf_x(ctx: Context, rows: np.ndarray) -> np.ndarray:
    """The schedule position ``lf`` is evaluated at for each of ``rows`` (epoch index minus the log lag)."""
    return np.maximum(ctx.epoch_index[rows] - ctx.profile.log_lag, 0).astype(float)


def rows_following(ctx: Context, i: int, pred_fn) -> np.ndarray:
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


def past_end(ctx: Context, rows: np.ndarray, period: int) -> list[Finding]:
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
            epoch=epoch_of(ctx, i),
            row=i,
            title=f"the cosine schedule runs past its period ({period} epochs) from epoch {epoch_of(ctx, i)} and climbs back",
            evidence=[f"cos_lr with epochs {period}: lf(x) rises again for x > {period} (period {2 * period})"],
            fix=fixes.past_end(ctx.run),
            data={"period": period},
        )
    ]
