"""Benchmark the plain-PyTorch guard's overhead on a small CPU training loop, and count its host reads.

Paired and interleaved: each round trains one epoch without the guard and one with it (the order
alternating), from the same weights and data; the report is the median over rounds of the
per-step time of each side and of their ratio. The sync count instruments ``Tensor.item``,
``.cpu``, ``.tolist``, ``.numpy``, ``bool()``, ``float()``, ``int()`` for calls made by the guard's own
code: the default policy reads its device buffers once every ``check_every`` steps and never in
between.

This is a CPU benchmark: it measures the guard's extra tensor work (a norm over the gradients,
one copy of parameters and optimizer state, a ``torch.where`` back), not GPU stream stalls.

The rollback action's snapshot (a deep copy of model, optimizer and scheduler state plus the random
generators, taken every ``snapshot_every`` steps) and its restore are timed separately.

Usage: python bench/bench_guard.py [--rounds N] [--steps N] [--width N] [--check-every N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from lrguard.guard.config import GuardConfig
from lrguard.guard.state_adapter import TrainingState
from lrguard.guard.torch_adapter import TorchGuard

GUARD_DIR = str(Path(__file__).resolve().parents[1] / "src" / "lrguard" / "guard")
SYNC_NAMES = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__")


def make(width: int):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, width),
        torch.nn.ReLU(),
        torch.nn.Linear(width, 10),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10_000)
    return model, opt, sched


def epoch(model, opt, sched, guard, data, count_syncs=False):
    calls: list[str] = []
    originals = {}
    if count_syncs:
        for name in SYNC_NAMES:
            original = getattr(torch.Tensor, name)
            originals[name] = original

            def wrapped(t, *a, _name=name, _orig=original, **k):
                if sys._getframe(1).f_code.co_filename.startswith(GUARD_DIR):
                    calls.append(_name)
                return _orig(t, *a, **k)

            setattr(torch.Tensor, name, wrapped)
    try:
        t0 = time.perf_counter()
        for x, y in data:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            if guard is None:
                opt.step()
                sched.step()
            else:
                guard.step(loss)
            opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0, calls
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--check-every", type=int, default=GuardConfig().check_every)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    data = [
        (torch.randn(args.batch, 64, generator=g), torch.randint(0, 10, (args.batch,), generator=g))
        for _ in range(args.steps)
    ]
    plain = make(args.width)
    guarded_parts = make(args.width)
    guard = TorchGuard(
        guarded_parts[1], guarded_parts[2], config=GuardConfig(check_every=args.check_every), console=None
    )
    epoch(*plain, None, data[:10])  # warm-up both sides
    epoch(*guarded_parts, guard, data[:10])
    t_plain, t_guard, ratios = [], [], []
    for r in range(args.rounds):
        if r % 2:
            tg, _ = epoch(*guarded_parts, guard, data)
            tp, _ = epoch(*plain, None, data)
        else:
            tp, _ = epoch(*plain, None, data)
            tg, _ = epoch(*guarded_parts, guard, data)
        t_plain.append(tp / args.steps)
        t_guard.append(tg / args.steps)
        ratios.append(tg / tp)
    _, calls = epoch(*guarded_parts, guard, data, count_syncs=True)
    guard.close()
    n_params = sum(p.numel() for p in plain[0].parameters())
    print(
        f"model: {n_params:,} parameters, AdamW, batch {args.batch}, {args.steps} steps/epoch, {args.threads} thread(s)"
    )
    print(f"rounds: {args.rounds} (paired, order alternating); check_every={args.check_every}")
    print(f"step without guard: {statistics.median(t_plain) * 1e3:8.3f} ms (median)")
    print(f"step with guard:    {statistics.median(t_guard) * 1e3:8.3f} ms (median)")
    print(f"overhead:           {(statistics.median(ratios) - 1) * 100:+7.2f} % (median of paired ratios)")
    print(
        f"host reads by the guard: {len(calls)} in {args.steps} steps ({len(calls) / args.steps:.3f} per step): {sorted(set(calls))}"
    )
    model, opt, sched = guarded_parts
    objects = {"model": model, "optimizer": opt, "scheduler": sched}
    t_snap, t_back = [], []
    for _ in range(args.rounds * 3):
        t0 = time.perf_counter()
        state = TrainingState.capture(objects, step=0, batches=0, guard={})
        t1 = time.perf_counter()
        state.restore(objects)
        t_snap.append(t1 - t0)
        t_back.append(time.perf_counter() - t1)
    every = GuardConfig().snapshot_every
    snap = statistics.median(t_snap) * 1e3
    print(f"rollback snapshot:  {snap:8.3f} ms (median; every {every} steps: {snap / every:.4f} ms per step)")
    print(f"rollback restore:   {statistics.median(t_back) * 1e3:8.3f} ms (median)")


if __name__ == "__main__":
    main()
