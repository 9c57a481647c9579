"""``restart-from-weights`` across logs: a new run started from an earlier run's weights in the same directory.

The reader finds the earlier run in the same directory (HF: an older TensorBoard directory of
``runs/`` that the checkpoints' history does not contain). The new run started from its weights
when its first loss is nearer the earlier run's last loss than its first; its schedule then starts
again from ``learning_rate`` (with warmup), so the LR jumps from where the earlier run ended unless
the new run starts at or below that LR (a continuation done right: info).
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, PreviousRun, PreviousRunSource, Severity

#: A continuation may start this much above the earlier run's last LR and still count as at it.
REL_TOL = 0.02


def applies(tl: Timeline) -> bool:
    """The reader found an earlier run in the same directory."""
    parent = tl.run.parent
    return parent is not None and parent.source is PreviousRunSource.EARLIER_LOG and tl.run.n_rows > 0


def _from_weights(prev: PreviousRun, first_loss: float | None) -> bool:
    a, b = prev.first_loss, prev.last_loss
    if first_loss is None or a is None or b is None or not np.isfinite([a, b, first_loss]).all() or a <= b:
        return False
    return abs(first_loss - b) < abs(first_loss - a)


def explain(tl: Timeline) -> list[Finding]:
    """One finding at the first row when the run started from the earlier run's weights."""
    prev = tl.run.parent
    assert prev is not None
    loss = tl.run.series.get("loss")
    first_loss = next((float(v) for v in loss if np.isfinite(v)), None) if loss is not None else None
    if not _from_weights(prev, first_loss) or prev.first_loss is None or prev.last_loss is None:
        return []
    s = tl.sessions[0]
    lr_prev = float(prev.last_lr[0])
    seg = tl.lr[s.first_row : s.last_row + 1]
    peak = float(np.nanmax(seg)) if np.isfinite(seg).any() else 0.0
    step = int(tl.steps[0])
    evidence = [
        f"{prev.label} logged an earlier run to step {prev.last_step}, ending at LR {lr_prev:.6g} and loss "
        f"{prev.last_loss:.4g}; {tl.where(0)}: the step counter starts again at {step}",
        f"the first loss {first_loss:.4g} is near the earlier run's last ({prev.last_loss:.4g}), not its first "
        f"({prev.first_loss:.4g}): the new run started from its weights",
    ]
    data = {"step": step, "previous_last_lr": lr_prev, "peak_lr": peak, "previous_dir": prev.label}
    if peak <= lr_prev * (1 + REL_TOL):
        return [
            Finding(
                cause=Cause.RESTART_FROM_WEIGHTS,
                severity=Severity.INFO,
                epoch=tl.epoch_of(0),
                row=0,
                title="continues an earlier run's weights at or below the LR it ended at: no jump",
                evidence=evidence,
                data=data,
            )
        ]
    lr_now = lr_prev if lr_prev > 0 else peak / 10
    return [
        Finding(
            cause=Cause.RESTART_FROM_WEIGHTS,
            severity=Severity.WARNING,
            epoch=tl.epoch_of(0),
            row=0,
            title=f"a new run from an earlier run's weights without resume: the LR goes from {lr_prev:.3g} to "
            f"{peak:.3g}",
            evidence=[*evidence, f"the new schedule peaks at {peak:.6g}, above the {lr_prev:.6g} it left off at"],
            fix=(
                f"to continue the same training, {tl.trainer.resume_command()}; for a longer run, "
                + tl.trainer.continuation(tl.run.path, tl.run.config, lr_now, 0.01, 0, None)
            ),
            data=data,
        )
    ]
