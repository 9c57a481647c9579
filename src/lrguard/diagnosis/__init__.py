"""Diagnosis: compare a run's logged LR with its planned schedule and explain every departure.

``diagnose(run)`` builds the shared :class:`~lrguard.diagnosis.context.Context` (sessions, plan,
reference column) and runs each detector; every finding names a stable cause id, a severity,
evidence and, for warnings and errors, a fix for that framework.
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.guardevents import apply_guard_events
from lrguard.diagnosis.losses import (
    detect_close_mosaic,
    detect_loss_spikes,
    detect_nonfinite,
)
from lrguard.diagnosis.lrjumps import detect_lr_departures
from lrguard.diagnosis.merge import merge_repeats
from lrguard.diagnosis.optimizer import detect_auto_optimizer
from lrguard.diagnosis.restarts import (
    detect_crash_remnants,
    detect_restart_from_weights,
    detect_restarts_and_rewinds,
    detect_resume_prediction,
)
from lrguard.diagnosis.result import Diagnosis
from lrguard.diagnosis.version import choose_profile
from lrguard.diagnosis.warmup import detect_warmup, detect_wrong_bias_group
from lrguard.model import Finding, Run, Severity


def diagnose(run: Run) -> Diagnosis:
    """Diagnose ``run``: sessions, planned schedule, and findings ordered by row.

    The live guard's events (:attr:`Run.guard_events`) become ``guard-action`` findings, and LR
    findings inside a window where the guard itself changed the LR are explained by its event
    (:mod:`lrguard.diagnosis.guardevents`). Never raises for odd-but-valid data: what cannot be determined becomes a note. Arithmetic on
    absurd values (overflow, 0/0) yields inf/NaN, which every detector treats as "not determined",
    so numpy's floating-point warnings are silenced here rather than at each division.
    """
    with np.errstate(all="ignore"):
        if run.unit == "step":
            from lrguard.diagnosis.steps import diagnose_steps

            d = diagnose_steps(run)
        else:
            d = _diagnose(run)
        d.findings = apply_guard_events(run, d.findings, d.sessions)
        return d


def _diagnose(run: Run) -> Diagnosis:
    version, ctx = choose_profile(run)
    findings: list[Finding] = []
    findings += detect_warmup(ctx)
    findings += detect_wrong_bias_group(ctx)
    findings += detect_auto_optimizer(ctx)
    findings += detect_crash_remnants(ctx)
    findings += detect_restarts_and_rewinds(ctx)
    findings += detect_restart_from_weights(ctx)
    lr_findings = detect_lr_departures(ctx)
    findings += lr_findings
    findings += detect_nonfinite(ctx)
    event_rows = {f.row for f in findings if f.row is not None and f.severity is not Severity.INFO}
    findings += detect_loss_spikes(ctx, event_rows)
    findings += detect_close_mosaic(ctx)
    findings += detect_resume_prediction(ctx)
    findings = merge_repeats(findings, ctx)
    findings.sort(key=lambda f: (f.row if f.row is not None else run.n_rows, -f.severity.rank))
    notes = list(run.notes) + ctx.notes
    if run.resume_check and run.resume_check.get("verdict") in ("seamless", "refuse"):
        notes.append(f"weights/last.pt: {run.resume_check.get('summary')}")
    nan_val = [c for c, v in run.val_losses.items() if (~np.isfinite(v) & ~run.table.missing.get(c, False)).any()]
    if nan_val and not any(f.cause.value == "nonfinite" for f in findings):
        notes.append(
            f"validation losses are nan on some rows ({', '.join(nan_val)}): the model made no prediction there "
            "(normal for an untrained model; not a training instability)"
        )
    if run.config.get("resume") and len(ctx.sessions) == 1 and not lr_findings:
        notes.append("opt.yaml says resume: true: the run was resumed at least once; no seam is visible in the LR")
    return Diagnosis(
        run=run,
        profile=ctx.profile,
        spec=ctx.spec,
        sessions=ctx.sessions,
        findings=findings,
        planned=ctx.planned,
        reference_group=ctx.ref,
        notes=notes,
        version=version.to_json(),
    )


__all__ = ["Diagnosis", "diagnose"]
