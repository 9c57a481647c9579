"""Resume pre-flight: before a training command resumes, what will the LR do, and what to do about it.

``lrguard run -- <command>`` asks every registered trainer whether ``<command>`` resumes from a
checkpoint (:meth:`~lrguard.trainers.base.Trainer.resume_checkpoint`). When it does, the checkpoint
inspector's resume verdict (the same as ``lrguard ckpt show``) says whether the first resumed epochs
keep the LR on its curve. A predicted jump is then handled by a policy: ``warn`` (say so, with the
fix, and train), ``stop`` (do not train; non-zero exit) or ``continue-curve`` (train a new run from the
checkpoint whose LR continues smoothly from where the run was to the new end: the maths of
``lrguard continue``, and say what was done). Torch-free: nothing here loads the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lrguard.errors import InputError, LrguardError
from lrguard.trainers import all_trainers

if TYPE_CHECKING:
    from lrguard.checkpoint.resume import ResumeReport
    from lrguard.trainers.base import Trainer

POLICIES = ("warn", "stop", "continue-curve")


@dataclass
class Preflight:
    """The pre-flight of one command.

    Attributes:
        argv: The command to execute (the user's, or the continuation that replaces it).
        trainer: The trainer whose resume it is, or ``None`` (not a resume: nothing to check).
        checkpoint: The checkpoint it resumes from.
        run_dir: The run that checkpoint belongs to.
        verdict: The inspector's verdict (``seamless``, ``jump``, ``refuse``, ``unknown``), or ``None``.
        message: One line for the console.
        fix: What to do instead, when the LR would jump.
        action: ``run`` (execute ``argv``), ``stop`` (do not execute), ``continue-curve`` (``argv``
            was replaced by the continuation).
        lr_before: LR the run was at, when known.
        lr_after: LR the resume would jump to, when it jumps.
        epoch: First epoch at the jumped LR, when it jumps, numbered as the run numbers it (results.csv).
        notes: What was done (recipe written, command replaced).
    """

    argv: list[str]
    trainer: Trainer | None = None
    checkpoint: Path | None = None
    run_dir: Path | None = None
    verdict: str | None = None
    message: str = ""
    fix: str | None = None
    action: str = "run"
    lr_before: float | None = None
    lr_after: float | None = None
    epoch: int | None = None
    notes: list[str] = field(default_factory=list)


def find_resume(argv: list[str], cwd: Path) -> tuple[Trainer, Path] | None:
    """The trainer and checkpoint ``argv`` resumes from, or ``None`` for any other command."""
    for trainer in all_trainers():
        ckpt = trainer.resume_checkpoint(argv, cwd)
        if ckpt is not None:
            return trainer, ckpt
    return None


def _report(ckpt: Path) -> ResumeReport:
    from lrguard.checkpoint import resume_report

    if not ckpt.is_file():
        raise InputError(ckpt, "no such checkpoint (the command resumes from it)")
    return resume_report(ckpt)


def preflight(argv: list[str], cwd: Path, policy: str = "warn", recipe_dir: Path | None = None) -> Preflight:
    """Check what ``argv`` will do to the LR before it runs, and apply ``policy`` to a predicted jump.

    Args:
        argv: The training command.
        cwd: Directory it runs in.
        policy: One of :data:`POLICIES`.
        recipe_dir: Where ``continue-curve`` writes its settings file (default: beside the run
            directory, never inside it).

    Raises:
        ValueError: Unknown policy.
        LrguardError: The checkpoint or its run cannot be read (the command is not run then).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICIES)}")
    found = find_resume(argv, cwd)
    if found is None:
        return Preflight(argv, message="not a resume: nothing to check before the first step")
    trainer, ckpt = found
    report = _report(ckpt)
    from lrguard.checkpoint.resume import run_dir_of

    pf = Preflight(argv, trainer=trainer, checkpoint=ckpt, run_dir=run_dir_of(ckpt), verdict=report.verdict)
    if pf.run_dir is not None:
        elsewhere = trainer.resume_writes_elsewhere(pf.run_dir)
        if elsewhere is not None:
            pf.notes.append(f"the resume will write into {elsewhere}, not into {pf.run_dir} (the run was moved?)")
    pf.notes += trainer.resume_notes(argv)
    jump = report.jump or {}
    if report.verdict != "jump":
        pf.message = f"resume from {ckpt.name}: {report.verdict}: {report.summary}"
        return pf
    pf.lr_before, pf.lr_after = jump.get("lr_before"), jump.get("lr_after")
    pf.epoch = jump.get("trainer_epoch", jump.get("epoch"))  # the run's own numbering (results.csv rows)
    pf.message = f"resume from {ckpt}: {report.summary}"
    pf.fix = (
        f"undo the edit ({jump.get('reason', 'the settings changed since the checkpoint')}) before resuming, or "
        "continue the curve as a new run: `lrguard run --policy continue-curve -- <the same command>` "
        "(or `lrguard continue RUN --epochs N`)"
    )
    if policy == "stop":
        pf.action = "stop"
    elif policy == "continue-curve":
        _continue_curve(pf, trainer, ckpt, recipe_dir)
    return pf


def _continue_curve(pf: Preflight, trainer: Trainer, ckpt: Path, recipe_dir: Path | None) -> None:
    """Replace the resume by a new run from ``ckpt`` whose LR continues from where the run was."""
    from lrguard.checkpoint import read_facts
    from lrguard.diagnosis import diagnose
    from lrguard.plan.continuation import build_continuation, write_continuation
    from lrguard.readers import read_run

    if pf.run_dir is None:
        raise LrguardError(ckpt, "continue-curve needs the checkpoint inside its run directory (<run>/weights/)")
    run = read_run(pf.run_dir)
    facts = read_facts(ckpt)
    total = trainer.resume_total_epochs(run.config, facts.train_args)
    if facts.epoch is None or not isinstance(total, int):
        raise LrguardError(ckpt, "continue-curve needs the checkpoint's epoch and the run's configured epochs")
    remaining = total - (facts.epoch + 1)
    if remaining < 1:
        raise LrguardError(ckpt, f"nothing left to train: epoch {facts.epoch} of {total} epochs")
    cont = build_continuation(diagnose(run), remaining, weights=str(ckpt))
    out = (recipe_dir or pf.run_dir.parent) / f"{pf.run_dir.name}-{cont.file_name}"
    recipe = write_continuation(cont, str(out), explicit=True)
    pf.argv = trainer.continuation_argv(pf.argv, cont, Path(recipe))
    pf.action = "continue-curve"
    pf.notes += [
        f"continue-curve: wrote {recipe}: lr0 {cont.lr0:.6g} -> {cont.lr_end:.6g} over the {remaining} epochs left "
        f"(to the configured {total}), warmup off: the LR goes on from where the run was instead of jumping",
        "continue-curve: running a new run from the checkpoint instead of the resume: " + " ".join(pf.argv),
    ]
