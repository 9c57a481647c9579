"""The data model shared by every stage of the pipeline.

``readers`` produce a :class:`Run`; ``diagnosis`` produces :class:`Finding` objects and
:class:`Session` objects about it; ``reports`` render them. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard.checkpoint_facts import CheckpointFacts as CheckpointFacts  # its own module: `ckpt show` skips this one

if TYPE_CHECKING:  # annotations only: `ckpt show` must not pay numpy's import
    import numpy as np


class Severity(StrEnum):
    """How much a finding matters. Ordered: ``info`` < ``warning`` < ``error``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Numeric order of the severity (0 = info)."""
        return ("info", "warning", "error").index(self.value)


class Cause(StrEnum):
    """Stable identifiers of the mechanisms a finding can name (used in ``--json``)."""

    WARMUP = "warmup"
    RESTART_FROM_WEIGHTS = "restart-from-weights"
    EPOCHS_CHANGED_ON_RESUME = "epochs-changed-on-resume"
    FINETUNE_EXTENSION = "finetune-extension"
    RESUME_FROM_OLDER_CHECKPOINT = "resume-from-older-checkpoint"
    HYP_CHANGED_ON_RESUME = "hyp-changed-on-resume"
    TIME_BUDGET_REESTIMATION = "time-budget-reestimation"
    AUTO_OPTIMIZER_SWITCH = "auto-optimizer-switch"
    BIAS_WARMUP_WRONG_GROUP = "bias-warmup-wrong-group"
    SCHEDULER_BUILT_AFTER_LOAD = "scheduler-built-after-load"
    WARMUP_REENTERED_ON_RESUME = "warmup-reentered-on-resume"
    RESUME_LR_BLIP = "resume-lr-blip"
    APPENDED_RUNS = "appended-runs"
    SCHEDULE_PAST_END = "schedule-past-end"
    NONFINITE = "nonfinite"
    LOSS_SPIKE = "loss-spike"
    CLOSE_MOSAIC = "close-mosaic"
    LR_OFF_PLAN = "lr-off-plan"
    RESUME_WITHOUT_OPTIMIZER_STATE = "resume-without-optimizer-state"
    CRASH_REMNANT = "crash-remnant"
    RESUME_OFF_BY_ONE = "resume-off-by-one"
    SCHEDULER_STEPPED_PER_PROCESS = "scheduler-stepped-per-process"
    SCHEDULER_INTERVAL_MISMATCH = "scheduler-interval-mismatch"
    GRAD_NORM_SPIKE = "grad-norm-spike"
    GUARD_ACTION = "guard-action"


@dataclass(frozen=True)
class CrashRemnant:
    """What a crash left inside results.csv: NUL bytes and/or a partly written (torn) row.

    A process killed while the file system had allocated, but not yet written, the file's last
    block leaves NUL bytes; a process killed mid-write leaves a row with fewer fields than the
    header. The next training process then appends after them, so a remnant marks a session
    boundary.

    Attributes:
        line: 1-based line of the file that holds the remnant.
        byte_offset: Offset in the file of the first NUL byte, or of the torn row when there is none.
        nul_bytes: Number of NUL bytes on that line.
        torn_chars: Characters of a partly written row that were dropped (0 when none).
        next_row: Data-row index of the first complete row after the remnant (``None`` at the end).
    """

    line: int
    byte_offset: int
    nul_bytes: int
    torn_chars: int
    next_row: int | None

    def describe(self) -> str:
        """One line for the report."""
        what = []
        if self.nul_bytes:
            what.append(f"{self.nul_bytes} NUL bytes")
        if self.torn_chars:
            what.append(f"a partly written row ({self.torn_chars} characters)")
        return f"{' and '.join(what)} at byte {self.byte_offset} (line {self.line})"


@dataclass
class Table:
    """A parsed results.csv: column names (stripped) and one float array per column.

    Attributes:
        path: The CSV file.
        columns: Column names in file order, whitespace stripped.
        values: Column name -> float64 array (NaN where a cell is empty or not a number).
        line_numbers: 1-based line number in the file of every data row.
        missing: Column name -> True where the cell was empty (as opposed to a literal nan/inf).
        remnants: What crashes left in the file (NUL bytes, torn rows), in file order.
        padded: The header cells are space padded (fixed-width formatting, as YOLOv5 and
            Ultralytics <= 8.2 write them).
    """

    path: Path
    columns: list[str]
    values: dict[str, np.ndarray]
    line_numbers: np.ndarray
    missing: dict[str, np.ndarray] = field(default_factory=dict)
    remnants: list[CrashRemnant] = field(default_factory=list)
    padded: bool = False

    def __len__(self) -> int:
        return int(self.line_numbers.shape[0])

    def column(self, name: str) -> np.ndarray:
        """Return the values of ``name`` (KeyError if absent)."""
        return self.values[name]


class AxisUnit(StrEnum):
    """What a run's rows are counted in."""

    EPOCH = "epoch"
    STEP = "step"


@dataclass(frozen=True)
class Axis:
    """The x axis of a run: one position per row, in the run's own numbering.

    Attributes:
        unit: ``epoch`` (one row per epoch, as results.csv) or ``step`` (one row per logged
            optimizer step).
        values: Position of every row (int array), exactly as the trainer numbers it (0- or 1-based).
        steps_per_epoch: Optimizer steps per epoch, when known.
        epoch_of_row: Epoch of every row (float, fractional within an epoch) when the log records
            it; ``None`` otherwise.
    """

    unit: AxisUnit
    values: np.ndarray
    steps_per_epoch: int | None = None
    epoch_of_row: np.ndarray | None = None

    def whole_epoch(self, row: int) -> int | None:
        """0-based epoch that a step-counted row belongs to, when the log records epochs.

        Loggers write the epochs completed *after* the step (HF: ``1.25`` at step 20 of 16 per
        epoch, ``5.0`` at the last step of the fifth epoch), so the step is in epoch ``ceil(e) - 1``.
        """
        import math

        if self.epoch_of_row is None or not math.isfinite(float(self.epoch_of_row[row])):
            return None
        return max(math.ceil(float(self.epoch_of_row[row])) - 1, 0)


@dataclass(frozen=True)
class Provenance:
    """Where every row of a run came from: a file and a line in it, or a file and a step.

    Attributes:
        files: The files rows were read from.
        file_of_row: Index into ``files`` for every row (int array).
        locator: Line number (1-based) or step of every row in its file (int array).
        kind: ``"line"`` when ``locator`` holds line numbers, ``"step"`` when it holds steps.
    """

    files: tuple[Path, ...]
    file_of_row: np.ndarray
    locator: np.ndarray
    kind: str = "line"

    def describe(self, row: int) -> str:
        """``results.csv line 12`` / ``events.out.tfevents.X step 40`` for one row."""
        name = self.files[int(self.file_of_row[row])].name
        return f"{name} {self.kind} {int(self.locator[row])}"


class EvidenceKind(StrEnum):
    """Why a reader believes a new training process (session) begins at a row."""

    HEADER_REPEAT = "header-repeat"  # a second CSV header: another run appended to the file
    TIME_RESTART = "time-restart"  # the elapsed-time column went back
    EPOCH_REWIND = "epoch-rewind"  # the epoch (or step) counter went back
    NEW_EVENT_FILE = "new-event-file"  # a TensorBoard event file opened by a new process
    NEW_LOG_DIR = "new-log-dir"  # a new logger directory (a new TB dir, Lightning version_N)
    CHECKPOINT_SEQUENCE = "checkpoint-sequence"  # a checkpoint the next session resumed from
    CRASH_REMNANT = "crash-remnant"  # NUL bytes or a torn row left by a killed process


@dataclass(frozen=True)
class SessionEvidence:
    """One piece of evidence that a session starts at ``row``.

    Attributes:
        row: First row of the new session.
        kind: What kind of evidence.
        detail: One line for the report.
    """

    row: int
    kind: EvidenceKind
    detail: str


class PreviousRunSource(StrEnum):
    """How the reader found the previous run a run started from."""

    WEIGHTS = "weights"  # the configured starting weights are a previous run's checkpoint (YOLO)
    EARLIER_LOG = "earlier-log"  # an earlier run's own log in the same directory (HF: an older runs/ dir)


@dataclass(frozen=True)
class PreviousRun:
    """The previous training run a new run was started from, found and read by the reader.

    Diagnosis does no I/O: what the ``restart-from-weights`` rules compare the new run with (where
    the previous run's LR and loss ended) is read here first.

    Attributes:
        source: How it was found.
        why: Why it is a previous run (a checkpoint name, a path inside a run directory, a log the
            run's own history does not contain).
        path: Its directory, when it was found on this machine.
        name: How the texts name it (e.g. ``runs/<dir>``; default: ``path``).
        weights: The configured weights it was recognised by (``source == WEIGHTS``).
        lr_columns: Its LR columns.
        last_lr: Its last logged LR per group (empty when not read).
        last_epoch: Its last logged epoch (epoch-counted runs).
        last_step: Its last logged step (step-counted runs).
        first_loss: Its first logged training loss (step-counted runs).
        last_loss: Its last logged training loss (step-counted runs).
        error: Why it could not be read, when it was found but not readable.
    """

    source: PreviousRunSource
    why: str
    path: Path | None = None
    name: str | None = None
    weights: str | None = None
    lr_columns: tuple[str, ...] = ()
    last_lr: tuple[float, ...] = ()
    last_epoch: int | None = None
    last_step: int | None = None
    first_loss: float | None = None
    last_loss: float | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """How the texts name it."""
        return self.name or str(self.path)


@dataclass(frozen=True)
class GuardEvent:
    """One line of the live guard's (or ``lrguard run``'s) JSON-lines events file, as read back.

    Attributes:
        line: 1-based line of the events file.
        signal: What the guard saw (``nonfinite``, ``loss-spike``, ``grad-spike``, ``lr-off-plan``,
            ``resume``, ``resume-lr``, ``internal``).
        action: What it did (``log``, ``skip``, ``clip``, ``lower-lr``, ``stop``, ``warn``,
            ``continue-curve``, ``disable``).
        message: Its one line for a person.
        step: Global optimizer step (0-based: the number of steps before it), when known.
        epoch: Epoch, when the writer knew it.
        until: First step after a ``lower-lr`` action's window (the LR is back on the schedule
            from there), when the file records it.
        value: The observed value (loss, grad norm, LR), when there is one (may be non-finite).
        expected: What it was judged against.
        rank: Distributed rank.
        time: Unix time the event was written, when recorded.
    """

    line: int
    signal: str
    action: str
    message: str
    step: int | None = None
    epoch: int | None = None
    until: int | None = None
    value: float | None = None
    expected: float | None = None
    rank: int = 0
    time: float | None = None

    @property
    def changes_lr(self) -> bool:
        """True when the guard itself changed the LR (``lower-lr``, a ``continue-curve`` re-plan)."""
        return self.action in ("lower-lr", "continue-curve")


@dataclass
class Run:
    """One training run directory, read into plain arrays and dictionaries.

    Attributes:
        path: The run directory.
        framework: Name of the trainer that wrote it (its :data:`lrguard.trainers.REGISTRY` key).
        framework_version: Exact version when known (checkpoint ``version``), else ``None``.
        profile_name: Name of the :mod:`lrguard.trainers` profile used for its maths.
        table: The parsed results.csv.
        epochs: The run's own epoch column as integers (0- or 1-based, as written).
        lr: Logged learning rate, shape ``(rows, groups)``.
        lr_columns: The results.csv column of every group, in group order.
        train_losses: Train loss columns (name -> values).
        val_losses: Validation loss columns (name -> values).
        time: Ultralytics ``time`` column (seconds since session start) or ``None``.
        config: opt.yaml (YOLOv5) or args.yaml (Ultralytics) as loaded.
        hyp: The hyperparameters that drive the schedule (lr0, lrf, warmup_*, ...), merged from
            the configuration files.
        checkpoints: Facts read from checkpoints found under ``weights/``.
        resume_check: What ``--resume`` / ``resume=True`` from ``weights/last.pt`` would do to the LR
            (the checkpoint inspector's verdict as plain values), when that file was read.
        session_starts: Row indices where a new training process started, from evidence other
            than the LR (TensorBoard event files, the ``time`` column, a crash remnant); row 0 is implied.
        session_reasons: Why a row in ``session_starts`` starts a session, where the reader knows.
        profile_candidates: Profiles the files leave when nothing records the version, most likely
            first; the diagnosis tests them against the rows and sets ``profile_name`` to the one
            that explains them (a single entry when the version is known or forced).
        profile_evidence: Why those candidates (one line per fact).
        profile_recorded: True when a checkpoint, ``--framework-version`` or ``--profile`` named the
            version (no inference).
        notes: Things the reader noticed (a partly written last line, missing optional files).
        files: What was read, by role (``results``, ``opt``, ``hyp``, ``args``, ...).
        axis: The general x axis (unit and position per row); an epoch axis over ``epochs`` when
            not given.
        group_names: Name of every param group (default: ``lr_columns``).
        series: Named scalar series per row besides the LR: losses, grad norm, loss scale
            (default: the train and val loss columns).
        evidence: Typed session evidence, one entry per fact (``session_starts`` lists the rows).
        provenance: File and line (or step) of every row (default: ``table``'s line numbers).
        parent: The previous run this one was started from, read by the reader: recognised from
            the configured weights (YOLO ``--weights .../last.pt``) or found as an earlier run's
            own log in the same directory (HF); ``None`` when there is none.
        guard_events: The live guard's events for this run, in file order (read from
            ``files["events"]``; empty when the run has no events file).
    """

    path: Path
    framework: str
    framework_version: str | None
    profile_name: str
    table: Table
    epochs: np.ndarray
    lr: np.ndarray
    lr_columns: list[str]
    train_losses: dict[str, np.ndarray]
    val_losses: dict[str, np.ndarray]
    time: np.ndarray | None
    config: dict[str, Any]
    hyp: dict[str, Any]
    checkpoints: list[CheckpointFacts] = field(default_factory=list)
    resume_check: dict[str, Any] | None = None
    session_starts: list[int] = field(default_factory=list)
    session_reasons: dict[int, str] = field(default_factory=dict)
    profile_candidates: list[str] = field(default_factory=list)
    profile_evidence: list[str] = field(default_factory=list)
    profile_recorded: bool = False
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    axis: Axis | None = None
    group_names: list[str] = field(default_factory=list)
    series: dict[str, np.ndarray] = field(default_factory=dict)
    evidence: list[SessionEvidence] = field(default_factory=list)
    provenance: Provenance | None = None
    parent: PreviousRun | None = None
    guard_events: list[GuardEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Fill the general view (axis, group names, series, provenance) from the table when not given."""
        if self.axis is None:
            self.axis = Axis(AxisUnit.EPOCH, self.epochs)
        if not self.group_names:
            self.group_names = list(self.lr_columns)
        if not self.series:
            self.series = {**self.train_losses, **self.val_losses}
        if self.provenance is None:
            import numpy as np

            rows = self.table.line_numbers
            self.provenance = Provenance((self.table.path,), np.zeros(len(rows), dtype=np.int64), rows, "line")

    @property
    def unit(self) -> AxisUnit:
        """What the rows are counted in (``epoch`` for results.csv runs)."""
        assert self.axis is not None  # set by __post_init__
        return self.axis.unit

    @property
    def n_rows(self) -> int:
        """Number of complete data rows."""
        return int(self.epochs.shape[0])

    @property
    def n_groups(self) -> int:
        """Number of logged param groups."""
        return int(self.lr.shape[1]) if self.lr.ndim == 2 else 0


@dataclass(frozen=True)
class Session:
    """A contiguous stretch of rows written by one training process (or one run).

    Attributes:
        index: 0-based position of the session in the run.
        first_row: Index of its first data row.
        last_row: Index of its last data row (inclusive).
        first_epoch: Axis value of the first row: the epoch column of a results.csv run, the step
            of a step-counted run.
        last_epoch: Axis value of the last row (as ``first_epoch``).
        start: How it began: ``"start"``, ``"resume"``, ``"rewind"`` (resumed from an earlier
            epoch), ``"restart"`` (a new run appended to the same file).
        evidence: Why lrguard believes a session starts here.
    """

    index: int
    first_row: int
    last_row: int
    first_epoch: int
    last_epoch: int
    start: str
    evidence: str


@dataclass
class Finding:
    """One conclusion of the diagnosis.

    Attributes:
        cause: Stable id of the mechanism.
        severity: ``info`` for normal behaviour worth knowing, ``warning``/``error`` otherwise.
        epoch: Epoch-column value of the first row the finding concerns (``None`` if run-wide).
        row: Index of that row.
        title: One-line summary.
        evidence: Facts that support it (rows, files, values).
        fix: What to do, for this framework and version (always set for warning/error).
        data: Numbers behind the evidence (LR before/after, implied epochs, loss change, ...).
    """

    cause: Cause
    severity: Severity
    epoch: int | None
    row: int | None
    title: str
    evidence: list[str] = field(default_factory=list)
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
