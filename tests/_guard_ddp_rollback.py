"""A 2-rank gloo worker for tests/test_guard_ddp_rollback.py (spawned; importable by module path).

Each rank trains a ``DistributedDataParallel`` model with BatchNorm and dropout, AdamW, a LambdaLR
warmup, a CPU GradScaler and an ``AveragedModel`` EMA on its own batches; the loss draws noise from
torch, NumPy and ``random``, seeded per rank. The batches ``BAD`` of rank ``POISONED`` only are
scaled 300x (a loss spike on that rank alone; the averaged gradients carry it to the other).

Mode ``rollback``: first a reference run that never sees the data positions ``REF_SKIP`` (no
guard), then the guarded run with a ``loss-spike -> rollback`` configuration. Mode ``ladder``: one
spike, three guarded runs (default actions, ``lower-lr``, ``stop``) and the reduction of made-up
windows. Each rank writes ``rank<r>.pt`` (written whole, then renamed),
then waits for the other rank before tearing gloo down.
"""

from __future__ import annotations

import datetime
import os
import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

N = 60
BAD = (33, 34)
POISONED = 1
REF_SKIP = range(30, 37)  # the window a rollback at step 35 to step 30 skips, with rollback_skip 2


def _setup(rank: int) -> tuple[Any, ...]:
    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1)
    )
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW(ddp.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    ema = torch.optim.swa_utils.AveragedModel(model)
    torch.manual_seed(100 + rank)  # per-rank streams: dropout masks and noise differ between ranks
    random.seed(100 + rank)
    np.random.seed(100 + rank)
    return ddp, opt, sched, scaler, ema


def _batches(rank: int, bad: tuple[int, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1 + rank)
    out = []
    for i in range(N):
        x, y = torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g)
        if rank == POISONED and i in bad:
            x, y = x * 300, y * 300
        out.append((x, y))
    return out


def _loss(model: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    noise = torch.randn_like(x) * 0.01 + float(np.random.rand()) * 1e-3 + random.random() * 1e-3
    return torch.nn.functional.mse_loss(model(x + noise), y)


def snapshot(model: Any, opt: Any, sched: Any, scaler: Any, ema: Any) -> dict[str, Any]:
    """Every piece of training state, deep-copied (the test compares these with ``torch.equal``)."""
    import copy

    return copy.deepcopy(
        {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "ema": ema.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "np_rng": np.random.get_state(),
            "py_rng": random.getstate(),
        }
    )


def _reference(rank: int) -> dict[str, Any]:
    model, opt, sched, scaler, ema = _setup(rank)
    for i, (x, y) in enumerate(_batches(rank, BAD)):
        if i in REF_SKIP:
            continue
        loss = _loss(model, x, y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        opt.zero_grad()
        ema.update_parameters(model.module)
    return snapshot(model, opt, sched, scaler, ema)


ROLLBACK = {"actions": {"loss-spike": "rollback"}, "snapshot_every": 10, "rollback_patience": 2, "rollback_skip": 2}


def _guarded(rank: int, settings: dict[str, Any], bad: tuple[int, ...]) -> dict[str, Any]:
    from lrguard.guard.config import GuardConfig
    from lrguard.guard.core import GuardStop
    from lrguard.guard.torch_adapter import TorchGuard

    cfg = GuardConfig(check_every=5, **settings)
    model, opt, sched, scaler, ema = _setup(rank)
    guard = TorchGuard(opt, sched, scaler, config=cfg, model=model, ema=ema, console=None)
    seen: dict[int, list[dict[str, Any]]] = {}
    stopped: tuple[int, str] | None = None
    try:
        for x, y in guard.data(_batches(rank, bad)):
            if guard.global_step == 30:  # the last-good step: kept on first sight and after the rollback
                seen.setdefault(30, []).append(snapshot(model, opt, sched, scaler, ema))
            loss = _loss(model, x, y)
            scaler.scale(loss).backward()
            guard.step(loss)
            opt.zero_grad()
            ema.update_parameters(model.module)
        guard.close()
    except GuardStop as exc:  # raised at a host read: every rank at the same step, or a collective times out
        stopped = (guard.global_step, str(exc))
    events = [(e.step, e.signal, e.action, e.value, e.expected, e.message, e.rank) for e in guard.events]
    return {
        "final": snapshot(model, opt, sched, scaler, ema),
        "at30": seen.get(30, []),
        "windows": [w.to_json() for w in guard.skipped_windows],
        "events": events,
        "global_step": guard.global_step,
        "batches": guard.batches,
        "stopped": stopped,
    }


#: Per rank, rows of (loss, grad norm, flag) for agree_across_ranks: finite maxima, and a
#: non-finite value on one rank against a finite one on the other (NaN > +inf > -inf > finite).
WINDOWS = {
    0: [
        [1.0, 2.0, 1.0],
        [float("nan"), 3.0, 0.0],
        [5.0, float("inf"), 0.0],
        [-float("inf"), 1.0, 0.0],
        [1.0, 1.0, 1.0],
    ],
    1: [
        [4.0, 1.0, 1.0],
        [2.0, float("inf"), 0.0],
        [6.0, float("nan"), 0.0],
        [3.0, -float("inf"), 0.0],
        [0.5, 7.0, 1.0],
    ],
}


def _agreed(rank: int) -> torch.Tensor:
    from lrguard.guard.torch_adapter import agree_across_ranks

    return agree_across_ranks(torch.tensor(WINDOWS[rank]))


def worker(rank: int, world: int, port: int, out_dir: str, mode: str) -> None:
    """Train as the module doc says and write ``rank<r>.pt``; every collective times out after 60 s."""
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=60))
    try:
        result: dict[str, Any] = {}
        if mode == "rollback":
            result["reference"] = _reference(rank)
            result.update(_guarded(rank, ROLLBACK, BAD))
        else:  # the other actions, one run each, on a single spike
            result.update(_guarded(rank, {}, BAD[:1]))
            result["lower-lr"] = _guarded(rank, {"actions": {"loss-spike": "lower-lr"}, "lower_lr_steps": 10}, BAD[:1])
            result["stop"] = _guarded(rank, {"actions": {"loss-spike": "stop"}}, BAD[:1])
            result["agreed"] = _agreed(rank)
        tmp = os.path.join(out_dir, f".rank{rank}.pt")
        torch.save(result, tmp)
        os.replace(tmp, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()  # both ranks done before teardown (without it gloo sometimes aborts rank 0 at exit)
    finally:
        dist.destroy_process_group()
