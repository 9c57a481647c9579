"""The HF Accelerate :class:`~lrguard.trainers.base.Trainer`: ``save_state`` dirs and its TensorBoard tracker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lrguard.trainers.base import Trainer, g6
from lrguard.trainers.profile import step_profile

if TYPE_CHECKING:
    import numpy as np

    from lrguard.checkpoint.resume import ResumeReport, SavedState
    from lrguard.checkpoint.statedir import StateDir
    from lrguard.model import Run

# Accelerate logs what the loop passes to accelerator.log(): one value per tag, no bias warmup.
CURRENT = step_profile("accelerate", "HF Accelerate 1.x", lr_prefix="lr")


class AccelerateTrainer(Trainer):
    """An Accelerate loop: ``checkpoint_N/`` from ``save_state`` and event files from its tracker."""

    name = "accelerate"
    label = "HF Accelerate"
    profiles = (CURRENT,)
    config_file = "the training script"

    def recognises(self, path: Path) -> bool:
        from lrguard.readers.tbrun import has_event_files
        from lrguard.trainers.accelerate.reader import recognises

        return recognises(path) and has_event_files(path)

    def read_run(self, path: Path) -> Run:
        from lrguard.trainers.accelerate.reader import read_accelerate_run

        return read_accelerate_run(path)

    def planned_lr(self, run: Run) -> np.ndarray | None:
        from lrguard.schedules.inferred_plan import inferred_plan

        got = inferred_plan(run)
        if got is None:
            return None
        note = f"planned: {got[1][0].describe()}"
        if note not in run.notes:
            run.notes.append(note)
        return got[0]

    def state_dir(self, path: Path) -> StateDir | None:
        from lrguard.trainers.accelerate.resume import state_dir

        return state_dir(path)

    def resume_verdict(self, state: SavedState) -> ResumeReport | None:
        from lrguard.trainers.accelerate.resume import accelerate_verdict

        return accelerate_verdict(state, self.scheduler_not_restored(), self.stepped_per_process)

    def resume_command(self, last: str | None = None) -> str:
        return f"`accelerator.load_state({f'{last!r}' if last else 'checkpoint_dir'})` after `prepare()`"

    def scheduler_not_restored(self) -> str:
        """Fix text of a scheduler that was not restored."""
        return "register the scheduler with `accelerator.prepare()` before `accelerator.load_state()`"

    def stepped_per_process(self, n: int) -> str:
        """Fix text of a prepared scheduler stepped ``n`` times per optimizer step."""
        return (
            f"size the schedule in scheduler steps: a prepared scheduler steps {n} times per optimizer step with "
            f"split_batches=False, so pass num_training_steps * {n} (and warmup * {n}), or build it from the "
            "unprepared dataloader's length, or prepare it with `Accelerator(step_scheduler_with_optimizer=False)` "
            "and step it yourself"
        )

    def instability(self, lower_lr0: float) -> str:
        return (
            f"lower the learning rate (e.g. {g6(lower_lr0)}), keep a warmup, clip with "
            "`accelerator.clip_grad_norm_`; with mixed precision check the loss scale"
        )


TRAINER = AccelerateTrainer()
