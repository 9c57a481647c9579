"""The resume verdict: what resuming from a checkpoint does to the LR, asked of the trainer that wrote it.

This module holds only what every trainer shares: the :class:`ResumeReport` record and its
verdicts, :class:`SavedState` (what the inspector read: the file's facts, its walked top-level
object, or the pickled files of a checkpoint directory), and :func:`check_resume`, which finds the
trainer whose checkpoints these are (:meth:`lrguard.trainers.base.Trainer.reads_checkpoint`) and
asks its :meth:`~lrguard.trainers.base.Trainer.resume_verdict`. The trainer-specific rules live in
the trainer packages (``trainers/<name>/resume.py``), built on the shared checks of
:mod:`lrguard.checkpoint.epoch_resume` (trainers that rebuild an epoch ``lf`` from the stored
epoch: YOLOv5, Ultralytics) and :mod:`lrguard.checkpoint.scheduler_resume` (trainers that save a
``torch.optim.lr_scheduler`` state dict: Lightning, Accelerate, plain PyTorch loops).

A checkpoint no trainer claims gets the neutral verdict here: ``unknown``, saying whether a
resume would at least restore the optimizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard import constants as C

if TYPE_CHECKING:
    from lrguard.checkpoint.structure import Structure
    from lrguard.checkpoint_facts import CheckpointFacts

REL_TOL = 1e-4

SEAMLESS = "seamless"
JUMP = "jump"
REFUSE = "refuse"
UNKNOWN = "unknown"
INCOMPLETE = "incomplete"


@dataclass
class ResumeReport:
    """What resuming from one checkpoint does to the learning rate.

    Attributes:
        verdict: ``seamless``, ``jump``, ``refuse``, ``incomplete`` or ``unknown``.
        summary: One plain sentence for users.
        details: Supporting facts and checks, one sentence each.
        problems: Checks that failed (each makes the file "incomplete" for the CLI's exit code).
        schedule: Numbers behind the check (the trainer's schedule inputs, stored and expected LRs).
        jump: When ``verdict == "jump"``: where and by how much (``{"epoch" or "step", "lr_before",
            "lr_after", "reason"}``), plus ``"cause"`` when a named mechanism explains it.
    """

    verdict: str
    summary: str
    details: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    schedule: dict[str, Any] = field(default_factory=dict)
    jump: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain representation for ``--json``."""
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "details": self.details,
            "problems": self.problems,
            "schedule": self.schedule,
            "jump": self.jump,
        }


@dataclass(frozen=True)
class SavedState:
    """What a resume from one checkpoint would load, as the inspector read it (never executed).

    Attributes:
        path: The checkpoint file, or the checkpoint directory.
        facts: The plain training facts (:func:`lrguard.checkpoint.facts.facts_from_root`; for a
            directory, only ``path``).
        structure: The file's structure report (``None`` for a directory).
        root: The file's walked top-level object (``None`` for a directory).
        files: A checkpoint directory's pickled files, by file name, as walked top-level objects.
        run_dir: The run directory around the file (``<run>/weights/..``), when there is one and
            the caller wants it read.
    """

    path: Path
    facts: CheckpointFacts
    structure: Structure | None = None
    root: Any = None
    files: dict[str, Any] = field(default_factory=dict)
    run_dir: Path | None = None


def run_dir_of(path: Path) -> Path | None:
    """The run directory of a checkpoint in ``<run>/weights/``, else ``None``."""
    path = Path(path)
    if path.parent.name == C.WEIGHTS_DIR:
        return path.parent.parent
    return None


def num(x: Any) -> float | None:
    """``float(x)`` for a finite int or float (never a bool), else ``None``."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def show(value: Any) -> str:
    """A value as the verdict texts print it (``%g`` for floats)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def load_yaml(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(mapping, None)``, or ``(None, why not)``: ``"missing"``, or what is wrong with the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read ({exc.__class__.__name__})"
    import yaml  # only when the run's configuration file exists: `ckpt show` of a lone file stays off it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None, "does not parse as YAML"
    if data is None:
        return None, "is empty"
    if not isinstance(data, dict):
        return None, f"holds a {type(data).__name__}, not the options mapping"
    return data, None


def results_epochs(path: Path) -> list[int]:
    """The ``epoch`` column of a results.csv as integers (``[]`` when absent or unreadable)."""
    import csv  # only when the run's results.csv is read

    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if C.EPOCH_COLUMN not in header:
        return []
    col = header.index(C.EPOCH_COLUMN)
    out = []
    for row in rows[1:]:
        try:
            out.append(int(float(row[col].strip())))
        except (IndexError, ValueError):
            continue
    return out


def generic_verdict(state: SavedState) -> ResumeReport:
    """The verdict on a checkpoint no trainer claims: only whether the optimizer would be restored."""
    fw = state.structure.framework if state.structure is not None else "unknown"
    if state.structure is not None and state.structure.has.get("optimizer"):
        return ResumeReport(
            UNKNOWN,
            "optimizer state present, but no trainer's layout around it (no scheduler state, step or training "
            "arguments in this file): what a resume does to the LR is not known from it alone",
            schedule={"lrs": list(state.facts.lrs)},
        )
    return ResumeReport(
        UNKNOWN,
        "no optimizer state: a resume would restart the optimizer",
        problems=["no optimizer state"] if fw != "plain" else [],
    )


def check_resume(
    facts: CheckpointFacts, structure: Structure, path: Path | None = None, root: Any = None
) -> ResumeReport:
    """Say what resuming from this checkpoint file does to the LR, with the evidence.

    Args:
        facts: The checkpoint's facts (:func:`lrguard.checkpoint.read_facts`).
        structure: Its structure report.
        path: The file, for the trainers that read the run directory around it
            (``<run>/weights/..``: opt.yaml, args.yaml, results.csv); ``None``: none is read.
        root: The walked top-level object, for the trainers that read their saved state from it
            (Lightning's ``lr_schedulers``, a loop's ``scheduler``).

    Returns:
        The verdict of the trainer that claims the file, or the neutral one when none does.
    """
    state = SavedState(
        path=Path(path) if path is not None else facts.path,
        facts=facts,
        structure=structure,
        root=root,
        run_dir=run_dir_of(Path(path)) if path is not None else None,
    )
    return verdict_of(structure.framework, state)


def verdict_of(kind: str, state: SavedState) -> ResumeReport:
    """Ask the trainer that claims checkpoints of ``kind`` for its verdict on ``state``.

    Args:
        kind: What the inspector recognised (:attr:`Structure.framework`, or a directory layout
            such as ``"accelerate"``).
        state: What the inspector read.
    """
    from lrguard.trainers import all_trainers

    for trainer in all_trainers():
        if trainer.reads_checkpoint(kind, state):
            report = trainer.resume_verdict(state)
            if report is not None:
                return report
    return generic_verdict(state)
