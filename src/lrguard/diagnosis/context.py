"""Shared facts about a run that every detector needs: sessions, the plan, the reference column."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from lrguard.model import Run, Session
from lrguard.schedules.curve import logged_lr, nw_of
from lrguard.schedules.fit import best_integer_epochs, estimate_nb, fit_nb_and_lr0, warmup_start
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers import get_profile, get_trainer
from lrguard.trainers.profile import Profile

REL_TOL_FLOOR = 2e-4


@dataclass
class Context:
    """What detectors share.

    Attributes:
        run: The run.
        profile: Trainer-version rules.
        spec: Planned schedule of the run the configuration describes (the last lineage), ``nb``
            estimated when possible.
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
        lineages: Every training run in the file, each with its own fitted schedule (appended runs).
        row_range: Rows a detector should look at (a lineage's), ``None`` for all.
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
    lineages: list[Lineage] = field(default_factory=list)
    row_range: tuple[int, int] | None = None

    def for_lineage(self, k: int) -> Context:
        """A view of this context for lineage ``k``: its own schedule, its rows only (``row_range``)."""
        lin = self.lineages[k]
        return replace(self, spec=lin.spec, lr0_source=lin.lr0_source, row_range=(lin.first_row, lin.last_row))

    def spec_at(self, row: int) -> ScheduleSpec:
        """The schedule of the lineage that holds ``row``."""
        for lin in self.lineages:
            if lin.first_row <= row <= lin.last_row:
                return lin.spec
        return self.spec

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


@dataclass(frozen=True)
class Lineage:
    """One training run in the file: a fresh start (or the file's first row) and its resumes.

    Runs appended to the same results.csv are separate lineages, each with its own schedule fitted
    from its own rows: the configuration files describe only the last one.

    Attributes:
        index: 0-based position in the file.
        first_row: Its first row.
        last_row: Its last row (inclusive).
        spec: Its planned schedule (``nb`` and, where the rows determine them, ``lr0`` and ``epochs``).
        described: True for the run the configuration files describe (the last one).
        lr0_source: ``"config"`` or ``"fitted"`` (read off the logged LR).
    """

    index: int
    first_row: int
    last_row: int
    spec: ScheduleSpec
    described: bool
    lr0_source: str = "config"


def _fit_lineage(
    run: Run,
    profile: Profile,
    ref: int,
    tol: float,
    epoch_index: np.ndarray,
    first: Session,
    last_row: int,
    spec: ScheduleSpec,
    described: bool,
    warmup_off: bool,
) -> tuple[ScheduleSpec, str, list[str]]:
    """Fit one lineage's unknowns (``nb``; ``lr0`` with optimizer=auto; ``epochs`` of an earlier run)."""
    notes: list[str] = []
    obs = run.lr[:, ref]
    lr0_source = "config"
    if get_trainer(run.framework).trainer_chooses_lr0(run.hyp):
        lr0_source = "fitted"
    if not (first.start in ("start", "restart") and epoch_index[first.first_row] == 0):
        notes.append("the file does not start at the first epoch: warmup rows not available")
        return spec, lr0_source, notes
    a = first.first_row
    ramp_end = _ramp_end(obs, a, first.last_row)
    fitted_jointly = False
    if lr0_source == "fitted" and spec.warmup_bias_lr <= 0 and not warmup_off:
        # optimizer=auto: lr0 is whatever the trainer chose; fit it together with nb on the ramp.
        stop = min(ramp_end + 5, first.last_row)
        nb, lr0, err = fit_nb_and_lr0(obs[a : stop + 1], epoch_index[a : stop + 1], spec, profile, ref)
        if nb is not None and lr0 is not None and err <= max(20 * tol, 5e-3):
            spec = spec.with_(lr0=lr0, nb=nb)
            fitted_jointly = True
            notes.append(f"optimizer=auto: lr0 {spec.lr0:.6g} read from the logged LR (args.yaml's lr0 is ignored)")
    if not fitted_jointly:
        if lr0_source == "fitted":
            # Read lr0 off the first row after the ramp.
            after = min(ramp_end + 1, first.last_row)
            x = epoch_index[after] - (profile.log_lag if after > ramp_end else 0)
            lf = float(spec.lf(float(max(x, 0)), profile))
            if np.isfinite(obs[after]) and obs[after] > 0 and lf > 0:
                spec = spec.with_(lr0=float(obs[after]) / lf / profile.lr_scale(ref))
                notes.append(f"optimizer=auto: lr0 {spec.lr0:.6g} read from the logged LR (args.yaml's lr0 is ignored)")
            else:
                notes.append("optimizer=auto: the logged LR is 0 on the first rows, lr0 not determined")
        n_fit = ramp_end - a + 1
        rows0 = run.lr[a : a + n_fit]
        nb, err = estimate_nb(rows0, spec, profile, n_fit)
        if warmup_off:
            pass  # no row depends on nb, so it stays unknown
        elif nb is not None and err <= max(20 * tol, 5e-3):
            spec = spec.with_(nb=nb)
        elif nb is not None:
            notes.append("the first rows do not match a warmup of this configuration; batches per epoch unknown")
        _, lr0_warm = warmup_start(rows0[0], spec, profile)
        if lr0_warm is not None and lr0_source == "config" and spec.lr0 > 0 and abs(lr0_warm / spec.lr0 - 1) > 0.01:
            if described:
                notes.append(
                    f"the warmup ramped towards lr0 {lr0_warm:.6g}, but the configuration now says lr0 {spec.lr0:.6g}"
                )
            else:  # an earlier run in the same file had its own lr0: its warmup says which
                spec = spec.with_(lr0=lr0_warm)
                lr0_source = "fitted"
    if not described and spec.nb is not None:
        # An earlier run's total epochs are not in any file: fit them on its rows after warmup.
        nw = nw_of(spec, profile)
        rows = np.arange(a, last_row + 1)
        post = rows[(epoch_index[rows] * spec.nb > nw) & np.isfinite(obs[rows])]
        if post.size >= 3:
            x = np.maximum(epoch_index[post] - profile.log_lag, 0).astype(float)
            e_fit, e_err = best_integer_epochs(obs[post], x, spec, profile, base=spec.lr0 * profile.lr_scale(ref))
            if e_fit is not None and e_err <= 3 * tol:
                spec = spec.with_(epochs=e_fit)
    return spec, lr0_source, notes


def _lineage_bounds(sessions: list[Session], n: int) -> list[tuple[int, int, Session]]:
    """(first row, last row, first session) of every lineage: a new one at each appended run."""
    heads = [s for s in sessions if s.index == 0 or s.start == "restart"]
    out = []
    for k, s in enumerate(heads):
        stop = heads[k + 1].first_row - 1 if k + 1 < len(heads) else n - 1
        out.append((s.first_row, stop, s))
    return out


def build_context(run: Run) -> Context:
    """Reconstruct the plan and the sessions of ``run``; every appended run is fitted on its own."""
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
    config_spec = _spec_from_hyp(run, profile)
    obs = run.lr[:, ref]
    # Ultralytics switches warmup off for warmup_epochs <= 0 (YOLOv5 keeps its iteration floor).
    warmup_off = profile.warmup_zero_disables and config_spec.warmup_epochs <= 0

    bounds = _lineage_bounds(sessions, run.n_rows)
    lineages: list[Lineage] = []
    planned = np.zeros((run.n_rows, n_groups))
    in_warmup = np.zeros(run.n_rows, dtype=bool)
    for k, (a, b, first) in enumerate(bounds):
        described = k == len(bounds) - 1
        start_spec = config_spec
        if not described:  # until its rows say otherwise, an earlier run is taken to have finished
            start_spec = config_spec.with_(epochs=max(int(epoch_index[b]) + 1, 1))
        spec_k, source, notes_k = _fit_lineage(
            run, profile, ref, tol, epoch_index, first, b, start_spec, described, warmup_off
        )
        if k == 0 or described:
            notes.extend(n for n in notes_k if n not in notes)
        lineages.append(Lineage(k, a, b, spec_k, described, source))
        idx = epoch_index[a : b + 1]
        planned[a : b + 1] = logged_lr(spec_k, profile, idx, n_groups)
        if spec_k.nb is not None:
            nw = nw_of(spec_k, profile)
            in_warmup[a : b + 1] = (idx * spec_k.nb <= nw) & (nw > 0)
        elif not warmup_off:
            for s in sessions:
                if a <= s.first_row <= b and s.start in ("start", "restart") and epoch_index[s.first_row] == 0:
                    end = _ramp_end(obs, s.first_row, s.last_row)
                    in_warmup[s.first_row : end + 1] = True
    described_lineage = lineages[-1]
    return Context(
        run=run,
        profile=profile,
        spec=described_lineage.spec,
        ref=ref,
        tol=tol,
        sessions=sessions,
        session_of_row=session_of_row,
        epoch_index=epoch_index,
        planned=planned,
        in_warmup=in_warmup,
        notes=notes,
        lr0_source=described_lineage.lr0_source,
        lineages=lineages,
    )
