"""``nonfinite``: a NaN/inf loss, gradient norm or LR, including the NaN a trainer logs as a number."""

from __future__ import annotations

import numpy as np

from lrguard.diagnosis.steps.timeline import Timeline
from lrguard.model import Cause, Finding, Severity
from lrguard.signals.nonfinite import first_nonfinite, hidden_nonfinite


def applies(tl: Timeline) -> bool:
    """Every run has an LR; losses and grad norms when logged."""
    return tl.run.n_rows > 0


def explain(tl: Timeline) -> list[Finding]:
    """The first non-finite row, or the first one hidden behind a finite logged loss."""
    run = tl.run
    table = run.table
    first: tuple[int, str] | None = None
    for name in ("loss", "grad_norm"):
        if name in run.series:
            i = first_nonfinite(run.series[name], table.missing.get(name))
            if i is not None and (first is None or i < first[0]):
                first = (i, name)
    i_lr = first_nonfinite(tl.lr)
    if i_lr is not None and (first is None or i_lr < first[0]):
        first = (i_lr, "learning_rate")
    hidden = np.zeros(0, dtype=np.int64)
    if "loss" in run.series and "grad_norm" in run.series:
        logged = ~table.missing["grad_norm"] if "grad_norm" in table.missing else None
        hidden = hidden_nonfinite(run.series["loss"], run.series["grad_norm"], logged)
    if first is None:
        return []
    row, name = first
    evidence = [f"{tl.where(row)}: {name} = {run.series.get(name, tl.lr)[row]}"]
    if hidden.size and int(hidden[0]) <= row:
        evidence.append(
            f"the logged loss is {run.series['loss'][int(hidden[0])]:g} there: the trainer logged a finite number for a "
            "non-finite step (HF: logging_nan_inf_filter=True); the gradient norm shows it"
        )
    return [
        Finding(
            cause=Cause.NONFINITE,
            severity=Severity.ERROR,
            epoch=tl.epoch_of(row),
            row=row,
            title=f"non-finite {name} at step {int(tl.steps[row])}",
            evidence=evidence,
            fix=tl.trainer.instability(tl.peak / 10 if tl.peak > 0 else 1e-5),
            data={"step": int(tl.steps[row]), "series": name, "hidden_rows": int(hidden.size)},
        )
    ]
