"""Benchmark lrguard's checkpoint inspector against torch.load and a plain sequential read.

Builds a ~1 GB checkpoint with many tensors (torch.save, YOLO-like dict with model state, optimizer
state and args), then times:

* inspection: ``lrguard.checkpoint.inspect.inspect_path`` (walk data.pkl, structure, resume, security)
  vs ``torch.load(map_location="cpu", weights_only=False)``; target ratio >= 50x;
* verification: ``lrguard.checkpoint.integrity.verify`` (every zip CRC, sizes, storages) vs a plain
  sequential read of the file in 8 MiB chunks; target >= 0.8x of its throughput.

Usage: python bench/bench_ckpt.py [--size-gb 1.0] [--tensors 4000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def build(path: Path, size_gb: float, n_tensors: int) -> None:
    import torch

    per = int(size_gb * (1 << 30) / 4 / n_tensors / 2)  # half model, half optimizer momentum
    model = {f"model.{i}.weight": torch.randn(per) for i in range(n_tensors)}
    state = {i: {"momentum_buffer": torch.zeros(per)} for i in range(n_tensors)}
    groups = [
        {
            "lr": 0.0067,
            "initial_lr": 0.01,
            "momentum": 0.937,
            "weight_decay": 0.0,
            "params": list(range(n_tensors)),
        }
    ]
    ckpt = {
        "epoch": 41,
        "best_fitness": 0.5,
        "model": model,
        "ema": None,
        "updates": 12345,
        "optimizer": {"state": state, "param_groups": groups},
        "opt": {"epochs": 100, "hyp": {"lr0": 0.01, "lrf": 0.01}},
        "date": "2026-11-30",
    }
    torch.save(ckpt, path)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--tensors", type=int, default=4000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "big.pt"
        t = time.perf_counter()
        build(path, args.size_gb, args.tensors)
        size = path.stat().st_size
        print(
            f"built {path.name}: {size / 2**30:.2f} GiB, {2 * args.tensors} tensors"
            f" in {time.perf_counter() - t:.1f}s"
        )

        import torch

        from lrguard.checkpoint.inspect import inspect_path
        from lrguard.checkpoint.integrity import verify

        def plain_read() -> None:
            with path.open("rb") as fh:
                while fh.read(8 << 20):
                    pass

        plain_read()  # warm the page cache for every contender alike
        t_torch = best(lambda: torch.load(path, map_location="cpu", weights_only=False), args.repeat)
        t_insp = best(lambda: inspect_path(path), args.repeat)
        t_read = best(plain_read, args.repeat)
        rep = verify(path)
        assert rep.ok, rep.problems
        t_verify = best(lambda: verify(path), args.repeat)
        print(f"torch.load(map_location='cpu'): {t_torch * 1000:8.1f} ms")
        print(
            f"lrguard inspect (show):         {t_insp * 1000:8.1f} ms"
            f"   ratio {t_torch / t_insp:6.1f}x  (target >= 50x)"
        )
        print(f"plain sequential read:          {t_read * 1000:8.1f} ms   {size / t_read / 2**30:5.2f} GiB/s")
        print(
            f"lrguard verify (all CRCs):      {t_verify * 1000:8.1f} ms"
            f"   {size / t_verify / 2**30:5.2f} GiB/s"
            f"   {t_read / t_verify:4.2f}x of plain read (target >= 0.8x)"
        )


if __name__ == "__main__":
    main()
