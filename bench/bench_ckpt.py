"""Benchmark ``lrguard ckpt show`` / ``verify`` as cold processes against what the same work costs at least.

Builds checkpoints with ``torch.save`` (a YOLO-like dict: model state, optimizer momentum, args):

* ``big``: about 1 GB in 2000 tensors (``--quick``: 64 MB);
* ``many``: 50,000 small tensors (``--quick``: 5,000).

and times new processes, paired and interleaved (floor, lrguard, floor, lrguard, ...), medians:

=====================================  =================================================  ======
lrguard                                floor (a new process that ...)                      target
=====================================  =================================================  ======
``lrguard ckpt show big``              opens the zip, reads data.pkl, walks it with         <= 2x
                                       ``pickletools.genops``
``lrguard ckpt verify big``            computes the CRC-32 of the file (isal, 8 MiB        <= 1.5x
                                       chunks; zlib when isal is missing)
``lrguard ckpt verify many``           the same                                            <= 3x
=====================================  =================================================  ======

Every row is measured under both bytecode-cache settings, because a cold process's start-up
depends on them: ``PYTHONDONTWRITEBYTECODE=1`` (no ``.pyc`` for lrguard's sources in a checkout
that never wrote any: every process compiles them; the interpreter's own stdlib ``.pyc`` are used)
and a warmed cache (``.pyc`` written by a first run into a temporary ``PYTHONPYCACHEPREFIX``, as
after ``pip install``). Both sides always run under the same interpreter and setting.

Usage: python bench/bench_ckpt.py [--quick] [--repeat N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LRGUARD = "import sys\nfrom lrguard.cli.main import main\nsys.exit(main())\n"  # what the console script runs
SHOW_FLOOR = (
    "import pickletools, sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as zf:\n"
    "    data = zf.read(next(n for n in zf.namelist() if n.endswith('data.pkl')))\n"
    "for _ in pickletools.genops(data):\n"
    "    pass\n"
)
CRC_FLOOR = (
    "import sys\n"
    "try:\n"
    "    from isal.isal_zlib import crc32\n"
    "except ImportError:\n"
    "    from zlib import crc32\n"
    "crc = 0\n"
    "with open(sys.argv[1], 'rb') as fh:\n"
    "    while block := fh.read(8 << 20):\n"
    "        crc = crc32(block, crc)\n"
)


def build_big(path: Path, size_bytes: int, n_tensors: int) -> None:
    """A YOLO-like checkpoint of about ``size_bytes`` in ``n_tensors`` tensors (half model, half momentum)."""
    import torch

    half = n_tensors // 2
    per = max(size_bytes // 4 // n_tensors, 1)
    model = {f"model.{i}.weight": torch.randn(per) for i in range(half)}
    state = {i: {"momentum_buffer": torch.zeros(per)} for i in range(half)}
    groups = [{"lr": 0.0067, "initial_lr": 0.01, "momentum": 0.937, "weight_decay": 0.0, "params": list(range(half))}]
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


def settings(cache_dir: Path) -> list[tuple[str, dict[str, str]]]:
    """The two bytecode-cache settings, as (label, environment)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    base["PYTHONPATH"] = str(SRC)
    warm = cache_dir / "warm"
    warm.mkdir()
    stale = any(SRC.rglob("__pycache__"))
    off = "PYTHONDONTWRITEBYTECODE=1, " + (
        "but src/ holds __pycache__ (read anyway: delete it to measure compiling)"
        if stale
        else "no .pyc for lrguard's sources (every process compiles them; the stdlib's .pyc are used)"
    )
    return [
        (off, {**base, "PYTHONDONTWRITEBYTECODE": "1"}),
        ("bytecode cache warm (.pyc written by a first run)", {**base, "PYTHONPYCACHEPREFIX": str(warm)}),
    ]


def once(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one new process (output discarded); fails loudly on a crash."""
    t = time.perf_counter()
    res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    dt = time.perf_counter() - t
    if res.returncode not in (0, 1):
        raise SystemExit(f"bench: {' '.join(argv[-3:])} exited {res.returncode}: {res.stderr.decode()[-500:]}")
    return dt


def paired(lrguard: list[str], floor: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median times of ``lrguard`` and ``floor``, run interleaved (floor, lrguard, floor, ...) after a warm-up."""
    once(floor, env)
    once(lrguard, env)  # page cache, and the .pyc when the setting writes them
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        a.append(once(floor, env))
        b.append(once(lrguard, env))
    return statistics.median(b), statistics.median(a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (64 MB / 2000 tensors, 5000 tensors)")
    ap.add_argument("--repeat", type=int, default=None, help="pairs per row (default 11, --quick 5)")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the checkpoints (a temp dir)")
    args = ap.parse_args()
    repeat = args.repeat or (5 if args.quick else 11)
    big_bytes = (64 if args.quick else 1024) << 20
    many = 5_000 if args.quick else 50_000
    py = sys.executable
    try:
        import isal  # noqa: F401

        crc_impl = "isal"
    except ImportError:
        crc_impl = "zlib (isal not installed)"
    print(f"python {sys.version.split()[0]}; floor CRC-32: {crc_impl}; {repeat} interleaved pairs per row, medians")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        big, small = root / "big.pt", root / "many.pt"
        t = time.perf_counter()
        build_big(big, big_bytes, 2000)
        build_big(small, many * 64, many)
        print(
            f"built {big.stat().st_size / 2**20:.0f} MiB / 2000 tensors and "
            f"{small.stat().st_size / 2**20:.1f} MiB / {many} tensors in {time.perf_counter() - t:.1f}s"
        )
        cli = [py, "-c", LRGUARD, "ckpt"]
        rows: list[tuple[str, list[str], list[str], float]] = [
            (
                f"ckpt show, {big_bytes >> 20} MB / 2000 tensors",
                [*cli, "show", str(big)],
                [py, "-c", SHOW_FLOOR, str(big)],
                2.0,
            ),
            (f"ckpt verify, {big_bytes >> 20} MB", [*cli, "verify", str(big)], [py, "-c", CRC_FLOOR, str(big)], 1.5),
            (
                f"ckpt verify, {many} small tensors",
                [*cli, "verify", str(small)],
                [py, "-c", CRC_FLOOR, str(small)],
                3.0,
            ),
        ]
        for label, env in settings(root):
            print(f"\n[{label}]")
            print(f"  {'figure':<38} {'lrguard':>9} {'floor':>9} {'ratio':>7}  target")
            for name, lrg, floor, target in rows:
                t_l, t_f = paired(lrg, floor, env, repeat)
                ratio = t_l / t_f
                verdict = "met" if ratio <= target else "not met"
                print(f"  {name:<38} {t_l * 1000:7.0f}ms {t_f * 1000:7.0f}ms {ratio:6.2f}x  <= {target:g}x {verdict}")
        _in_process(big)


def _in_process(path: Path) -> None:
    """For reference: the in-process inspection against ``torch.load`` (no target)."""
    try:
        import torch
    except ImportError:
        return
    sys.path.insert(0, str(SRC))
    from lrguard.checkpoint.inspect import inspect_path

    def med(fn: Callable[[], object], n: int) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    t_torch = med(lambda: torch.load(path, map_location="cpu", weights_only=False), 3)
    t_insp = med(lambda: inspect_path(path), 5)
    print(
        f"\n[in process, for reference] torch.load {t_torch * 1000:.0f}ms, inspect_path {t_insp * 1000:.0f}ms "
        f"({t_torch / t_insp:.0f}x faster)"
    )


if __name__ == "__main__":
    main()
