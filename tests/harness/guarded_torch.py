"""A real plain-PyTorch run trained under the live guard (``TorchGuard``), CPU, offline, seconds.

Two sessions: steps 0 .. :data:`RESUME_STEP` - 1, then a resume from the checkpoint saved there
(model, optimizer and scheduler restored, the way a new process resumes), both guarded; the
first session's clean cosine lets ``lrguard diagnose`` rebuild the plan from that checkpoint's
scheduler state. The loop is a hand-written one as :mod:`harness.torch_scenarios` writes them (``SummaryWriter`` per
run, ``add_scalar("lr", ...)`` with the LR the step used), stepped through the guard's
``before_step`` / ``after_step`` pair so that the logged LR is the one the optimizer used, the
guard's lowering included. Two things go wrong on purpose:

* the loss of step :data:`NAN_STEP` is NaN: the guard skips that step;
* the batch of step :data:`SPIKE_STEP` has its labels multiplied by :data:`SPIKE_FACTOR` (a loss
  spike of about its square): with
  ``loss-spike -> lower-lr`` the guard lowers the LR by ``lower_lr_factor`` for
  ``lower_lr_steps`` steps.

The events go to ``lrguard-events.jsonl`` in the run directory (the default name
``lrguard diagnose`` reads).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from lrguard import constants as C
from lrguard.guard.config import GuardConfig
from lrguard.guard.torch_adapter import TorchGuard

torch.set_num_threads(1)

LR = 0.1
STEPS = 60
RESUME_STEP = 24
NAN_STEP = 36
SPIKE_STEP = 44
SPIKE_FACTOR = 30.0
CHECK_EVERY = 4
LOWER_STEPS = 6
LOWER_FACTOR = 0.1


def _session(run_dir: Path, stop: int, resume: Path | None, save: Path) -> None:
    """Train up to step ``stop`` (from 0, or from ``resume``'s step), guarded, logging the LR each step used."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS)
    start = 0
    if resume is not None:
        ckpt = torch.load(resume, weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start = int(ckpt["step"])
    config = GuardConfig(
        check_every=CHECK_EVERY,
        actions={"loss-spike": "lower-lr"},
        lower_lr_steps=LOWER_STEPS,
        lower_lr_factor=LOWER_FACTOR,
    )
    events = str(run_dir / C.GUARD_EVENTS_JSONL)
    guard = TorchGuard(opt, sched, config=config, events=events, console=None, step=start)
    writer = SummaryWriter(str(run_dir))
    for step in range(start, stop):
        i = (step * 8) % len(x)
        target = y[i : i + 8] * (SPIKE_FACTOR if step == SPIKE_STEP else 1.0)  # one batch of outlier labels
        loss = nn.functional.mse_loss(model(x[i : i + 8]), target)
        if step == NAN_STEP:
            loss = loss * float("nan")
        opt.zero_grad()
        loss.backward()
        guard.before_step(loss)
        writer.add_scalar("lr", opt.param_groups[0]["lr"], step + 1)  # the LR this step uses
        writer.add_scalar("train/loss", float(loss.detach()), step + 1)
        opt.step()
        guard.after_step()
        sched.step()
    writer.close()
    guard.close()
    save.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
    torch.save({**state, "step": stop}, save)


def guarded_run(run_dir: Path) -> Path:
    """Train the guarded run into ``run_dir`` (two sessions, resumed at :data:`RESUME_STEP`); return its events file."""
    first = run_dir / "checkpoints" / f"step{RESUME_STEP}.pt"
    _session(run_dir, RESUME_STEP, None, first)
    _session(run_dir, STEPS, first, run_dir / "checkpoints" / "last.pt")
    return run_dir / C.GUARD_EVENTS_JSONL
