"""The plain PyTorch :class:`~lrguard.trainers.base.Trainer`: a loop with ``SummaryWriter`` and ``torch.save``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lrguard import constants as C
from lrguard.trainers.base import Trainer, g6
from lrguard.trainers.profile import step_profile

if TYPE_CHECKING:
    import numpy as np

    from lrguard.checkpoint.resume import ResumeReport, SavedState
    from lrguard.model import Run

# A hand-written loop logs what it passes to add_scalar: one tag per group, no bias warmup.
CURRENT = step_profile("torch", "PyTorch loop (torch.utils.tensorboard)", lr_prefix="lr")

#: Files whose presence says another trainer wrote the directory (it reads them itself): YOLO's
#: results.csv and its configuration (written before the first results.csv row), HF's trainer
#: state, Lightning's hparams.yaml.
OTHER_TRAINERS = (C.RESULTS_CSV, "opt.yaml", "hyp.yaml", "args.yaml", C.HF_TRAINER_STATE, "hparams.yaml")


class TorchTrainer(Trainer):
    """A plain PyTorch loop: the catch-all for a directory with TensorBoard event files."""

    name = "torch"
    label = "PyTorch loop"
    profiles = (CURRENT,)
    config_file = "the training script"

    def recognises(self, path: Path) -> bool:
        from lrguard.readers.tbrun import has_event_files

        try:
            if any((path / f).exists() for f in OTHER_TRAINERS):
                return False
        except OSError:
            return False
        return has_event_files(path)

    def read_run(self, path: Path) -> Run:
        from lrguard.trainers.torch.reader import read_torch_run

        return read_torch_run(path)

    def planned_lr(self, run: Run) -> np.ndarray | None:
        from lrguard.schedules.inferred_plan import inferred_plan
        from lrguard.trainers.torch.plan import declared_plan

        declared = declared_plan(run)
        if declared is not None:
            if declared[1] not in run.notes:
                run.notes.append(declared[1])
            return declared[0]
        got = inferred_plan(run)
        if got is None:
            return None
        planned, found = got
        note = f"planned: {found[0].describe()}"
        if note not in run.notes:
            run.notes.append(note)
        return planned

    def reads_checkpoint(self, kind: str, state: SavedState) -> bool:
        from lrguard.checkpoint.structure import PLAIN
        from lrguard.trainers.torch.resume import is_training_checkpoint

        return kind == PLAIN and is_training_checkpoint(state.root)

    def resume_verdict(self, state: SavedState) -> ResumeReport | None:
        from lrguard.trainers.torch.resume import torch_verdict

        return torch_verdict(state, self.scheduler_not_restored())

    def resume_command(self, last: str | None = None) -> str:
        what = f"torch.load({last!r})" if last else "torch.load(path)"
        return (
            f"`ckpt = {what}; optimizer.load_state_dict(ckpt['optimizer']); "
            "scheduler.load_state_dict(ckpt['scheduler'])` (scheduler built before loading)"
        )

    def scheduler_not_restored(self) -> str:
        """Fix text of a scheduler constructed fresh after the optimizer was restored."""
        return (
            "save `scheduler.state_dict()` in the checkpoint and call `scheduler.load_state_dict(...)` after "
            "constructing the scheduler on resume (a scheduler built after `optimizer.load_state_dict()` starts "
            "its schedule again from the first step, warmup included)"
        )

    def instability(self, lower_lr0: float) -> str:
        return (
            f"lower the learning rate (e.g. {g6(lower_lr0)}), keep a warmup, clip gradients with "
            "`torch.nn.utils.clip_grad_norm_`; with AMP check the GradScaler's scale"
        )


TRAINER = TorchTrainer()
