"""The Lightning :class:`~lrguard.trainers.base.Trainer`: its log directories, checkpoints and commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard.trainers.base import Trainer, g6
from lrguard.trainers.profile import step_profile

if TYPE_CHECKING:
    import numpy as np

    from lrguard.checkpoint.resume import ResumeReport, SavedState
    from lrguard.model import Run

# LearningRateMonitor logs the LR each step will use, one column per optimizer (or per group):
# no bias warmup, no lag. The results.csv-only fields are unused for step-counted runs.
CURRENT = step_profile("lightning", "PyTorch Lightning 2.x", lr_prefix="lr-")


def scheduler_interval(state: dict[str, Any], global_step: int | None, epoch: int | None) -> str | None:
    """``"step"`` or ``"epoch"``: how often the saved scheduler was stepped, from its counter.

    Lightning does not save the ``interval`` of the scheduler config, but a scheduler stepped per
    optimizer step has ``last_epoch == global_step`` and one stepped per epoch ``last_epoch`` equal
    to the finished epochs (``epoch + 1`` in an end-of-epoch checkpoint, ``epoch`` mid-epoch).
    """
    last = state.get("last_epoch")
    if not isinstance(last, int) or not isinstance(global_step, int):
        return None
    if last == global_step:
        return "step"
    if isinstance(epoch, int) and last in (epoch, epoch + 1):
        return "epoch"
    return None


def planned_from_state(
    state: dict[str, Any], groups: list[dict[str, Any]], global_step: int | None, epoch: int | None
) -> tuple[Any, str] | None:
    """The rebuilt schedule of one saved scheduler state and the unit it counts in, or None."""
    from lrguard.schedules.library.base import NotRebuildable
    from lrguard.schedules.library.registry import from_torch_state_dict

    unit = scheduler_interval(state, global_step, epoch)
    if unit is None:
        return None
    try:
        sched = from_torch_state_dict(None, state, optimizer_state_dict={"param_groups": groups, "state": {}})
    except NotRebuildable:
        return None
    return sched, unit


def _several(
    out: Any, lr: Any, rows: Any, steps: Any, spe: int | None, args: dict[str, Any], gs: int | None, ep: int | None
) -> bool:
    """Fill ``out`` for a session whose checkpoint saved several schedulers (several optimizers).

    ``LearningRateMonitor`` logs one tag per scheduler and param group, named after the optimizer
    class, but the checkpoint does not say which tag is which scheduler: each LR column is matched
    to the (scheduler, group) whose rebuilt schedule reproduces that column's logged values at the
    session's rows, and a column no schedule reproduces stays NaN (unplanned, never a false alarm).
    """
    import numpy as np

    groups_of = args.get("optimizer_param_groups") or []
    candidates: list[Any] = []
    for i, state in enumerate(args["lr_schedulers"]):
        groups = groups_of[i] if i < len(groups_of) else []
        got = planned_from_state(state, groups, gs, ep)
        if got is None or (got[1] == "epoch" and not spe):
            continue
        sched, unit = got
        pos = [int(steps[r]) if unit == "step" else int(steps[r]) // int(spe or 1) for r in rows]
        per_row = np.array([sched.lrs(p) for p in pos], dtype=float)
        candidates.extend(per_row[:, g] for g in range(per_row.shape[1]))
    built = False
    for j in range(lr.shape[1]):
        logged = lr[rows, j]
        ok = np.isfinite(logged)
        if not ok.any():
            continue
        for planned in candidates:
            if np.allclose(planned[ok], logged[ok], rtol=1e-6, atol=1e-12):
                out[rows, j] = planned
                built = True
                break
    return built


class LightningTrainer(Trainer):
    """``lightning.Trainer``: ``lightning_logs/version_N/`` with metrics.csv, events and checkpoints."""

    name = "lightning"
    label = "Lightning"
    profiles = (CURRENT,)
    config_file = "hparams.yaml"

    def recognises(self, path: Path) -> bool:
        from lrguard.trainers.lightning.reader import recognises

        return recognises(path)

    def read_run(self, path: Path) -> Run:
        from lrguard.trainers.lightning.reader import read_lightning_run

        return read_lightning_run(path)

    def planned_lr(self, run: Run) -> np.ndarray | None:
        """Each session's LR rebuilt from the scheduler state of that session's newest checkpoint.

        A session without a checkpoint, or whose scheduler has no closed form, is left NaN; None when
        no session could be rebuilt.
        """
        per_session = run.config.get("session_checkpoints") or []
        assert run.axis is not None and run.provenance is not None
        steps = run.axis.values
        spe = run.axis.steps_per_epoch
        import numpy as np  # only when a run is diagnosed: `ckpt show` asks this plug-in without numpy

        out = np.full(run.lr.shape, np.nan)
        any_built = False
        for k, args in enumerate(per_session):
            if not args or not args.get("lr_schedulers"):
                continue
            rows = np.nonzero(run.provenance.file_of_row == k)[0]
            gs = args.get("logged_step", args.get("global_step"))
            ep = next((f.epoch for f in run.checkpoints if f.train_args is args), None)
            if len(args["lr_schedulers"]) > 1:
                any_built |= _several(out, run.lr, rows, steps, spe, args, gs, ep)
                continue
            got = planned_from_state(args["lr_schedulers"][0], args.get("param_groups") or [], gs, ep)
            if got is None or (got[1] == "epoch" and not spe):
                continue
            sched, unit = got
            n = min(sched.n_groups, run.lr.shape[1])
            for r in rows:
                pos = int(steps[r]) if unit == "step" else int(steps[r]) // int(spe or 1)
                out[r, :n] = sched.lrs(pos)[:n]
            any_built = True
        return out if any_built else None

    def resume_command(self, last: str | None = None) -> str:
        return f'`trainer.fit(model, ckpt_path="{last or "last"}")`'

    def resume_verdict(self, state: SavedState) -> ResumeReport | None:
        from lrguard.trainers.lightning.resume import lightning_verdict

        return lightning_verdict(state.root)

    def continuation(
        self,
        run_path: Path,
        config: Any,
        lr_now: float,
        lrf: float,
        epochs_more: int,
        optimizer: str | None,
    ) -> str:
        return (
            f"start a new Trainer from the last checkpoint's weights (LightningModule.load_from_checkpoint) with "
            f"the LR at {g6(lr_now)} and a schedule sized for the new length, decaying to {g6(lr_now * lrf)}"
        )

    def epochs_changed_head(self, run_path: Path, e_before: int) -> str:
        return f"resume with max_epochs={e_before} (the restored scheduler keeps its saved length); "

    def instability(self, lower_lr0: float) -> str:
        return (
            f"lower the learning rate (e.g. {g6(lower_lr0)}), keep a warmup, set Trainer(gradient_clip_val=1.0); "
            "Trainer(detect_anomaly=True) names the first operation that produces NaN"
        )


TRAINER = LightningTrainer()
