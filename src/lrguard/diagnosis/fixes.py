"""Concrete remedies, phrased for the run's framework and version.

Each function returns the text of ``Finding.fix``. Numbers come from the run (current LR, the
original total epochs, the run directory), so the text can be pasted.
"""

from __future__ import annotations

from lrguard.model import Run
from lrguard.trainers import Trainer, get_trainer
from lrguard.trainers.base import g6 as _g


def _trainer(run: Run) -> Trainer:
    return get_trainer(run.framework)


def _rel(run: Run, *parts: str) -> str:
    return "/".join([str(run.path), *parts])


def continuation(run: Run, lr_now: float, lr_end: float, epochs_more: int, optimizer: str | None = None) -> str:
    """Settings for a new run that continues the current LR curve with no jump.

    Args:
        run: The run being continued.
        lr_now: The LR the run ended (or jumped) at; the new run starts there.
        lr_end: The LR the new run should end at.
        epochs_more: Epochs of the new run.
        optimizer: The optimizer to name explicitly (Ultralytics).
    """
    lrf = min(max(lr_end / lr_now, 1e-6), 1.0) if lr_now > 0 else 0.01
    return _trainer(run).continuation(run.path, run.config, lr_now, lrf, epochs_more, optimizer)


def epochs_changed(run: Run, e_before: int, e_after: int, lr_now: float, lr_end: float, s: int) -> str:
    """Fix for a schedule whose total epochs changed at a resume."""
    head = _trainer(run).epochs_changed_head(run.path, e_before)
    return head + "to train longer without a jump, " + continuation(run, lr_now, lr_end, max(e_after - s, 1))


def finetune_extension(run: Run, e_before: int, n_cfg: int, lr_now: float, lr_end: float, s: int) -> str:
    """Fix for the 'epochs < start_epoch means N more epochs' extension on resume."""
    return (
        f"an epochs value ({n_cfg}) below the epoch already reached ({s}) is read as '{n_cfg} more epochs' and "
        f"rebuilds the schedule mid-run; to resume, restore `epochs: {e_before}`; to add {n_cfg} epochs, "
        + continuation(run, lr_now, lr_end, n_cfg)
    )


def hyp_changed(run: Run, before: str, lr_now: float, lr_end: float, remaining: int) -> str:
    """Fix for lr0/lrf edited between sessions."""
    where = _trainer(run).hyp_location(run.path)
    return (
        f"restore {before} in {where} before resuming (changes apply from the first scheduler step after the "
        f"resume); to change the LR on purpose, " + continuation(run, lr_now, lr_end, max(remaining, 1))
    )


def older_checkpoint(run: Run) -> str:
    """Fix for resuming from best.pt / epochN.pt / a stale last.pt."""
    cmd = _trainer(run).resume_command(_rel(run, "weights", "last.pt"))
    return (
        f"resume from the newest complete checkpoint, {cmd}, not from best.pt or an epochN.pt; "
        f"`lrguard ckpt last-good {_rel(run, 'weights')}` names it"
    )


def appended_runs(run: Run) -> str:
    """Fix for two runs written into one results.csv."""
    return _trainer(run).separate_runs(run.path)


def time_budget(run: Run, e_final: int | None) -> str:
    """Fix for Ultralytics time= re-planning the schedule every epoch."""
    target = f"epochs={e_final}" if e_final else "epochs=N"
    return (
        "time= re-estimates the total epochs from the measured epoch time after every epoch and rebuilds the "
        f"schedule, so the LR curve bends (and can rise) whenever the estimate grows; for a stable schedule "
        f"drop time= and set {target} explicitly (with patience= for an early stop)"
    )


def past_end(run: Run) -> str:
    """Fix for a cosine schedule evaluated past its period."""
    return (
        "a cosine schedule evaluated past its `epochs` climbs back towards lr0; never extend a cosine run through "
        "resume: finish it, then start a continuation run (new schedule from the current LR, warmup off)"
    )


def instability(run: Run, lr0: float) -> str:
    """Fix for non-finite values and loss spikes."""
    lower = lr0 / 10 if lr0 > 0 else 0.001
    return _trainer(run).instability(lower)


def wrong_bias_group(run: Run) -> str:
    """Fix for warmup_bias_lr applied to a non-bias group."""
    return _trainer(run).wrong_bias_group()


def resume_without_optimizer_state(run: Run, lr_now: float, lr_end: float, epochs_more: int) -> str:
    """Fix for a resume from a checkpoint that carried no optimizer state."""
    where = _trainer(run).resume_command()
    return (
        f"{where} needs a checkpoint with its optimizer state (the last.pt of an unfinished run); the trainer strips "
        "the optimizer from last.pt/best.pt when a run finishes, so a finished run cannot be resumed: the resume "
        "restarted at lr0 with empty momentum buffers. To train a finished run longer, "
        + continuation(run, lr_now, lr_end, epochs_more)
    )


def scheduler_after_load(run: Run) -> str:
    """Fix for the pre-2020 YOLOv5 resume order bug."""
    return "update YOLOv5 (the scheduler is built before the optimizer is restored since v3.0, PR #565)"


def auto_optimizer(run: Run, name: str | None, lr0: float) -> str:
    """Fix for optimizer=auto picking an optimizer and lr0 the user did not expect."""
    chosen = name or "the optimizer you want"
    return f"name the optimizer and LR explicitly (optimizer={chosen} lr0={_g(lr0)}) so every run and resume uses them"
