"""Real plain-PyTorch runs: a tiny ``nn.Linear`` on synthetic data, CPU, offline.

Every scenario is a function ``(run_dir) -> None`` that trains one or two sessions the way a
hand-written loop does: ``SummaryWriter(run_dir)`` per session, ``add_scalar("lr", ...)`` with the
LR the step used, ``torch.save`` of model, optimizer, scheduler and step. A resumed session builds
everything again in a fresh writer (a new event file), as a new process would.

Run ``python tests/harness/torch_scenarios.py OUT`` to write every scenario below ``OUT``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

torch.set_num_threads(1)

#: Peak LR and steps of every scenario (small: the whole set runs in seconds).
LR = 0.1
STEPS = 60
WARMUP = 5


def _data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])


def _warmup_cosine(total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < WARMUP:
            return step / WARMUP
        return 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / (total - WARMUP)))

    return f


def _session(
    run_dir: Path,
    start: int,
    stop: int,
    *,
    resume: Path | None = None,
    load_scheduler: bool = True,
    scheduler: str = "warmup_cosine",
    total: int = STEPS,
    nan_at: int | None = None,
    save: Path | None = None,
    save_every: int | None = None,
    save_before_scheduler_step: bool = False,
    last_epoch_from_step: bool = False,
) -> None:
    """Train steps ``start`` .. ``stop - 1`` (optimizer steps; step k logs as k + 1).

    ``save_every`` writes ``checkpoints/step{N}.pt`` inside the loop every N steps, after
    ``sched.step()`` (right) or, with ``save_before_scheduler_step``, between ``opt.step()`` and
    ``sched.step()`` (the scheduler state saved is one step behind the step counter).
    ``last_epoch_from_step`` resumes without the scheduler's state: it is rebuilt as
    ``LambdaLR(opt, f, last_epoch=step)``, whose constructor steps it once more.
    """
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=LR)

    def build(last_epoch: int = -1) -> torch.optim.lr_scheduler.LRScheduler:
        if scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, last_epoch=last_epoch)
        return torch.optim.lr_scheduler.LambdaLR(opt, _warmup_cosine(total), last_epoch=last_epoch)

    def checkpoint(path: Path, step: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
        torch.save({**state, "step": step}, path)

    if resume is None:
        sched = build()
    else:
        ckpt = torch.load(resume, weights_only=True)
        model.load_state_dict(ckpt["model"])
        if last_epoch_from_step:  # the optimizer's groups carry initial_lr, so the constructor accepts it
            opt.load_state_dict(ckpt["optimizer"])
            sched = build(last_epoch=int(ckpt["step"]))
        elif load_scheduler:
            sched = build()
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
        else:  # the mistake: the scheduler is constructed after the optimizer was restored, and never loaded
            opt.load_state_dict(ckpt["optimizer"])
            sched = build()
        start = int(ckpt["step"])
    x, y = _data()
    writer = SummaryWriter(str(run_dir))
    for step in range(start, stop):
        i = (step * 8) % len(x)
        xb, yb = x[i : i + 8], y[i : i + 8]
        loss = nn.functional.mse_loss(model(xb), yb)
        if nan_at is not None and step + 1 >= nan_at:
            loss = loss * float("nan")
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1e9)
        writer.add_scalar("lr", opt.param_groups[0]["lr"], step + 1)
        writer.add_scalar("train/loss", loss.item(), step + 1)
        writer.add_scalar("train/grad_norm", float(gn), step + 1)
        opt.step()
        due = save_every is not None and (step + 1) % save_every == 0
        if due and save_before_scheduler_step:
            checkpoint(run_dir / "checkpoints" / f"step{step + 1}.pt", step + 1)
        sched.step()
        if due and not save_before_scheduler_step:
            checkpoint(run_dir / "checkpoints" / f"step{step + 1}.pt", step + 1)
    writer.close()
    if save is not None:
        checkpoint(save, stop)


def clean(run_dir: Path) -> None:
    """One session, warmup then cosine to the end."""
    _session(run_dir, 0, STEPS, save=run_dir / "checkpoints" / "last.pt")


def seamless_resume(run_dir: Path) -> None:
    """Stopped at step 30, resumed with model, optimizer and scheduler restored."""
    ck = run_dir / "checkpoints" / "step30.pt"
    _session(run_dir, 0, 30, save=ck)
    _session(run_dir, 0, STEPS, resume=ck, save=run_dir / "checkpoints" / "last.pt")


def scheduler_built_after_load(run_dir: Path) -> None:
    """Resumed at step 30 with the optimizer restored but a scheduler built fresh (not loaded)."""
    ck = run_dir / "checkpoints" / "step30.pt"
    _session(run_dir, 0, 30, save=ck)
    _session(run_dir, 0, STEPS, resume=ck, load_scheduler=False, save=run_dir / "checkpoints" / "last.pt")


def saved_before_scheduler_step(run_dir: Path) -> None:
    """A checkpoint every 20 steps written between ``opt.step()`` and ``sched.step()``; crash at step 45.

    The resume from ``step40.pt`` restores a scheduler that has not yet stepped for step 40, so
    the first resumed step (logged as 41) uses the LR of step 40 again: the schedule runs one step behind.
    """
    _session(run_dir, 0, 45, save_every=20, save_before_scheduler_step=True)
    ck = run_dir / "checkpoints" / "step40.pt"
    _session(run_dir, 0, STEPS, resume=ck, save_every=20, save_before_scheduler_step=True)


def saved_after_scheduler_step(run_dir: Path) -> None:
    """The same crash and resume with the checkpoint written after ``sched.step()``: seamless."""
    _session(run_dir, 0, 45, save_every=20)
    _session(run_dir, 0, STEPS, resume=run_dir / "checkpoints" / "step40.pt", save_every=20)


def last_epoch_from_step(run_dir: Path) -> None:
    """Stopped at step 30; resumed with ``LambdaLR(opt, f, last_epoch=30)`` instead of loading its state.

    The constructor steps the scheduler once, to 31: the first resumed step (logged as 31) uses
    the LR of step 32, one value is skipped.
    """
    ck = run_dir / "checkpoints" / "step30.pt"
    _session(run_dir, 0, 30, save=ck)
    _session(run_dir, 0, STEPS, resume=ck, last_epoch_from_step=True, save=run_dir / "checkpoints" / "last.pt")


def past_end_cosine(run_dir: Path) -> None:
    """``CosineAnnealingLR(T_max=40)`` trained for 70 steps: the LR climbs back after step 40."""
    _session(run_dir, 0, 70, scheduler="cosine", total=40, save=run_dir / "checkpoints" / "last.pt")


def nan_injected(run_dir: Path) -> None:
    """The loss turns NaN from step 45 on."""
    _session(run_dir, 0, STEPS, nan_at=45)


#: Scenario name -> (writer, expected cause or None for a clean run, step of the finding).
SCENARIOS: dict[str, tuple[Callable[[Path], None], str | None, int | None]] = {
    "clean": (clean, None, None),
    "seamless-resume": (seamless_resume, None, None),
    "scheduler-built-after-load": (scheduler_built_after_load, "scheduler-built-after-load", 31),
    "saved-before-scheduler-step": (saved_before_scheduler_step, "resume-off-by-one", 41),
    "saved-after-scheduler-step": (saved_after_scheduler_step, None, None),
    "last-epoch-from-step": (last_epoch_from_step, "resume-off-by-one", 31),
    "past-end-cosine": (past_end_cosine, "schedule-past-end", 41),
    "nan": (nan_injected, "nonfinite", 45),
}


def main(out: str) -> None:
    """Write every scenario below ``out``."""
    for name, (fn, _, _) in SCENARIOS.items():
        d = Path(out) / name
        d.mkdir(parents=True, exist_ok=True)
        fn(d)


if __name__ == "__main__":
    main(sys.argv[1])
