"""Read 1M scalars in 10 tags: lrguard's reader vs TensorBoard's EventAccumulator, side by side.

Each side runs in its own new process (imports included) and prints how many points it read; the
bench checks the counts agree point for point (EventAccumulator with ``size_guidance={"scalars": 0}``
keeps every point and the file has no step going back, so nothing is purged) and prints the median
of interleaved pairs and the ratio. Target: lrguard >= 20x faster.

Usage: python bench/bench_tfevents.py [--points N] [--tags N] [--repeat N]
(needs tensorboard; the [fast] extra's crc32c makes writing the file quick)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_REPO / "tests")]

from _tfevents_writer import event, record, scalar_value  # noqa: E402

LRGUARD = (
    "import sys\nfrom lrguard.readers.tfevents import read_scalars\n"
    "log = read_scalars(sys.argv[1])\nprint(log.points)\n"
)
ACCUMULATOR = (
    "import sys\nfrom tensorboard.backend.event_processing.event_accumulator import EventAccumulator\n"
    "acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0})\nacc.Reload()\n"
    "print(sum(len(acc.Scalars(t)) for t in acc.Tags()['scalars']))\n"
)


#: Both sides run under each setting. glibc maps every large numpy temporary afresh and unmaps it
#: on free, so a new process pays page faults on each; the second setting keeps them on the heap.
SETTINGS = (
    ("default malloc", {}),
    (
        "glibc malloc thresholds raised (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ env vars)",
        {
            "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
            "MALLOC_TRIM_THRESHOLD_": str(1 << 31),
            "MALLOC_TOP_PAD_": str(1 << 28),
        },
    ),
)


def write_file(path: Path, points: int, tags: int) -> None:
    """``points`` add_scalar-style events, tags round-robin, one step per round."""
    names = [f"train/metric_{k}" for k in range(tags)]
    with open(path, "wb") as fh:
        fh.write(record(event(1.7e9, 0, file_version="brain.Event:2")))
        chunk = bytearray()
        for i in range(points):
            step, k = divmod(i, tags)
            chunk += record(event(1.7e9 + step * 0.01, step, [scalar_value(names[k], 1.0 / (1 + i % 977))]))
            if len(chunk) > 1 << 20:
                fh.write(chunk)
                chunk.clear()
        fh.write(chunk)


def once(code: str, path: Path, env: dict[str, str]) -> tuple[float, int]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - t, int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000, help="scalar points (default 1,000,000)")
    ap.add_argument("--tags", type=int, default=10, help="tags (default 10)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved pairs (default 3)")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env["PYTHONPATH"] = str(_REPO / "src")
    with tempfile.TemporaryDirectory() as tmp:
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pyc")
        path = Path(tmp) / "events.out.tfevents.1700000000.bench"
        t = time.perf_counter()
        write_file(path, args.points, args.tags)
        size = path.stat().st_size
        print(f"python {sys.version.split()[0]}; bytecode cache warm; {args.repeat} interleaved pairs, medians")
        print(
            f"file: {args.points:,} scalars in {args.tags} tags, {size / 1e6:.1f} MB (written in {time.perf_counter() - t:.1f} s)"
        )
        once(LRGUARD, path, env)  # .pyc and page cache
        for label, extra in SETTINGS:
            run_env = {**env, **extra}
            mine: list[float] = []
            theirs: list[float] = []
            for _ in range(args.repeat):
                a, n_acc = once(ACCUMULATOR, path, run_env)
                b, n_mine = once(LRGUARD, path, run_env)
                if n_acc != n_mine or n_mine != args.points:
                    sys.exit(f"point counts differ: EventAccumulator {n_acc}, lrguard {n_mine}, written {args.points}")
                theirs.append(a)
                mine.append(b)
            m, r = statistics.median(mine), statistics.median(theirs)
            print(f"\n[{label}]")
            print(f"  {'reader':34} {'time':>8} {'points':>10}")
            print(f"  {'EventAccumulator (scalars: 0)':34} {r:7.2f}s {args.points:>10,}")
            print(f"  {'lrguard read_scalars':34} {m:7.2f}s {args.points:>10,}")
            verdict = "met" if r / m >= 20 else "not met"
            print(f"  speed-up {r / m:.1f}x  (target >= 20x: {verdict})")


if __name__ == "__main__":
    main()
