"""A 2-rank gloo worker for tests/test_guard_torch.py (spawned; importable by module path)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def worker(
    rank: int, world: int, port: int, out_dir: str, nan_step: int, steps: int, guarded: bool, ddp: bool = False
) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from lrguard.guard.config import GuardConfig
        from lrguard.guard.torch_adapter import TorchGuard

        torch.manual_seed(0)  # the same model and data on every rank: only the NaN differs
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
        if ddp:  # gradients averaged across ranks: a NaN on one rank reaches every rank's gradients
            model = torch.nn.parallel.DistributedDataParallel(model)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        guard = TorchGuard(opt, config=GuardConfig(check_every=4), console=None) if guarded else None
        x, y = torch.randn(16, 4), torch.randn(16, 1)
        for step in range(steps):
            xb = x.clone()
            if rank == 1 and step == nan_step:
                xb[3, 1] = float("nan")
            loss = torch.nn.functional.mse_loss(model(xb), y)
            loss.backward()
            if guard is not None:
                guard.step(loss)
            else:
                opt.step()
            opt.zero_grad()
        skipped = []
        if guard is not None:
            guard.close()
            skipped = guard.skipped_steps
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        torch.save({"weights": flat, "skipped": skipped}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()
