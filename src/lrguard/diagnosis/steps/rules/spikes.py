"""``loss-spike`` and ``grad-norm-spike``: a value far above the robust statistic of its recent steps."""

from __future__ import annotations

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, Severity
from lrguard.signals.spike import SpikeRule, scan

#: Step logs are noisier than epoch means: a longer history and a higher bar than results.csv's.
STEP_RULE = SpikeRule(window=32, ratio=2.0, mad_z=6.0, min_history=8)
SERIES = (("loss", Cause.LOSS_SPIKE), ("grad_norm", Cause.GRAD_NORM_SPIKE))


def applies(tl: Timeline) -> bool:
    """The run logs a loss or a gradient norm."""
    return any(name in tl.run.series for name, _ in SERIES)


def explain(tl: Timeline) -> list[Finding]:
    """The first spike of each series per session (a restart starts a new history; warmup rows are skipped)."""
    out = []
    resets = frozenset(s.first_row for s in tl.sessions if s.start in ("start", "restart"))
    for name, cause in SERIES:
        values = tl.run.series.get(name)
        if values is None:
            continue
        seen: set[int] = set()
        for row, v in sorted(scan(values, STEP_RULE, resets).items()):
            session = next(s for s in tl.sessions if s.first_row <= row <= s.last_row)
            if session.index in seen or tl.warmup[row]:
                continue
            seen.add(session.index)
            out.append(
                Finding(
                    cause=cause,
                    severity=Severity.WARNING,
                    epoch=tl.epoch_of(row),
                    row=row,
                    title=f"{name} {'exploded' if v.explosion else 'spiked'} at step {int(tl.steps[row])} "
                    f"(x{v.ratio:.2f} the recent median)",
                    evidence=[f"{tl.where(row)}: {name} {v.value:.4g} vs median {v.median:.4g} of {v.history} steps"],
                    fix=tl.trainer.instability(tl.peak / 10 if tl.peak > 0 else 1e-5),
                    data={"step": int(tl.steps[row]), "value": v.value, "median_before": v.median, "ratio": v.ratio},
                )
            )
    return out
