"""Runs that start over.

Appended runs (M14), resumes from older checkpoints (M5), new runs started from a previous run's
weights with a fresh schedule (M2), and what a crash left in results.csv between two sessions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lrguard.diagnosis import fixes
from lrguard.diagnosis.context import Context
from lrguard.diagnosis.losses import loss_effect
from lrguard.model import Cause, Finding, PreviousRunSource, Severity
from lrguard.trainers import get_trainer


def _peak(values: np.ndarray) -> float:
    """Largest finite value (NaN when there is none)."""
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else float("nan")


def _bias_col(ctx: Context) -> int:
    b = ctx.profile.bias_group
    return b if b < ctx.run.n_groups else 0


def detect_restarts_and_rewinds(ctx: Context) -> list[Finding]:
    """Findings for sessions that restart the epoch column (appended run) or go back (older checkpoint)."""
    out: list[Finding] = []
    run = ctx.run
    lr = run.lr
    for s in ctx.sessions[1:]:
        i = s.first_row
        line = int(run.table.line_numbers[i])
        prev_last = int(run.epochs[i - 1])
        if s.start == "restart":
            b = _bias_col(ctx)
            ev = [
                s.evidence + f" (the file's previous rows end at epoch {prev_last})",
                f"LR before: {run.lr_columns[ctx.ref]} {lr[i - 1, ctx.ref]:.6g}, {run.lr_columns[b]} {lr[i - 1, b]:.6g}; "
                f"first row of the new run: {run.lr_columns[ctx.ref]} {lr[i, ctx.ref]:.6g}, "
                f"{run.lr_columns[b]} {lr[i, b]:.6g} (warmup again)",
                "a second training run wrote into the same directory; its header is not repeated, so plots join "
                "the two runs into one curve",
            ]
            line_l, data_l = loss_effect(ctx, i)
            if line_l:
                ev.append(line_l)
            out.append(
                Finding(
                    cause=Cause.APPENDED_RUNS,
                    severity=Severity.WARNING,
                    epoch=int(run.epochs[i]),
                    row=i,
                    title=f"a new run was appended to results.csv at line {line}: the LR restarts with warmup",
                    evidence=ev,
                    fix=fixes.appended_runs(run),
                    data={
                        "line": line,
                        "previous_last_epoch": prev_last,
                        "lr_before": float(lr[i - 1, ctx.ref]),
                        "lr_after": float(lr[i, ctx.ref]),
                        **data_l,
                    },
                )
            )
        elif s.start == "rewind":
            cur = int(run.epochs[i])
            earlier = np.nonzero(run.epochs[:i] == cur)[0]
            ev = [s.evidence + f": epochs {cur}..{prev_last} were trained twice"]
            same = None
            if earlier.size:
                j = int(earlier[-1])
                same = ctx.close(float(lr[i, ctx.ref]), float(lr[j, ctx.ref]), 3 * ctx.tol)
                ev.append(
                    f"the LR rewinds to {lr[i, ctx.ref]:.6g}; epoch {cur} logged {lr[j, ctx.ref]:.6g} the first time "
                    f"(line {int(run.table.line_numbers[j])})"
                    + (": the same point of the same schedule" if same else "")
                )
            rise = float(lr[i, ctx.ref] / lr[i - 1, ctx.ref] - 1.0) if lr[i - 1, ctx.ref] else 0.0
            one = cur == prev_last
            if one:
                ev.append(
                    "only the last epoch repeats: the process probably stopped after writing results.csv and before "
                    "saving last.pt, so the resume redid that epoch (harmless)"
                )
            line_l, data_l = loss_effect(ctx, i)
            if line_l:
                ev.append(line_l)
            out.append(
                Finding(
                    cause=Cause.RESUME_FROM_OLDER_CHECKPOINT,
                    severity=Severity.INFO if one else Severity.WARNING,
                    epoch=cur,
                    row=i,
                    title=(
                        f"resumed from an older checkpoint: back from epoch {prev_last} to {cur}"
                        + (f", LR up {rise:+.1%}" if rise > ctx.tol else "")
                    ),
                    evidence=ev,
                    fix=None if one else fixes.older_checkpoint(run),
                    data={
                        "line": line,
                        "rewind_from": prev_last,
                        "rewind_to": cur,
                        "rise": rise,
                        "same_schedule_point": same,
                        **data_l,
                    },
                )
            )
    return out


def detect_crash_remnants(ctx: Context) -> list[Finding]:
    """Info: NUL bytes or a torn row in results.csv, the trace of a process that died mid-write."""
    run = ctx.run
    out: list[Finding] = []
    for r in run.table.remnants:
        row = r.next_row if r.next_row is not None else run.n_rows - 1
        after = (
            f"the next row (line {int(run.table.line_numbers[r.next_row])}, epoch {int(run.epochs[r.next_row])}) "
            "was written by a new training process: a session boundary"
            if r.next_row is not None
            else "no row follows: the run stopped there"
        )
        out.append(
            Finding(
                cause=Cause.CRASH_REMNANT,
                severity=Severity.INFO,
                epoch=int(run.epochs[row]),
                row=row,
                title=f"a crash left {r.describe()} in results.csv",
                evidence=[
                    f"{r.describe()}: "
                    + ("the dying process left a row unfinished (skipped); " if r.torn_chars else "")
                    + ("the file system kept space it never wrote (NUL bytes); " if r.nul_bytes else "")
                    + "every complete row is read as written",
                    after,
                ],
                data={
                    "line": r.line,
                    "byte_offset": r.byte_offset,
                    "nul_bytes": r.nul_bytes,
                    "torn_chars": r.torn_chars,
                },
            )
        )
    return out


# A previous run's checkpoint, by what the trainers name them: last.pt, best.pt, epoch{N}.pt (save_period).
def detect_restart_from_weights(ctx: Context) -> list[Finding]:
    """M2: a new run (fresh optimizer, epoch 0, warmup) started from a previous run's last/best.pt."""
    parent = ctx.run.parent
    if parent is None or parent.source is not PreviousRunSource.WEIGHTS:
        return []
    weights, why = parent.weights, parent.why
    run = ctx.run
    first = ctx.sessions[-1] if ctx.sessions[-1].start == "restart" else ctx.sessions[0]
    i = first.first_row
    b = _bias_col(ctx)
    trainer = get_trainer(run.framework)
    ev = [
        f"{trainer.config_file}: {trainer.weights_key}: {weights}, resume: false -> "
        "new optimizer (no momentum buffers), epoch counter from 0, EMA restarted, warmup again",
        f"a previous run's weights: {why}",
        f"this run starts at {run.lr_columns[b]} {run.lr[i, b]:.6g} / {run.lr_columns[ctx.ref]} {run.lr[i, ctx.ref]:.6g} "
        + (
            f"and rises to {top:.6g} (lr0 {ctx.spec.lr0:.6g})"
            if (top := _peak(run.lr[i : first.last_row + 1, ctx.ref])) > run.lr[i, ctx.ref]
            else "and does not rise (the logged LR stays there)"
        ),
    ]
    data: dict = {"weights": weights}
    lr_prev = None
    prev_dir = parent.path
    if parent.error is not None:
        ev.append(f"previous run not readable: {parent.error}")
    elif parent.last_lr:
        col = min(ctx.ref, len(parent.last_lr) - 1)
        lr_prev = parent.last_lr[col]
        peak = float(np.nanmax(run.lr[first.first_row : first.last_row + 1, ctx.ref]))
        ev.append(
            f"the previous run ({prev_dir}) ended at {parent.lr_columns[col]} {lr_prev:.6g} (epoch "
            f"{parent.last_epoch}); this run climbs to {peak:.6g}: x{peak / lr_prev:.0f} the LR it left off at"
            if lr_prev > 0
            else f"the previous run ({prev_dir}) ended at LR {lr_prev:.6g}"
        )
        data.update({"previous_run": str(prev_dir), "previous_last_lr": lr_prev, "peak_lr": peak})
    lr_now = lr_prev if lr_prev else float(ctx.spec.lr0 * ctx.spec.lrf)
    if not lr_prev:
        ev.append(
            f"the previous run's results.csv is not at hand: the fix assumes it ended its schedule at lr0*lrf = "
            f"{lr_now:.6g} and keeps the LR there"
        )
    if lr_prev and lr_prev > 0:
        peak_all = float(np.nanmax(run.lr[first.first_row : first.last_row + 1]))
        if peak_all <= lr_prev * (1 + 10 * ctx.tol):
            # A continuation done right (`lrguard continue`): the new schedule starts at or below the
            # LR the previous run ended at, in every group.
            return [
                Finding(
                    cause=Cause.RESTART_FROM_WEIGHTS,
                    severity=Severity.INFO,
                    epoch=int(run.epochs[i]),
                    row=i,
                    title="continues a previous run's weights at the LR it ended at: no jump",
                    evidence=[
                        *ev[:1],
                        f"the previous run ({prev_dir}) ended at {lr_prev:.6g}; no group of this run goes above it "
                        f"(highest {peak_all:.6g})",
                    ],
                    data={**data, "peak_lr_all_groups": peak_all},
                )
            ]
    line_l, data_l = loss_effect(ctx, min(i + 1, run.n_rows - 1))
    if line_l:
        ev.append(line_l)
    return [
        Finding(
            cause=Cause.RESTART_FROM_WEIGHTS,
            severity=Severity.WARNING,
            epoch=int(run.epochs[i]),
            row=i,
            title="continued from a previous run's weights without resume: the schedule restarted with warmup",
            evidence=ev,
            fix=fixes.continuation(
                run, lr_now, lr_now * min(ctx.spec.lrf, 1.0) if lr_prev else lr_now, ctx.spec.epochs
            ),
            data={**data, **data_l},
        )
    ]


def detect_resume_prediction(ctx: Context) -> list[Finding]:
    """What resuming from weights/last.pt *would* do, before anyone runs it (checkpoint inspector).

    A predicted jump (opt.yaml / hyp edited since the checkpoint was written) becomes a warning with
    no epoch yet; a seamless or refused resume is a note.
    """
    check = ctx.run.resume_check
    if not check:
        return []
    verdict = check.get("verdict")
    if verdict != "jump" or not check.get("jump"):
        return []
    jump = check["jump"]
    reason = str(jump.get("reason", ""))
    name = Path(str(check.get("path", "last.pt"))).name
    if jump.get("cause") == Cause.RESUME_FROM_OLDER_CHECKPOINT.value:  # a stale last.pt (the inspector says so)
        return [
            Finding(
                cause=Cause.RESUME_FROM_OLDER_CHECKPOINT,
                severity=Severity.WARNING,
                epoch=None,
                row=None,
                title=f"resuming from weights/{name} now would rewind the run: it is older than results.csv",
                evidence=[str(check.get("summary", "")), *[str(d) for d in check.get("details", [])][:4]],
                fix=(
                    "resume from the checkpoint of the last logged epoch (`lrguard ckpt last-good RUN` lists them); "
                    "if the run is finished, train on as a new run instead (`lrguard continue RUN --epochs N`)"
                ),
                data={"predicted": True, **{k: jump.get(k) for k in ("epoch", "lr_before", "lr_after")}},
            )
        ]
    cause = (
        Cause.EPOCHS_CHANGED_ON_RESUME
        if "epochs" in reason
        else Cause.HYP_CHANGED_ON_RESUME
        if any(k in reason for k in ("lr0", "lrf", "hyp", "cos"))
        else Cause.LR_OFF_PLAN
    )
    return [
        Finding(
            cause=cause,
            severity=Severity.WARNING,
            epoch=None,
            row=None,
            title=f"resuming from weights/{name} now would make the LR jump at epoch {jump.get('epoch')}",
            evidence=[str(check.get("summary", "")), *[str(d) for d in check.get("details", [])][:4]],
            fix=(
                "undo the edit before resuming (the checkpoint holds the schedule position of the original settings); "
                "to train with new settings, let the run finish and start a continuation run "
                "(`lrguard continue RUN --epochs N`)"
            ),
            data={"predicted": True, **{k: jump.get(k) for k in ("epoch", "lr_before", "lr_after")}},
        )
    ]
