"""Planned LR timelines: a fresh run, a resume with changed settings, a continuation from weights, ``time=``.

Each scenario returns a :class:`Plan`: the LR every param group will log per results.csv row, the
training processes (segments) that produce those rows, the per-iteration LR around every warmup and
seam, every upward jump outside a fresh warmup with its size, and every downward step: a row where
the LR falls below what the previous process's schedule would have logged there (a resume with fewer
epochs or a lower lr0, ``time=`` re-estimating fewer epochs). A normal decay is not a step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from lrguard.plan.config import PlanConfig
from lrguard.schedules.curve import SessionPlan, iteration_lr, logged_lr, logged_lr_sessions, nw_of, warmup_rows
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers import get_trainer

# A rise smaller than this (relative) is float noise in the planned maths, not a jump.
RISE_TOL = 1e-7
# A row this much (relative) below the previous schedule's own value for it is a downward step.
DROP_TOL = 1e-3
MAX_ITER_POINTS = 20000


@dataclass(frozen=True)
class Segment:
    """Rows written by one training process of the plan.

    Attributes:
        kind: ``"start"`` (fresh run), ``"resume"`` (``--resume`` from a checkpoint) or
            ``"from-weights"`` (a new run initialised from the old weights).
        first_row: Index of its first row in the plan.
        last_row: Index of its last row (inclusive).
        start_epoch: 0-based schedule epoch of its first row.
        spec: Schedule its scheduler is built with.
        period: Cosine period when it differs from ``spec.epochs`` (fine-tune extension); else ``None``.
        label: One-line description.
    """

    kind: str
    first_row: int
    last_row: int
    start_epoch: int
    spec: ScheduleSpec
    label: str


@dataclass(frozen=True)
class Jump:
    """An upward step of the planned LR outside a fresh run's warmup.

    Attributes:
        row: Plan row where the higher LR first shows.
        epoch: What results.csv's epoch column shows on that row.
        group: Param group that defines the size (the reference group unless only another rose).
        before: LR on the previous row (for a restart: the old run's last LR).
        after: LR on ``row`` (for a restart: the highest LR the new run reaches, per iteration).
        kind: ``"step"`` (row to row), ``"restart"`` (new run from weights with a fresh schedule) or
            ``"drop"`` (a downward step: the LR falls below the previous schedule's value for the row).
        others: Other groups' ``(before, after)`` where they rose too, by column name.
        why: Which mechanism makes it.
        span: Rows the rise lasts (a cosine past its period climbs for many epochs: one jump, not one per row).
        expected: For a drop: what the previous process's schedule would have logged on ``row``.
    """

    row: int
    epoch: int
    group: int
    column: str
    before: float
    after: float
    kind: str
    why: str
    others: dict[str, tuple[float, float]] = field(default_factory=dict)
    span: int = 1
    expected: float | None = None

    @property
    def rel(self) -> float:
        """Relative size ``after / before - 1``."""
        return self.after / self.before - 1.0 if self.before > 0 else math.inf

    @property
    def direction(self) -> str:
        """``"up"`` or ``"down"``."""
        return "down" if self.after < self.before else "up"


@dataclass
class IterationView:
    """Per-iteration LR of a stretch of the plan (warmup, a seam).

    Attributes:
        label: What it shows.
        epochs: Fractional training epoch of every iteration (plan x axis).
        lr: ``(iterations, groups)`` LR.
    """

    label: str
    epochs: np.ndarray
    lr: np.ndarray


@dataclass
class Plan:
    """The planned LR of every group per results.csv row, and what happens along it.

    Attributes:
        config: The (first) run's configuration.
        scenario: One-line description of what is planned.
        x: Cumulative training epoch of every row (0-based; continues across a new run).
        epoch_label: What results.csv's epoch column will show on every row.
        lr: ``(rows, groups)`` logged LR.
        segments: Training processes, in order.
        jumps: Upward steps outside a fresh warmup.
        drops: Downward steps (see the module docstring), ``kind == "drop"``.
        iterations: Per-iteration views of warmups and seams (empty when ``nb`` is unknown).
        notes: Assumptions and caveats.
        lints: Filled by :func:`lrguard.plan.lint.lint_plan`.
    """

    config: PlanConfig
    scenario: str
    x: np.ndarray
    epoch_label: np.ndarray
    lr: np.ndarray
    segments: list[Segment]
    jumps: list[Jump] = field(default_factory=list)
    iterations: list[IterationView] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lints: list = field(default_factory=list)
    observed_rows: int = 0
    drops: list[Jump] = field(default_factory=list)
    row_epochs: np.ndarray | None = None  # time=: the epochs estimate each row was planned with

    @property
    def discontinuities(self) -> list[Jump]:
        """Every step of the planned LR, up (jumps, restarts) or down (drops), in row order."""
        return sorted([*self.jumps, *self.drops], key=lambda j: j.row)

    @property
    def columns(self) -> list[str]:
        """results.csv column of every group."""
        return [self.config.profile.lr_column(j) for j in range(self.lr.shape[1])]

    @property
    def ref(self) -> int:
        """Reference (weight) group."""
        return self.config.profile.reference_group

    def segment_of_row(self, row: int) -> Segment:
        """The segment that writes ``row``."""
        for s in self.segments:
            if s.first_row <= row <= s.last_row:
                return s
        raise IndexError(row)


def _warmup_mask(seg: Segment, profile, idx: np.ndarray) -> np.ndarray:
    """Rows of ``seg`` (schedule epochs ``idx``) that contain warmup iterations."""
    nb = seg.spec.nb
    nw = nw_of(seg.spec, profile)
    if nb is None or nw <= 0:
        return np.zeros(idx.shape, dtype=bool)
    return idx * nb <= nw


def _iteration_view(
    label: str, spec: ScheduleSpec, profile, first_epoch: int, n_epochs: int, x0: float
) -> IterationView | None:
    """Per-iteration LR for schedule epochs ``first_epoch .. first_epoch + n_epochs - 1``."""
    n_epochs = min(n_epochs, spec.epochs - first_epoch)  # not past the run's end
    if spec.nb is None or n_epochs <= 0:
        return None
    n_epochs = max(1, min(n_epochs, MAX_ITER_POINTS // spec.nb))
    lr = iteration_lr(spec, profile, first_epoch + n_epochs, start_epoch=first_epoch)
    xs = x0 + np.arange(lr.shape[0]) / spec.nb
    return IterationView(label=label, epochs=xs, lr=lr)


def find_jumps(plan: Plan) -> list[Jump]:
    """Row-to-row rises outside a fresh warmup, and the restart of a run from weights."""
    profile = plan.config.profile
    lr = plan.lr
    cols = plan.columns
    ref = plan.ref if plan.ref < lr.shape[1] else 0
    exempt = np.zeros(lr.shape[0], dtype=bool)
    for seg in plan.segments:
        rows = np.arange(seg.first_row, seg.last_row + 1)
        idx = seg.start_epoch + (rows - seg.first_row)
        exempt[rows] = _warmup_mask(seg, profile, idx)
    jumps: list[Jump] = []
    for seg in plan.segments:
        if seg.kind == "from-weights" and seg.first_row > 0:
            prev = lr[seg.first_row - 1]
            view = _iteration_view("", seg.spec, profile, 0, max(warmup_rows(seg.spec, profile), 1), 0.0)
            peak = view.lr.max(axis=0) if view is not None else lr[seg.first_row : seg.last_row + 1].max(axis=0)
            others = {
                cols[j]: (float(prev[j]), float(peak[j])) for j in range(lr.shape[1]) if j != ref and peak[j] > prev[j]
            }
            if peak[ref] > prev[ref] * (1 + RISE_TOL) or others:
                jumps.append(
                    Jump(
                        row=seg.first_row,
                        epoch=int(plan.epoch_label[seg.first_row]),
                        group=ref,
                        column=cols[ref],
                        before=float(prev[ref]),
                        after=float(peak[ref]),
                        kind="restart",
                        why="a new run from the weights builds a fresh schedule from lr0"
                        + (" and warms up again" if nw_of(seg.spec, profile) > 0 else ""),
                        others=others,
                    )
                )
    for i in range(1, lr.shape[0]):
        if exempt[i] or (plan.segment_of_row(i).kind == "from-weights" and plan.segment_of_row(i).first_row == i):
            continue
        rises = lr[i] > lr[i - 1] * (1 + RISE_TOL)
        if not rises.any():
            continue
        g = ref if rises[ref] else int(np.argmax(lr[i] / np.maximum(lr[i - 1], 1e-30)))
        seg = plan.segment_of_row(i)
        prev = jumps[-1] if jumps else None
        if prev is not None and prev.kind == "step" and prev.row + prev.span == i and seg.first_row <= prev.row:
            # the rise goes on: one event for the whole climb
            jumps[-1] = replace(prev, after=float(lr[i, prev.group]), span=prev.span + 1)
            continue
        why = _why(plan, seg, i)
        jumps.append(
            Jump(
                row=i,
                epoch=int(plan.epoch_label[i]),
                group=g,
                column=cols[g],
                before=float(lr[i - 1, g]),
                after=float(lr[i, g]),
                kind="step",
                why=why,
                others={cols[j]: (float(lr[i - 1, j]), float(lr[i, j])) for j in np.nonzero(rises)[0] if j != g},
            )
        )
    return jumps


def find_drops(plan: Plan) -> list[Jump]:
    """Rows where the LR falls below what the schedule of the previous row would have logged there.

    Checked at resume seams (the resumed rows against the first process's schedule continued) and,
    for ``time=``, wherever the epochs estimate changes. Rows inside a fresh warmup are skipped. Rises
    are :func:`find_jumps`' business; a restart from weights is a new run, judged there.
    """
    profile = plan.config.profile
    lr = plan.lr
    cols = plan.columns
    ref = plan.ref if plan.ref < lr.shape[1] else 0
    candidates: list[tuple[int, float, str]] = []  # (row, expected LR of the reference group, why)
    for k, seg in enumerate(plan.segments):
        if seg.kind != "resume" or k == 0:
            continue
        prev = plan.segments[k - 1]
        rows = np.arange(seg.first_row, seg.last_row + 1)
        idx = seg.start_epoch + (rows - seg.first_row)
        old_curve = logged_lr(prev.spec, profile, idx, lr.shape[1])[:, ref]
        low = np.nonzero(lr[rows, ref] < old_curve * (1 - DROP_TOL))[0]
        if low.size:
            i = int(low[0])
            candidates.append(
                (
                    int(rows[i]),
                    float(old_curve[i]),
                    "the resumed process builds its scheduler from the changed settings",
                )
            )
    if plan.row_epochs is not None:
        est = plan.row_epochs
        exempt = _warmup_mask(plan.segments[0], profile, np.arange(lr.shape[0]))
        for i in np.nonzero(np.diff(est) != 0)[0] + 1:
            if exempt[i]:
                continue
            old = float(
                logged_lr(plan.config.spec.with_(epochs=int(est[i - 1])), profile, np.array([i]), lr.shape[1])[0, ref]
            )
            if lr[i, ref] < old * (1 - DROP_TOL):
                candidates.append((int(i), old, f"time= re-estimated the total epochs down ({est[i - 1]} -> {est[i]})"))
    drops = []
    for row, old, why in candidates:
        falls = lr[row] < lr[row - 1]
        drops.append(
            Jump(
                row=row,
                epoch=int(plan.epoch_label[row]),
                group=ref,
                column=cols[ref],
                before=float(lr[row - 1, ref]),
                after=float(lr[row, ref]),
                kind="drop",
                why=why,
                others={cols[j]: (float(lr[row - 1, j]), float(lr[row, j])) for j in np.nonzero(falls)[0] if j != ref},
                expected=old,
            )
        )
    return drops


def _why(plan: Plan, seg: Segment, row: int) -> str:
    if plan.config.time is not None and seg.kind == "start":
        return "time= re-estimated the total epochs upwards and rebuilt the schedule"
    if seg.kind == "resume":
        if seg.spec.cos_lr and row - seg.first_row + seg.start_epoch > seg.spec.epochs:
            return "the cosine is evaluated past its period and climbs back towards lr0"
        return "the resumed process builds its scheduler from the changed settings"
    if seg.spec.cos_lr:
        return "the cosine is evaluated past its period and climbs back towards lr0"
    return "the schedule rises here"


def _label(cfg: PlanConfig, x: np.ndarray, new_run_from: int | None = None) -> np.ndarray:
    lab = x.astype(int) + cfg.profile.epoch_base
    if new_run_from is not None:
        lab[new_run_from:] = np.arange(lab.shape[0] - new_run_from) + cfg.profile.epoch_base
    return lab


def _describe(spec: ScheduleSpec) -> str:
    kind = "cosine" if spec.cos_lr else "linear"
    return f"{kind} lr0 {spec.lr0:g} -> lrf {spec.lrf:g} over {spec.epochs} epochs, warmup {spec.warmup_epochs:g}"


def plan_fresh(cfg: PlanConfig) -> Plan:
    """A fresh run as configured (``time=`` simulated when set, see :func:`plan_time`)."""
    spec = cfg.spec
    x = np.arange(spec.epochs)
    lr = logged_lr(spec, cfg.profile, x)
    seg = Segment("start", 0, spec.epochs - 1, 0, spec, "fresh run: " + _describe(spec))
    plan = Plan(cfg, f"a fresh run: {_describe(spec)}", x, _label(cfg, x), lr, [seg])
    v = _iteration_view("warmup", spec, cfg.profile, 0, warmup_rows(spec, cfg.profile) + 1, 0.0)
    if v is not None:
        plan.iterations.append(v)
    plan.jumps = find_jumps(plan)
    plan.drops = find_drops(plan)
    return plan


def plan_resume(cfg: PlanConfig, at: int, new: dict) -> Plan:
    """Train epochs ``0 .. at-1``, then ``--resume`` with changed settings.

    Args:
        cfg: The original run.
        at: 0-based epoch the resumed process starts with (the checkpoint is of epoch ``at - 1``).
        new: Changed settings for the resumed process: ``epochs``, ``lr0``, ``lrf``, ``cos_lr``.

    Models the trainers' resume rules: the first resumed row shows the LR restored from the checkpoint
    where the scheduler steps at the end of the epoch (YOLOv5), the schedule is rebuilt from the
    changed settings, and an ``epochs`` below ``at`` is read as "that many more epochs" (the
    fine-tune extension: a late-bound linear lambda uses the new total, a cosine keeps the old period).
    """
    profile = cfg.profile
    spec1 = cfg.spec
    notes: list[str] = []
    if not 1 <= at <= spec1.epochs:
        from lrguard.errors import InputError

        raise InputError(None, f"--resume-at {at} is outside the run's 1..{spec1.epochs} epochs")
    changes = {k: v for k, v in new.items() if v is not None}
    spec2 = spec1.with_(**changes)
    stop = spec2.epochs
    ignores = get_trainer(cfg.framework).resume_ignores_changes
    if ignores and changes:
        notes.append(ignores)
    if spec2.epochs < at:
        if profile.name.startswith("ultralytics-8.4"):
            notes.append(f"Ultralytics 8.4 refuses this resume: start epoch {at} >= epochs {spec2.epochs}")
            stop = at
        else:
            total = spec2.epochs + (at - 1)
            notes.append(
                f"epochs {spec2.epochs} < start epoch {at}: the trainer reads it as '{spec2.epochs} more epochs' and "
                f"trains to {total} (fine-tune extension)"
            )
            stop = total
            if not spec2.cos_lr:
                spec2 = spec2.with_(epochs=total)  # the linear lambda reads the updated variable
            # the cosine captured the configured value as its period: spec2.epochs stays
    elif spec2.epochs == at:
        notes.append(f"epochs {spec2.epochs} == start epoch {at}: the resumed run has nothing left to train")
    s1 = SessionPlan(0, at, spec1)
    s2 = SessionPlan(at, stop, spec2, resumed=True)
    idx, lr = logged_lr_sessions([s1, s2], profile)
    segs = [Segment("start", 0, at - 1, 0, spec1, "fresh run: " + _describe(spec1))]
    if stop > at:
        segs.append(Segment("resume", at, stop - 1, at, spec2, f"--resume at epoch {at}: " + _describe(spec2)))
    desc = ", ".join(f"{k}={v}" for k, v in changes.items()) or "no changes"
    plan = Plan(cfg, f"resume at epoch {at} with {desc}", idx, _label(cfg, idx), lr, segs, notes=notes)
    v = _iteration_view("warmup", spec1, profile, 0, warmup_rows(spec1, profile) + 1, 0.0)
    if v is not None:
        plan.iterations.append(v)
    if stop > at and spec2.nb is not None:
        lo = max(at - 2, 0)
        seam = _seam_iterations(s1, s2, profile, lo, min(at + 3, stop))
        plan.iterations.append(seam)
    plan.jumps = find_jumps(plan)
    plan.drops = find_drops(plan)
    return plan


def _seam_iterations(s1: SessionPlan, s2: SessionPlan, profile, lo: int, hi: int) -> IterationView:
    """Per-iteration LR of epochs ``lo .. hi-1`` across a resume seam."""
    a = iteration_lr(s1.spec, profile, s2.start_epoch, start_epoch=lo)
    b = iteration_lr(s2.spec, profile, hi, start_epoch=s2.start_epoch)
    if profile.resume_row_restored:
        # the first resumed epoch trains at the LR restored from the checkpoint
        nb = s2.spec.nb
        restored = iteration_lr(s1.spec, profile, s2.start_epoch + 1, start_epoch=s2.start_epoch)
        b[:nb] = restored[-nb:]  # type: ignore[operator]  # nb is known whenever a seam is drawn
    lr = np.vstack([a, b])
    nb = s1.spec.nb or 1
    return IterationView(label=f"resume seam at epoch {s2.start_epoch}", epochs=lo + np.arange(lr.shape[0]) / nb, lr=lr)


def plan_from_weights(cfg: PlanConfig, at: int, new: dict) -> Plan:
    """Train ``at`` epochs, then start a NEW run from the weights (no ``--resume``) with ``new`` settings.

    Args:
        cfg: The original run.
        at: Epochs the original run trains before it is continued (its ``epochs`` for a finished run).
        new: Settings of the new run: ``epochs``, ``lr0``, ``lrf``, ``cos_lr``, ``warmup_epochs``,
            ``warmup_bias_lr`` (unset ones keep the original values).
    """
    profile = cfg.profile
    spec1 = cfg.spec
    notes: list[str] = []
    if not 1 <= at <= spec1.epochs:
        from lrguard.errors import InputError

        raise InputError(None, f"--from-weights {at} is outside the run's 1..{spec1.epochs} epochs")
    spec2 = spec1.with_(**{k: v for k, v in new.items() if v is not None})
    from_weights_note = get_trainer(cfg.framework).from_weights_note
    if from_weights_note:
        notes.append(from_weights_note)
    lr1 = logged_lr(spec1, profile, np.arange(at))
    lr2 = logged_lr(spec2, profile, np.arange(spec2.epochs))
    x = np.arange(at + spec2.epochs)
    segs = [
        Segment("start", 0, at - 1, 0, spec1, "original run: " + _describe(spec1)),
        Segment("from-weights", at, at + spec2.epochs - 1, 0, spec2, "new run from the weights: " + _describe(spec2)),
    ]
    plan = Plan(
        cfg,
        f"a new run from the weights after epoch {at}: {_describe(spec2)}",
        x,
        _label(cfg, x, new_run_from=at),
        np.vstack([lr1, lr2]),
        segs,
        notes=notes,
    )
    v = _iteration_view("new run's warmup", spec2, profile, 0, warmup_rows(spec2, profile) + 1, float(at))
    if v is not None:
        plan.iterations.append(v)
    plan.jumps = find_jumps(plan)
    plan.drops = find_drops(plan)
    return plan


def plan_time(cfg: PlanConfig, epoch_seconds: float, first_epoch_seconds: float | None = None) -> Plan:
    """Simulate Ultralytics ``time=``: after every epoch the total epochs are re-estimated.

    ``epochs = ceil(time * 3600 / mean_epoch_time)`` and the scheduler is rebuilt with it; the run
    stops when the estimate is reached or the budget is spent.

    Args:
        cfg: Configuration with ``time`` set.
        epoch_seconds: Typical epoch duration.
        first_epoch_seconds: Duration of the first epoch (slower: caching, worker start-up); default
            twice ``epoch_seconds``.
    """
    assert cfg.time is not None
    profile = cfg.profile
    budget = cfg.time * 3600.0
    first = 2.0 * epoch_seconds if first_epoch_seconds is None else first_epoch_seconds
    est = cfg.spec.epochs
    rows: list[np.ndarray] = []
    estimates: list[int] = []
    elapsed = 0.0
    e = 0
    while e < 100000:
        spec_e = cfg.spec.with_(epochs=max(est, 1))
        rows.append(logged_lr(spec_e, profile, np.array([e]))[0])
        estimates.append(est)
        elapsed += first if e == 0 else epoch_seconds
        est = math.ceil(budget / (elapsed / (e + 1)))
        if e >= est or elapsed > budget:
            break
        e += 1
    lr = np.vstack(rows)
    x = np.arange(lr.shape[0])
    final = cfg.spec.with_(epochs=estimates[-1])
    seg = Segment("start", 0, lr.shape[0] - 1, 0, final, f"time={cfg.time:g} h: epochs re-estimated every epoch")
    plan = Plan(
        cfg,
        f"time={cfg.time:g} h with {epoch_seconds:g} s epochs (first {first:g} s): {len(rows)} epochs",
        x,
        _label(cfg, x),
        lr,
        [seg],
        notes=[f"epoch estimates after each epoch: {_estimates_text(estimates)}"],
        row_epochs=np.array(estimates),
    )
    plan.jumps = find_jumps(plan)
    plan.drops = find_drops(plan)
    return plan


def _estimates_text(est: list[int]) -> str:
    changes = [(0, est[0])] + [(i, v) for i, v in enumerate(est) if i and v != est[i - 1]]
    text = ", ".join(f"epoch {i}: {v}" for i, v in changes[:8])
    return text + (f", ... ({len(changes) - 8} more changes)" if len(changes) > 8 else "")
