"""Which plan each stretch of a run followed, for the charts: what it planned when it ran, and what changed.

The configuration files a run leaves behind say what the *last* session planned. When a finding
shows that the schedule changed between sessions (total epochs edited before a resume, lr0 edited,
a fine-tune extension), the rows before the change ran under the schedule the diagnosis fitted to
them. This module reads those fits from the findings' data (``implied_epochs_before`` /
``implied_epochs_after``, ``lr0_before`` / ``lr0_after``) instead of fitting again, and cuts the run
into pieces, each with the planned LR of every group on its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lrguard.model import Cause
from lrguard.schedules.curve import logged_lr

if TYPE_CHECKING:
    from lrguard.diagnosis.result import Diagnosis
    from lrguard.schedules.spec import ScheduleSpec

# Findings whose data records the schedule before and after a change, and how to read it.
_CHANGES = (Cause.EPOCHS_CHANGED_ON_RESUME, Cause.FINETUNE_EXTENSION, Cause.HYP_CHANGED_ON_RESUME)


@dataclass(frozen=True)
class PlanPiece:
    """Rows ``first_row..last_row`` and the schedule planned for them.

    Attributes:
        first_row: First row of the piece.
        last_row: Last row of the piece (inclusive).
        spec: The schedule those rows were planned with.
        kind: ``"config"`` (the run's configuration, nothing changed), ``"as-run"`` (what the rows
            before a change planned when they ran) or ``"changed"`` (the plan from a change on).
        label: Says which plan this is, for a legend.
        lr: Planned LR of every group on the piece's rows, ``(rows, groups)``.
    """

    first_row: int
    last_row: int
    spec: ScheduleSpec
    kind: str
    label: str
    lr: np.ndarray


def _what(spec: ScheduleSpec) -> str:
    return f"{'cosine' if spec.cos_lr else 'linear'}, lr0 {spec.lr0:.6g}, {spec.epochs} epochs"


def _change(d: Diagnosis, f) -> tuple[ScheduleSpec, ScheduleSpec] | None:
    """(schedule before, schedule after) that finding ``f`` fitted, or ``None``."""
    data = f.data or {}
    spec = d.epoch_spec
    if "implied_epochs_before" in data and "implied_epochs_after" in data:
        try:
            e_b, e_a = int(data["implied_epochs_before"]), int(data["implied_epochs_after"])
        except (TypeError, ValueError):
            return None
        if e_b < 1 or e_a < 1:
            return None
        return spec.with_(epochs=e_b), spec.with_(epochs=e_a)
    if "lr0_before" in data and "lr0_after" in data:
        # the fitted values are the reference group's initial LR: lr0 times the group's scale
        scale = d.profile.lr_scale(d.reference_group) or 1.0
        try:
            b, a = float(data["lr0_before"]) / scale, float(data["lr0_after"]) / scale
        except (TypeError, ValueError):
            return None
        if not (np.isfinite(b) and np.isfinite(a) and b > 0 and a > 0):
            return None
        return spec.with_(lr0=b), spec.with_(lr0=a)
    return None


def plan_pieces(d: Diagnosis) -> list[PlanPiece]:
    """Cut ``d``'s rows into pieces with the plan each followed (see the module docstring).

    Without a change finding the whole run is one ``"config"`` piece whose LR is ``d.planned``. A
    change at row ``i`` ends the piece before it at ``i - 1`` (that piece becomes ``"as-run"``, with
    the fitted schedule before the change) and starts a ``"changed"`` piece at ``i``.
    """
    n = d.run.n_rows
    if n == 0 or d.planned.size == 0 or d.spec is None:  # step-counted runs: no results.csv plan yet
        return []
    epoch_index = d.run.epochs - d.profile.epoch_base
    groups = d.planned.shape[1]
    cuts: list[tuple[int, ScheduleSpec, ScheduleSpec, int]] = []
    for f in d.findings:
        if f.cause not in _CHANGES or f.row is None or not 0 < f.row < n:
            continue
        change = _change(d, f)
        if change is None or (cuts and f.row <= cuts[-1][0]):
            continue
        cuts.append((f.row, change[0], change[1], f.epoch if f.epoch is not None else int(d.run.epochs[f.row])))
    if not cuts:
        return [PlanPiece(0, n - 1, d.epoch_spec, "config", "planned (from the run's configuration)", d.planned)]

    def piece(a: int, b: int, spec: ScheduleSpec, kind: str, label: str) -> PlanPiece:
        lr = (
            d.planned[a : b + 1] if spec == d.epoch_spec else logged_lr(spec, d.profile, epoch_index[a : b + 1], groups)
        )
        return PlanPiece(a, b, spec, kind, label, lr)

    first_row, before, _, _ = cuts[0]
    pieces = [
        piece(
            0,
            first_row - 1,
            before,
            "as-run",
            f"planned when it ran, epochs {int(d.run.epochs[0])}–{int(d.run.epochs[first_row - 1])}: {_what(before)}",
        )
    ]
    for k, (row, _, after, epoch) in enumerate(cuts):
        end = cuts[k + 1][0] - 1 if k + 1 < len(cuts) else n - 1
        now = " (the configuration now)" if after == d.epoch_spec else ""
        pieces.append(piece(row, end, after, "changed", f"changed plan from epoch {epoch}: {_what(after)}{now}"))
    return pieces


def stitched(pieces: list[PlanPiece], n_rows: int, group: int) -> np.ndarray:
    """Planned LR of ``group`` on every row, each row from its piece (NaN where none covers it)."""
    out = np.full(n_rows, np.nan)
    for p in pieces:
        out[p.first_row : p.last_row + 1] = p.lr[:, group]
    return out


def on_rows(pieces: list[PlanPiece], n_rows: int, group: int, kind: str | None = None) -> list[np.ndarray]:
    """One full-length array per piece (optionally only pieces of ``kind``), NaN outside its rows."""
    out = []
    for p in pieces:
        if kind is not None and p.kind != kind:
            continue
        v = np.full(n_rows, np.nan)
        v[p.first_row : p.last_row + 1] = p.lr[:, group]
        out.append(v)
    return out
