"""Shared facts about a run that every detector needs: sessions, the plan, the reference column."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lrguard.frameworks import get_profile
from lrguard.frameworks.profile import Profile
from lrguard.model import Framework, Run, Session
from lrguard.schedules.curve import logged_lr, nw_of
from lrguard.schedules.fit import estimate_nb, warmup_start
from lrguard.schedules.spec import ScheduleSpec

REL_TOL_FLOOR = 2e-4


@dataclass
class Context:
    """What detectors share.

    Attributes:
        run: The run.
        profile: Trainer-version rules.
        spec: Planned schedule from the run's configuration (``nb`` estimated when possible).
        ref: Index of the reference (weight) group.
        tol: Relative tolerance for "equal" LR values at the CSV's precision.
        sessions: Sessions in file order.
        session_of_row: Session index of every row.
        epoch_index: 0-based schedule epoch of every row (restarts at each appended run).
        planned: Planned LR ``(rows, groups)``.
        in_warmup: True for rows that contain warmup iterations (or, with ``nb`` unknown, rows up
            to the end of the LR ramp).
        notes: Remarks for the report.
        lr0_source: Where ``spec.lr0`` came from.
    """

    run: Run
    profile: Profile
    spec: ScheduleSpec
    ref: int
    tol: float
    sessions: list[Session]
    session_of_row: np.ndarray
    epoch_index: np.ndarray
    planned: np.ndarray
    in_warmup: np.ndarray
    notes: list[str] = field(default_factory=list)
    lr0_source: str = "config"

    @property
    def obs(self) -> np.ndarray:
        """Logged LR of the reference group."""
        return self.run.lr[:, self.ref]

    def rel(self, a: float, b: float) -> float:
        """Relative difference ``a / b - 1`` (inf when ``b`` is 0)."""
        return a / b - 1.0 if b != 0 else math.inf

    def close(self, a: float, b: float, tol: float | None = None) -> bool:
        """Whether ``a`` and ``b`` agree within the CSV precision."""
        t = self.tol if tol is None else tol
        return abs(a - b) <= t * max(abs(a), abs(b), 1e-12)

    def x_of_row(self, i: int) -> float:
        """The ``lf`` argument of row ``i`` after warmup under the profile's logging rule."""
        return float(max(self.epoch_index[i] - self.profile.log_lag, 0))

    def total_train_loss(self) -> np.ndarray | None:
        """Sum of the train loss columns per row (``None`` when the CSV has none)."""
        cols = list(self.run.train_losses.values())
        if not cols:
            return None
        return np.sum(np.vstack(cols), axis=0)


def split_sessions(run: Run, profile: Profile) -> list[Session]:
    """Split rows into sessions at epoch discontinuities and other evidence of a new process."""
    epochs = run.epochs
    n = epochs.shape[0]
    hinted = set(run.session_starts)
    bounds: list[tuple[int, str, str]] = [(0, "start", "first row")]
    # Only rows where the epoch does not advance by one, or that other evidence marks, can start a
    # session: find them with array operations and look at those alone.
    seams = np.nonzero(np.diff(epochs) != 1)[0] + 1 if n > 1 else np.zeros(0, dtype=int)
    candidates = sorted(set(int(i) for i in seams) | {i for i in hinted if 0 < i < n})
    for i in candidates:
        prev, cur = int(epochs[i - 1]), int(epochs[i])
        line = int(run.table.line_numbers[i])
        if cur == profile.epoch_base and prev >= cur:
            bounds.append((i, "restart", f"epoch column restarts at {cur} on line {line} after {prev}"))
        elif cur <= prev:
            bounds.append((i, "rewind", f"epoch column goes back from {prev} to {cur} on line {line}"))
        elif cur > prev + 1:
            bounds.append((i, "resume", f"epochs {prev + 1}..{cur - 1} missing before line {line}"))
        elif i in hinted:
            if i in run.session_reasons:
                why = run.session_reasons[i]
            elif run.time is not None and run.time[i] < run.time[i - 1]:
                why = "the 'time' column restarts"
            else:
                why = "a new TensorBoard event file starts"
            bounds.append((i, "resume", f"{why} at epoch {cur} (line {line})"))
    sessions: list[Session] = []
    for k, (start, kind, why) in enumerate(bounds):
        reason = run.session_reasons.get(start)
        if reason and reason not in why:
            why = f"{why}; {reason}"
        stop = bounds[k + 1][0] - 1 if k + 1 < len(bounds) else n - 1
        sessions.append(
            Session(
                index=k,
                first_row=start,
                last_row=stop,
                first_epoch=int(epochs[start]),
                last_epoch=int(epochs[stop]),
                start=kind,
                evidence=why,
            )
        )
    return sessions


def _spec_from_hyp(run: Run, profile: Profile) -> ScheduleSpec:
    h = run.hyp

    def num(key: str, default: float) -> float:
        try:
            v = float(h.get(key, default))
        except (TypeError, ValueError):
            return default
        return v if math.isfinite(v) else default

    epochs = int(num("epochs", 100))
    if epochs < 1:  # a broken config: fall back to the epochs the file reaches
        epochs = max(int(run.epochs.max()) - profile.epoch_base + 1, 1)
    return ScheduleSpec(
        lr0=num("lr0", 0.01),
        lrf=num("lrf", 0.01),
        epochs=epochs,
        cos_lr=bool(h.get("cos_lr", False)),
        warmup_epochs=num("warmup_epochs", 3.0),
        warmup_bias_lr=num("warmup_bias_lr", 0.1),
    )


def _ramp_end(obs: np.ndarray, start: int, stop: int) -> int:
    """Last row of the warmup ramp of a fresh run: the first row that does not rise, plus one."""
    i = start
    while i + 1 <= stop and np.isfinite(obs[i + 1]) and obs[i + 1] > obs[i] * (1 + 1e-9):
        i += 1
    return min(i + 1, stop)


def build_context(run: Run) -> Context:
    """Reconstruct the plan and the sessions of ``run``."""
    profile = get_profile(run.profile_name)
    notes: list[str] = []
    n_groups = run.n_groups
    ref = profile.reference_group if profile.reference_group < n_groups else 0
    tol = max(REL_TOL_FLOOR, profile.rel_tolerance())
    sessions = split_sessions(run, profile)
    session_of_row = np.zeros(run.n_rows, dtype=int)
    for s in sessions:
        session_of_row[s.first_row : s.last_row + 1] = s.index
    epoch_index = run.epochs - profile.epoch_base
    spec = _spec_from_hyp(run, profile)
    obs = run.lr[:, ref]

    # Ultralytics switches warmup off for warmup_epochs <= 0 (YOLOv5 keeps its iteration floor).
    warmup_off = profile.warmup_zero_disables and spec.warmup_epochs <= 0
    # The first fresh stretch (epoch index 0 upwards) carries the warmup that determines nb.
    first = sessions[0]
    lr0_source = "config"
    fresh = first.start in ("start", "restart") and epoch_index[first.first_row] == 0
    if run.framework is Framework.ULTRALYTICS and str(run.hyp.get("optimizer", "")).lower() == "auto":
        lr0_source = "fitted"
    if fresh:
        ramp_end = _ramp_end(obs, first.first_row, first.last_row)
        if lr0_source == "fitted":
            # optimizer=auto: lr0 is whatever the trainer chose; read it off the first row after the ramp.
            after = min(ramp_end + 1, first.last_row)
            x = epoch_index[after] - (profile.log_lag if after > ramp_end else 0)
            lf = float(spec.lf(float(max(x, 0)), profile))
            if np.isfinite(obs[after]) and lf > 0:
                spec = spec.with_(lr0=float(obs[after]) / lf / profile.lr_scale(ref))
                notes.append(f"optimizer=auto: lr0 {spec.lr0:.6g} read from the logged LR (args.yaml's lr0 is ignored)")
        n_fit = ramp_end - first.first_row + 1
        rows0 = run.lr[first.first_row : first.first_row + n_fit]
        nb, err = estimate_nb(rows0, spec, profile, n_fit)
        if warmup_off:
            pass  # no row depends on nb, so it stays unknown
        elif nb is not None and err <= max(20 * tol, 5e-3):
            spec = spec.with_(nb=nb)
        elif nb is not None:
            notes.append("the first rows do not match a warmup of this configuration; batches per epoch unknown")
        _, lr0_warm = warmup_start(rows0[0], spec, profile)
        if lr0_warm is not None and lr0_source == "config" and spec.lr0 > 0 and abs(lr0_warm / spec.lr0 - 1) > 0.01:
            notes.append(
                f"the warmup ramped towards lr0 {lr0_warm:.6g}, but the configuration now says lr0 {spec.lr0:.6g}"
            )
    else:
        notes.append("the file does not start at the first epoch: warmup rows not available")

    planned = logged_lr(spec, profile, epoch_index, n_groups)
    nw = nw_of(spec, profile)
    if spec.nb is not None:
        in_warmup = (epoch_index * spec.nb <= nw) & (nw > 0)
        # The row after warmup hands over with a flat step in YOLOv5; it is still on plan.
    else:
        in_warmup = np.zeros(run.n_rows, dtype=bool)
        for s in sessions if not warmup_off else []:
            if s.start in ("start", "restart") and epoch_index[s.first_row] == 0:
                end = _ramp_end(obs, s.first_row, s.last_row)
                in_warmup[s.first_row : end + 1] = True
    return Context(
        run=run,
        profile=profile,
        spec=spec,
        ref=ref,
        tol=tol,
        sessions=sessions,
        session_of_row=session_of_row,
        epoch_index=epoch_index,
        planned=planned,
        in_warmup=in_warmup,
        notes=notes,
        lr0_source=lr0_source,
    )
