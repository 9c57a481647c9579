"""Run every step rule over the timeline and assemble the :class:`~lrguard.diagnosis.result.Diagnosis`."""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.result import Diagnosis
from lrguard.diagnosis.steps.rules import RULES
from lrguard.diagnosis.steps.timeline import Timeline, build_timeline
from lrguard.model import Cause, Finding, Run


def _without_repeats(findings: list[Finding], tl: Timeline) -> list[Finding]:
    """Drop an ``lr-off-plan`` finding in a session that another rule's warning already explains."""

    def session(row: int | None) -> int:
        return next((s.index for s in tl.sessions if row is not None and s.first_row <= row <= s.last_row), -1)

    explained = {session(f.row) for f in findings if f.cause is not Cause.LR_OFF_PLAN and f.severity.rank >= 1}
    return [f for f in findings if not (f.cause is Cause.LR_OFF_PLAN and session(f.row) in explained)]


def diagnose_steps(run: Run) -> Diagnosis:
    """Diagnose a step-counted run (see the package docstring); does no I/O."""
    tl = build_timeline(run)
    findings: list[Finding] = []
    for rule in RULES:
        if rule.applies(tl):
            findings += rule.explain(tl)
    findings = _without_repeats(findings, tl)
    findings.sort(key=lambda f: (f.row if f.row is not None else run.n_rows, -f.severity.rank))
    planned = tl.planned if tl.planned is not None else np.full(run.lr.shape, np.nan)
    return Diagnosis(
        run=run,
        profile=tl.trainer.default_profile,
        spec=None,
        sessions=tl.sessions,
        findings=findings,
        planned=planned,
        reference_group=0,
        notes=list(run.notes) + tl.notes,
        version={},
    )
