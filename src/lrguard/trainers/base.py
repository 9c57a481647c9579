"""The :class:`Trainer` plug-in interface: everything the core asks of one trainer.

The core (readers, diagnosis, plans, reports) never imports a trainer package. It asks the registry
(:func:`lrguard.trainers.get_trainer`) for the run's trainer and calls the hooks below; each trainer
package subclasses :class:`Trainer` and overrides what differs. A hook's default is the neutral
answer ("this trainer has no such feature"), so a new trainer implements only what it has.

Fix texts are part of the interface because they name the trainer's own files, options and
commands: the core composes the explanation, the trainer supplies the command to paste.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from lrguard.checkpoint.resume import ResumeReport, SavedState
    from lrguard.checkpoint.statedir import StateDir
    from lrguard.diagnosis.result import Diagnosis
    from lrguard.model import Run
    from lrguard.plan.continuation import Continuation
    from lrguard.trainers.infer import FileEvidence
    from lrguard.trainers.profile import Profile


@dataclass(frozen=True)
class AutoChoice:
    """What a trainer's automatic optimizer choice resolves to.

    Attributes:
        optimizer: The optimizer it picks.
        lr0: The initial LR it uses instead of the configured one.
        detail: One line on why (the rule and the numbers).
    """

    optimizer: str
    lr0: float
    detail: str


@dataclass
class RecipeParts:
    """The trainer-specific half of a continuation recipe (``lrguard continue``).

    Attributes:
        settings: Values written to the recipe file (must hold ``lr0``, ``lrf`` and ``warmup_bias_lr``).
        optimizer: Optimizer the new run names explicitly.
        file_name: Suggested name of the recipe file.
        notes: Caveats of this trainer's continuation.
    """

    settings: dict[str, Any]
    optimizer: str
    file_name: str
    notes: list[str] = field(default_factory=list)


def g6(x: float) -> str:
    """Format a number as the fix texts print it (6 significant digits)."""
    return f"{x:.6g}"


class Trainer:
    """One trainer's specifics. Subclass it in the trainer's own package and register the package.

    Attributes:
        name: Registry key, stored in ``Run.framework`` and in the JSON report (``"yolov5"``).
        label: Human name (``"YOLOv5"``).
        profiles: Every version profile of this trainer, the current one first.
        config_file: The run-directory file whose keys the fix texts name (``"opt.yaml"``).
        lr_prefix: Prefix of the results.csv LR columns this trainer writes, if it writes one.
    """

    name: str = ""
    label: str = ""
    profiles: tuple[Profile, ...] = ()
    config_file: str = ""
    lr_prefix: str = ""

    # -- version rules -------------------------------------------------------------------------

    @property
    def default_profile(self) -> Profile:
        """The profile of the current release (used when nothing narrows the version)."""
        return self.profiles[0]

    def candidate_profiles(self, evidence: FileEvidence, why: list[str]) -> tuple[Profile, ...]:
        """The profiles consistent with what the files show, most likely first.

        Args:
            evidence: What the run's files say (layout, keys, first-row shape).
            why: Append one line per fact used.
        """
        return self.profiles[:1]

    def profile_for_version(self, version: str, n_groups: int, first_epoch: int) -> Profile | None:
        """The profile of an exact recorded version, or None when this trainer cannot map it.

        Raises:
            ValueError: ``version`` is not a version string of this trainer.
        """
        return None

    # -- reading ---------------------------------------------------------------------------------

    def recognises(self, path: Path) -> bool:
        """True when ``path`` is a run directory this trainer reads with its own :meth:`read_run`.

        Trainers that write a YOLO ``results.csv`` (recognised by :attr:`lr_prefix`) keep the default.
        """
        return False

    def read_run(self, path: Path) -> Run:
        """Read a run this trainer :meth:`recognises` into the general :class:`~lrguard.model.Run`.

        Raises:
            InputError: A file is present but unreadable or malformed.
            NotARunError: Nothing of this trainer's at ``path``.
        """
        from lrguard.errors import NotARunError

        raise NotARunError(path, f"{self.label or self.name} has no reader of its own")

    def planned_lr(self, run: Run) -> np.ndarray | None:
        """The planned LR per row and group of a step-counted run, rebuilt from its saved settings.

        ``None`` when the settings are not on disk (the diagnosis then reads the schedule off the
        logged LR itself).
        """
        return None

    # -- checkpoints (``lrguard ckpt show``) -------------------------------------------------------

    def reads_checkpoint(self, kind: str, state: SavedState) -> bool:
        """True when a checkpoint the inspector recognised as ``kind`` is this trainer's to judge.

        Args:
            kind: The inspector's name for what it found: a file's
                :attr:`~lrguard.checkpoint.structure.Structure.framework` (``"yolov5"``,
                ``"lightning"``, ``"plain"``, ...) or the :attr:`StateDir.kind` of a directory.
            state: What the inspector read.
        """
        return kind == self.name

    def resume_verdict(self, state: SavedState) -> ResumeReport | None:
        """What resuming from this checkpoint does to the LR: the verdict ``lrguard ckpt show`` prints.

        It says what the trainer's resume restores (optimizer, scheduler position, step counters)
        and the LR the first resumed step uses, computed with this trainer's own maths (its
        profiles, or the scheduler's closed form rebuilt from the saved state). ``None``: this
        trainer has no verdict (the inspector's neutral one is used).
        """
        return None

    def state_dir(self, path: Path) -> StateDir | None:
        """The files of a checkpoint *directory* this trainer writes (``None``: not one of its).

        A trainer that saves its training state as a directory of files (Accelerate's
        ``save_state``) says here which files hold what; the inspector reads them without
        executing them and passes them to :meth:`resume_verdict`.
        """
        return None

    # -- configuration ---------------------------------------------------------------------------

    def read_config(self, run_dir: Path, files: dict[str, Path], notes: list[str]) -> tuple[dict[str, Any], Any]:
        """Read the run's configuration files.

        Args:
            run_dir: The run directory.
            files: Add each file read, by role.
            notes: Append a line for each missing file that defaults replace.

        Returns:
            The run configuration and trainer-specific extra data for :meth:`hyp_from_config`.

        Raises:
            InputError: A configuration file is present but unreadable or malformed.
        """
        return {}, None

    def hyp_from_config(
        self, config: Mapping[str, Any], extra: Any, checkpoint_args: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The schedule hyperparameters in effect: defaults, files, then what a checkpoint records."""
        return dict(config)

    def starting_weights(self, config: Mapping[str, Any]) -> Any:
        """What the configuration names as the starting weights (``None`` when nothing)."""
        return None

    @property
    def weights_key(self) -> str:
        """The configuration key :meth:`starting_weights` reads (named in evidence lines)."""
        return "weights"

    def trainer_chooses_lr0(self, hyp: Mapping[str, Any]) -> bool:
        """True when the trainer picks lr0 itself (Ultralytics ``optimizer=auto``): fit it from the log."""
        return False

    def time_budget(self, hyp: Mapping[str, Any]) -> bool:
        """True when the total length is re-estimated from a wall-clock budget (Ultralytics ``time=``)."""
        return False

    def close_mosaic_epochs(self, hyp: Mapping[str, Any]) -> int:
        """Epochs at the end trained without mosaic augmentation (0: the trainer has no such switch)."""
        return 0

    # -- fix texts -------------------------------------------------------------------------------

    def resume_command(self, last: str | None = None) -> str:
        """The command (in backticks) that resumes from checkpoint ``last`` (the bare command without it)."""
        return f"resume from `{last}`" if last else "resume"

    def continuation(
        self,
        run_path: Path,
        config: Mapping[str, Any],
        lr_now: float,
        lrf: float,
        epochs_more: int,
        optimizer: str | None,
    ) -> str:
        """Settings and command for a new run that starts at ``lr_now`` and decays to ``lr_now * lrf``."""
        return f"start a new run from the last weights with the LR at {g6(lr_now)} decaying by {g6(lrf)} over {epochs_more}"

    def epochs_changed_head(self, run_path: Path, e_before: int) -> str:
        """How to resume on the original curve after the total length was edited (ends with ``; ``)."""
        return f"resume with the original length ({e_before}); "

    def hyp_location(self, run_path: Path) -> str:
        """Where the resumed LR settings live (``opt.yaml (hyp:)``)."""
        return self.config_file or "the configuration"

    def separate_runs(self, run_path: Path) -> str:
        """How to keep a new run from appending to this run's log."""
        return "give every new run its own directory"

    def scheduler_not_restored(self) -> str:
        """Fix for a resume whose scheduler started its schedule again (``scheduler-built-after-load``)."""
        return (
            "save and restore the scheduler with the optimizer (HF: do not use save_only_model=True for a "
            f"checkpoint you resume from; {self.resume_command()} restores scheduler.pt)"
        )

    def stepped_per_process(self, n: int) -> str:
        """Fix for a scheduler stepped ``n`` times per optimizer step (``scheduler-stepped-per-process``)."""
        return (
            "size the schedule in scheduler steps: with Accelerate and split_batches=False pass "
            "num_training_steps * num_processes (or create the scheduler after prepare() from the prepared "
            "dataloader's length times the processes)"
        )

    def instability(self, lower_lr0: float) -> str:
        """Remedies for non-finite values and loss spikes, in this trainer's options."""
        return f"lower the learning rate (e.g. {g6(lower_lr0)}), keep a warmup, clip gradients"

    def wrong_bias_group(self) -> str:
        """Fix for the versions that gave the bias warmup LR to another group."""
        return "set warmup_bias_lr equal to lr0"

    def resume_keeps_settings(self) -> str:
        """Where a resume takes its settings from, and what not to edit (a lint's fix text)."""
        return "a resume restores the settings of the run: leave them unedited"

    # -- planning (lrguard plan / lrguard continue) ------------------------------------------------

    #: Planning inputs (``hyp``, ``opt``, ``args``, ``kv``) that identify this trainer.
    plan_inputs: frozenset[str] = frozenset()
    #: Note for a planned resume with changed settings (None: the trainer applies them as given).
    resume_ignores_changes: str | None = None
    #: Note for a planned new run from a previous run's weights (None: nothing to say).
    from_weights_note: str | None = None

    def plan_settings(
        self, files: Mapping[str, str | None], kv: list[str], load: Callable[[str], dict[str, Any]]
    ) -> tuple[dict[str, Any], list[str], list[str]]:
        """Merge defaults and the given planning inputs.

        Args:
            files: Paths given for ``hyp``, ``opt`` and ``args`` (``None`` when not given).
            kv: ``key=value`` arguments.
            load: Reads one YAML file into a mapping (raising the CLI's one-line error).

        Returns:
            The merged settings, the files used, and notes.
        """
        return {}, [], []

    def auto_optimizer(self, images: int, batch: int, epochs: int, nc: int, nbs: int) -> AutoChoice | None:
        """What the automatic optimizer choice resolves to for this dataset (None: no such choice)."""
        return None

    def continuation_parts(self, d: Diagnosis, lr0: float, lrf: float, epochs: int) -> RecipeParts:
        """Settings, optimizer and file of a new run that starts at ``lr0`` and decays by ``lrf``.

        Raises:
            InputError: This trainer cannot continue a run this way.
        """
        from lrguard.errors import InputError

        raise InputError(d.run.path, f"lrguard continue does not support {self.label or self.name} runs yet")

    def continuation_command(self, cont: Continuation, path: str | Path) -> str:
        """The command that trains the continuation ``cont`` with its recipe written to ``path``."""
        return f"train from {cont.weights} with {path}"

    def continuation_header(self) -> str:
        """What the recipe file's header adds about this trainer's warmup (empty: nothing)."""
        return ""

    def continuation_hint(self) -> str | None:
        """An extra line for ``lrguard continue``'s output (another way to launch the command)."""
        return None

    def resume_checkpoint(self, argv: list[str], cwd: Path) -> Path | None:
        """The checkpoint a training command of this trainer resumes from (``lrguard run``'s pre-flight).

        Args:
            argv: The command as it would be executed (``["python", "train.py", "--resume"]``).
            cwd: Directory the command runs in (relative paths and the default run resolve there).

        Returns:
            The checkpoint, or ``None`` when ``argv`` is not this trainer's resume (a fresh run, or
            another program).
        """
        return None

    def resume_writes_elsewhere(self, run_dir: Path) -> Path | None:
        """The directory a resume of ``run_dir`` will write into when it is not ``run_dir`` itself."""
        return None

    def resume_total_epochs(self, config: Mapping[str, Any], train_args: Mapping[str, Any] | None) -> Any:
        """The total epochs a resume of this run trains to (``continue-curve`` continues to it).

        The default is the run's configuration file (YOLOv5's opt.yaml, which ``--resume`` reads).
        """
        return config.get("epochs")

    def resume_notes(self, argv: list[str]) -> list[str]:
        """What the pre-flight should say about ``argv`` itself (options the resume will drop)."""
        return []

    def continuation_argv(self, argv: list[str], cont: Continuation, recipe: Path) -> list[str]:
        """The command that trains ``cont`` (a jump-free continuation) in place of the resume ``argv``.

        The default splits :meth:`continuation_command`; a trainer whose resume takes its options
        from the run overrides this to carry them over.
        """
        import shlex

        return shlex.split(self.continuation_command(cont, recipe))


__all__ = ["AutoChoice", "RecipeParts", "Trainer", "g6"]
