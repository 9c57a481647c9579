"""``schedule-past-end``: training went on after the schedule ended (LR at 0, or a cosine climbing back).

A schedule sized for fewer steps than were trained ends early: a linear decay sits at 0, a cosine
climbs back towards its peak. When the steps trained are a whole multiple of where it ended, the
scheduler was most likely stepped that many times per optimizer step
(``scheduler-stepped-per-process``: a scheduler prepared by Accelerate across N processes).
"""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, Severity

#: The LR counts as "at the end" below this fraction of the run's peak.
END_FRACTION = 1e-3
#: Rows at the end before a stretch counts as trained past the schedule.
MIN_ROWS = 3


def applies(tl: Timeline) -> bool:
    """A run with a positive peak LR and enough rows."""
    return tl.peak > 0 and tl.run.n_rows > MIN_ROWS


def explain(tl: Timeline) -> list[Finding]:
    """The first row of each session where the LR reached its end while training went on."""
    out = []
    lr, steps = tl.lr, tl.steps
    for s in tl.sessions:
        seg = lr[s.first_row : s.last_row + 1]
        low = np.nonzero(seg <= END_FRACTION * tl.peak)[0]
        resumed = s.start in ("resume", "rewind")
        # The first row of a warmup from 0 is not an end, except where a resume picks up a schedule
        # the previous session had (nearly) finished: that end was reached, not restarted.
        prev_low = s.first_row > 0 and lr[s.first_row - 1] <= 0.1 * tl.peak
        if not (resumed and prev_low):
            low = low[low > 0]
        if low.size == 0:
            continue
        end = s.first_row + int(low[0])
        after = lr[end : s.last_row + 1]
        climbs = (
            after.size > MIN_ROWS
            and after[-1] > 10 * END_FRACTION * tl.peak
            and np.all(np.diff(after[: MIN_ROWS + 1]) >= 0)
        )
        flat = (s.last_row - end) >= MIN_ROWS and np.all(after <= END_FRACTION * tl.peak)
        if not (climbs or flat):
            continue
        total, ended = int(steps[s.last_row]), int(steps[end])
        ratio = total / ended if ended > 0 else 0.0
        n = tl.run.config.get("num_processes")
        # a schedule that ends exactly where a resume begins was restored with its old length
        at_resume = resumed and end == s.first_row
        if at_resume:
            per_process = False
        elif isinstance(n, int) and n >= 1:
            # the trainer knows the processes: the schedule ended n times too early (one logging step of slack)
            per_process = n > 1 and ended > 0 and abs(total / n - ended) <= max(1.0, 0.05 * ended)
        else:
            per_process = ended > 0 and ratio >= 1.9 and abs(ratio - round(ratio)) < 0.05
        shape = "climbs back up" if climbs else f"stays at {lr[end]:.3g}"
        evidence = [
            f"{tl.where(end)}: LR {lr[end]:.3g} — the schedule ended at step {ended}",
            f"training went on to step {total}; the LR {shape}",
        ]
        if at_resume:
            evidence.append(
                "the resumed session trains longer than the restored scheduler was sized for: a resume restores the "
                "scheduler's saved length, not one rebuilt from the new settings (e.g. a larger max_epochs)"
            )
        if per_process and isinstance(n, int) and n > 1:
            evidence.append(f"{n} processes (random_states_*.pkl of {tl.run.config.get('scheduler_checkpoint')})")
            rate = tl.run.config.get("scheduler_steps_per_step")
            if isinstance(rate, float):
                evidence.append(
                    f"scheduler.bin: last_epoch {tl.run.config.get('scheduler_last_epoch')} = {rate:.3g} scheduler "
                    "steps per optimizer step"
                )
            ratio = float(n)
        elif per_process:
            evidence.append(
                f"the run trained {ratio:.0f}x the steps where the schedule ended: a scheduler stepped {round(ratio)} "
                "times per optimizer step (Accelerate steps a prepared scheduler once per process)"
            )
        out.append(
            Finding(
                cause=Cause.SCHEDULER_STEPPED_PER_PROCESS if per_process else Cause.SCHEDULE_PAST_END,
                severity=Severity.WARNING,
                epoch=tl.epoch_of(end),
                row=end,
                title=f"the schedule ended at step {ended} of {total}: the LR {shape}",
                evidence=evidence,
                fix=(
                    tl.trainer.stepped_per_process(round(ratio))
                    if per_process
                    else "size the schedule for the whole run (max_steps / epochs x steps per epoch); to train past "
                    "its end, start a new run from the weights with a new schedule from the current LR"
                ),
                data={"step": ended, "total_steps": total, "ratio": ratio},
            )
        )
    return out
