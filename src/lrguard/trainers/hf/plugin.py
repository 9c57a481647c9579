"""The HF Trainer :class:`~lrguard.trainers.base.Trainer`: its output directory, arguments and commands."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard import constants as C
from lrguard.trainers.base import Trainer, g6
from lrguard.trainers.profile import step_profile

if TYPE_CHECKING:
    import numpy as np

    from lrguard.model import Run

# HF logs one LR per logging step for the whole optimizer (its scheduler scales every group alike):
# one column, no bias warmup, the logged value is the one the step used. The results.csv-only
# fields (lr_prefix, bias groups, lags) are not used for step-counted runs.
CURRENT = step_profile("hf", "HF Trainer (transformers 4.x)", lr_prefix="learning_rate")


class HFTrainer(Trainer):
    """``transformers.Trainer``: ``output_dir/checkpoint-N/`` and ``runs/*/`` event files."""

    name = "hf"
    label = "HF Trainer"
    profiles = (CURRENT,)
    config_file = C.HF_TRAINING_ARGS

    def recognises(self, path: Path) -> bool:
        from lrguard.trainers.hf.layout import recognises

        return recognises(path)

    def read_run(self, path: Path) -> Run:
        from lrguard.trainers.hf.reader import read_hf_run

        return read_hf_run(path)

    def planned_lr(self, run: Run) -> np.ndarray | None:
        from lrguard.trainers.hf.plan import planned_lr

        return planned_lr(run)

    def starting_weights(self, config: Mapping[str, Any]) -> Any:
        return config.get("resume_from_checkpoint")

    def resume_command(self, last: str | None = None) -> str:
        target = f'"{last}"' if last else "True"
        return f"`trainer.train(resume_from_checkpoint={target})`"

    def continuation(
        self,
        run_path: Path,
        config: Mapping[str, Any],
        lr_now: float,
        lrf: float,
        epochs_more: int,
        optimizer: str | None,
    ) -> str:
        return (
            f"start a new run from the last checkpoint's weights with learning_rate={g6(lr_now)}, "
            f"warmup_steps=0 and a decay over the new length (e.g. lr_scheduler_type='cosine_with_min_lr', "
            f"lr_scheduler_kwargs={{'min_lr': {g6(lr_now * lrf)}}})"
        )

    def instability(self, lower_lr0: float) -> str:
        return (
            f"lower learning_rate (e.g. {g6(lower_lr0)}), keep warmup_steps/warmup_ratio, set max_grad_norm "
            "(default 1.0); with fp16 check the loss scale; set logging_nan_inf_filter=False to see NaN losses "
            "in the log"
        )


TRAINER = HFTrainer()
