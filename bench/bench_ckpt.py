"""Benchmark lrguard's checkpoint inspector against torch.load and a plain sequential read.

Builds a ~1 GB checkpoint with many tensors (torch.save, YOLO-like dict with model state, optimizer
state and args), then times:

* inspection: ``lrguard.checkpoint.inspect.inspect_path`` (walk data.pkl, structure, resume, security)
  vs ``torch.load(map_location="cpu", weights_only=False)``; target ratio >= 50x;
* verification: ``lrguard.checkpoint.integrity.verify`` (every zip CRC, sizes, storages) vs a plain
  sequential read of the file in 8 MiB chunks; target >= 0.8x of its throughput.

* cold process: ``lrguard ckpt show FILE`` (and ``--json``) as a new process vs a new process that opens
  the zip, reads ``data.pkl`` and walks it with ``pickletools.genops`` (the floor); target <= 2x. The
  bytecode-cache setting it ran with is printed (both sides use the same interpreter and setting).

Each in-process scenario runs with a warm page cache and a cold one (pages dropped with posix_fadvise).

Usage: python bench/bench_ckpt.py [--size-gb 1.0] [--tensors 4000,500] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
FLOOR = (
    "import pickletools, sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as zf:\n"
    "    data = zf.read(next(n for n in zf.namelist() if n.endswith('data.pkl')))\n"
    "for _ in pickletools.genops(data):\n"
    "    pass\n"
)


def process_time(argv: list[str], repeat: int) -> float:
    """Best wall time of running ``argv`` as a new process (output discarded)."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        times.append(time.perf_counter() - t)
    return min(times)


def bytecode_setting() -> str:
    """How this interpreter treats bytecode caches (the cold-process ratios depend on it)."""
    if sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return "no bytecode writing (PYTHONDONTWRITEBYTECODE / -B): every run compiles"
    prefix = os.environ.get("PYTHONPYCACHEPREFIX")
    return f"bytecode cache on ({'prefix ' + prefix if prefix else '__pycache__'}; warmed by a first run)"


def show_vs_floor(path: Path, repeat: int) -> None:
    """``ckpt show`` as a cold process against the zip + genops floor, side by side."""
    py = sys.executable
    cli = [py, "-m", "lrguard.cli.main", "ckpt", "show"]
    process_time([*cli, str(path)], 1)  # warm the bytecode cache and the page cache
    floor = process_time([py, "-c", FLOOR, str(path)], repeat)
    show = process_time([*cli, str(path)], repeat)
    show_json = process_time([*cli, "--json", str(path)], repeat)
    print(f"  [cold process; {bytecode_setting()}]")
    print(f"    floor: zip + data.pkl + pickletools.genops: {floor * 1000:8.1f} ms")
    print(
        f"    lrguard ckpt show:                         {show * 1000:8.1f} ms   {show / floor:4.2f}x  (target <= 2x)"
    )
    print(f"    lrguard ckpt show --json:                  {show_json * 1000:8.1f} ms   {show_json / floor:4.2f}x")


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


def evict(path: Path) -> None:
    """Drop the file's pages from the page cache (cold-cache runs)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def cold(fn, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        evict(path)
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def scenario(path: Path, size_gb: float, n_tensors: int, repeat: int) -> None:
    import torch

    from lrguard.checkpoint.inspect import inspect_path
    from lrguard.checkpoint.integrity import verify

    t = time.perf_counter()
    build(path, size_gb, n_tensors)
    size = path.stat().st_size
    print(f"\n== {size / 2**30:.2f} GiB, {2 * n_tensors} tensors (built in {time.perf_counter() - t:.1f}s)")

    def plain_read() -> None:
        with path.open("rb") as fh:
            while fh.read(8 << 20):
                pass

    def tload() -> None:
        torch.load(path, map_location="cpu", weights_only=False)

    def insp() -> None:
        inspect_path(path)

    def ver() -> None:
        assert verify(path).ok

    show_vs_floor(path, 5 * repeat)
    for label, run in (("warm page cache", best), ("cold page cache", lambda f, r: cold(f, path, r))):
        if label.startswith("warm"):
            plain_read()
        t_torch, t_insp = run(tload, repeat), run(insp, 3 * repeat)  # the fast one is noisier: more tries
        t_read, t_verify = run(plain_read, repeat), run(ver, repeat)
        print(f"  [{label}]")
        print(f"    torch.load(map_location='cpu'): {t_torch * 1000:8.1f} ms")
        print(f"    lrguard ckpt show (inspect):    {t_insp * 1000:8.1f} ms   {t_torch / t_insp:6.1f}x faster")
        print(f"    plain sequential read:          {t_read * 1000:8.1f} ms   {size / t_read / 2**30:5.2f} GiB/s")
        print(
            f"    lrguard ckpt verify (all CRCs): {t_verify * 1000:8.1f} ms"
            f"   {size / t_verify / 2**30:5.2f} GiB/s"
            f" = {t_read / t_verify:4.2f}x of plain read"
        )
    path.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--tensors", default="1000,4000,500", help="comma-separated model tensor counts (x2 with momentum)")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(
        "targets: show >= 50x faster than torch.load; show <= 2x a zip+genops process; "
        "verify >= 0.8x of a plain read's throughput"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for n in (int(x) for x in args.tensors.split(",")):
            scenario(Path(tmp) / "big.pt", args.size_gb, n, args.repeat)


if __name__ == "__main__":
    main()
