"""Loss-side evidence: effect of an LR event on the losses, non-finite values, loss spikes, close_mosaic."""

from __future__ import annotations

import numpy as np

from lrguard import constants as C
from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.model import Cause, Finding, Severity
from lrguard.numeric import median
from lrguard.signals.spike import SpikeRule, candidate_rows, judge
from lrguard.trainers import get_trainer

SPIKE_RULE = SpikeRule()  # the shared statistic (lrguard.signals.spike), as the live guard uses it
SPIKE_RATIO = SPIKE_RULE.ratio
SPIKE_WINDOW = SPIKE_RULE.window


def loss_effect(ctx: Context, row: int, window: int = 3) -> tuple[str | None, dict]:
    """How the summed train loss moved after ``row`` compared with the rows before it.

    Returns:
        ``(evidence_line, data)``; ``(None, {})`` when there are no losses or too few rows.
    """
    total = ctx.total_train_loss()
    if total is None or row < 1:
        return None, {}
    before = total[max(0, row - window) : row]
    after = total[row : row + window]
    before = before[np.isfinite(before)]
    after_f = after[np.isfinite(after)]
    if before.size == 0 or after_f.size == 0:
        return None, {}
    ref = float(np.mean(before))
    k = int(np.argmax(after_f))
    peak = float(after_f[k])
    change = peak / ref - 1.0 if ref > 0 else 0.0
    names = "+".join(c.split("/", 1)[-1] for c in ctx.run.train_losses)
    if change > 0.02:
        line = (
            f"train loss ({names}) rose {change:+.0%} within {k + 1} epoch(s): "
            f"{ref:.4g} before -> {peak:.4g} at epoch {int(ctx.run.epochs[row + k])}"
        )
    else:
        line = f"train loss ({names}) did not rise after it ({ref:.4g} before, at most {peak:.4g} after)"
    return line, {"loss_before": ref, "loss_peak_after": peak, "loss_change": change, "loss_lag_epochs": k}


def detect_nonfinite(ctx: Context) -> list[Finding]:
    """First row holding a literal NaN/inf in a train-loss or LR column (an empty cell does not count).

    Validation losses and metrics are left out: YOLOv5 writes ``nan`` validation losses whenever an
    untrained model makes no prediction at all, which says nothing about training stability.
    """
    table = ctx.run.table
    first: int | None = None
    cols: list[str] = []
    watched = [c for c in table.columns if c.startswith(C.TRAIN_LOSS_PREFIX) or c in ctx.run.lr_columns]
    for name in watched:
        vals = table.values[name]
        bad = ~np.isfinite(vals)
        miss = table.missing.get(name)
        if miss is not None:
            bad &= ~miss
        if bad.any():
            i = int(np.argmax(bad))
            if first is None or i < first:
                first, cols = i, [name]
            elif i == first:
                cols.append(name)
    if first is None:
        return []
    epoch = int(ctx.run.epochs[first])
    lr_here = ctx.obs[first]
    evidence = [
        f"line {int(table.line_numbers[first])} (epoch {epoch}): non-finite value in {', '.join(cols[:6])}"
        + (" ..." if len(cols) > 6 else ""),
    ]
    if np.isfinite(lr_here) and np.isfinite(ctx.planned[first, ctx.ref]):
        on_plan = ctx.close(float(lr_here), float(ctx.planned[first, ctx.ref]), 3 * ctx.tol)
        evidence.append(
            f"the LR was {'on plan' if on_plan else 'off plan'} there ({lr_here:.6g}, planned "
            f"{ctx.planned[first, ctx.ref]:.6g}): numerical instability, not a schedule jump"
            if on_plan
            else f"the LR was off plan there ({lr_here:.6g} vs planned {ctx.planned[first, ctx.ref]:.6g})"
        )
    total = ctx.total_train_loss()
    if total is not None and first > 0 and np.isfinite(total[:first]).any():
        evidence.append(f"last finite train loss: {float(total[:first][np.isfinite(total[:first])][-1]):.4g}")
    return [
        Finding(
            cause=Cause.NONFINITE,
            severity=Severity.ERROR,
            epoch=epoch,
            row=first,
            title=f"non-finite values (NaN/inf) from epoch {epoch}: training diverged",
            evidence=evidence,
            fix=fixes.instability(ctx.run, ctx.spec.lr0),
            data={"columns": cols},
        )
    ]


def _excluded_rows(ctx: Context) -> set[int]:
    rows: set[int] = set()
    for s in ctx.sessions:
        rows.update(range(s.first_row, min(s.first_row + 2, s.last_row + 1)))
    warm = np.nonzero(ctx.in_warmup)[0]
    if warm.size:
        for w in warm:
            rows.update({int(w), int(w) + 1, int(w) + 2})
    cm = close_mosaic_row(ctx)
    if cm is not None:
        # The loss level steps when mosaic closes; do not compare rows after it with rows before.
        rows.update(range(cm, cm + SPIKE_WINDOW))
    return rows


def detect_loss_spikes(ctx: Context, lr_event_rows: set[int]) -> list[Finding]:
    """Train-loss spikes with the LR on plan (LR events explain their own loss rises).

    A row is a spike (:func:`lrguard.signals.spike.judge`) when its summed train loss is at least
    ``SPIKE_RATIO`` times the median of the previous ``SPIKE_WINDOW`` rows of the same run and
    clears a robust z-score in log space (noisy histories raise the bar), outside warmup, restarts, close_mosaic and LR events. An explosion of
    ``SPIKE_RULE.explosion`` times or more is reported anywhere, even right after the first row.
    """
    total = ctx.total_train_loss()
    if total is None:
        return []
    excluded = _excluded_rows(ctx)
    for r in lr_event_rows:
        excluded.update(range(r, r + 4))
    findings: list[Finding] = []
    n = ctx.run.n_rows
    if n < 2:
        return findings
    # Rows at least SPIKE_RATIO times the median of the previous rows, vectorised; only they are judged.
    candidates = candidate_rows(total, SPIKE_RULE)
    reported: set[int] = set()
    for i in (int(c) for c in candidates):
        if i == 0 or i in reported or not np.isfinite(total[i]):
            continue
        # History comes from the same run: a restart or rewind starts a new lineage, a resume does not.
        lineage_start = max(
            (x.first_row for x in ctx.sessions if x.first_row <= i and x.start in ("start", "restart", "rewind")),
            default=0,
        )
        verdict = judge(total[max(lineage_start, i - SPIKE_WINDOW) : i], float(total[i]), SPIKE_RULE)
        if verdict is None or (not verdict.explosion and i in excluded):
            continue
        med, ratio, explosion = verdict.median, verdict.ratio, verdict.explosion
        epoch = int(ctx.run.epochs[i])
        lr_i = float(ctx.obs[i])
        plan_i = float(ctx.planned[i, ctx.ref])
        on_plan = ctx.close(lr_i, plan_i, 3 * ctx.tol)
        worst = max(
            ctx.run.train_losses,
            key=lambda c: (
                (
                    ctx.run.train_losses[c][i]
                    / max(median(ctx.run.train_losses[c][max(lineage_start, i - SPIKE_WINDOW) : i]), 1e-30)
                )
                if np.isfinite(ctx.run.train_losses[c][i])
                else -1.0
            ),
        )
        findings.append(
            Finding(
                cause=Cause.LOSS_SPIKE,
                severity=Severity.WARNING,
                epoch=epoch,
                row=i,
                title=(
                    f"train loss {'exploded' if explosion else 'spiked'} at epoch {epoch} "
                    f"(x{ratio:.2f} the recent median)"
                ),
                evidence=[
                    f"line {int(ctx.run.table.line_numbers[i])}: train loss {total[i]:.4g} vs median {med:.4g} "
                    f"of the previous {verdict.history} epoch(s); largest rise in {worst}",
                    f"LR {'on plan' if on_plan else 'off plan'} there: {lr_i:.6g} (planned {plan_i:.6g})",
                ],
                fix=fixes.instability(ctx.run, ctx.spec.lr0),
                data={"loss": float(total[i]), "median_before": med, "ratio": ratio, "lr": lr_i, "planned_lr": plan_i},
            )
        )
        reported.update(range(i, i + SPIKE_WINDOW))
    return findings


def close_mosaic_row(ctx: Context) -> int | None:
    """Row of the first epoch trained without mosaic (Ultralytics ``close_mosaic``), if reached."""
    n = get_trainer(ctx.run.framework).close_mosaic_epochs(ctx.run.hyp)
    if n <= 0:
        return None
    target = ctx.spec.epochs - n
    hits = np.nonzero(ctx.epoch_index == target)[0]
    if hits.size == 0 or target <= 0:
        return None
    return int(hits[-1])


def detect_close_mosaic(ctx: Context) -> list[Finding]:
    """Info: the loss level changes when mosaic closes, with the LR on plan (a common confounder)."""
    i = close_mosaic_row(ctx)
    if i is None or i == 0:
        return []
    total = ctx.total_train_loss()
    epoch = int(ctx.run.epochs[i])
    evidence = [f"close_mosaic: {ctx.run.hyp.get('close_mosaic', 10)} -> mosaic off from epoch {epoch}"]
    if total is not None and np.isfinite(total[i]) and np.isfinite(total[i - 1]) and total[i - 1] > 0:
        evidence.append(f"train loss {total[i - 1]:.4g} -> {total[i]:.4g} ({total[i] / total[i - 1] - 1:+.0%})")
    return [
        Finding(
            cause=Cause.CLOSE_MOSAIC,
            severity=Severity.INFO,
            epoch=epoch,
            row=i,
            title=f"mosaic augmentation switched off at epoch {epoch}: loss level changes, LR unaffected",
            evidence=evidence,
        )
    ]
