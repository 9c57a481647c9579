"""Benchmark: ``lrguard diagnose`` on a 5000-epoch YOLOv5 run vs. ``python -c "import numpy"``.

The run is generated from lrguard's schedule functions (linear schedule, E = 3000, resumed at epoch
1739 with epochs edited to 5000 -- the seed case) and written to a temporary directory. Both
commands run as fresh processes, alternated, and the medians are compared: the floor is the cost of
starting Python and importing numpy, which any numpy-based tool pays.

Usage: python bench/bench_diagnose.py [--repeat N]
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
sys.path[:0] = [str(_REPO / "src"), str(_REPO / "tests")]  # this checkout's lrguard and the test harness

from harness.generated import write_generated_run  # noqa: E402
from lrguard.schedules import ScheduleSpec, SessionPlan  # noqa: E402
from lrguard.trainers import get_profile  # noqa: E402


def _env() -> dict[str, str]:
    import lrguard

    env = dict(os.environ)
    src = str(Path(lrguard.__file__).resolve().parents[1])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode(errors='replace').strip()}")
    return elapsed


def _precompile() -> None:
    """Write lrguard's bytecode once, as ``pip install`` does.

    In an editable checkout with PYTHONDONTWRITEBYTECODE set, every process would otherwise compile
    every lrguard module from source, which is not what an installed lrguard costs.
    """
    import compileall

    import lrguard

    compileall.compile_dir(str(Path(lrguard.__file__).resolve().parent), quiet=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    _precompile()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=3000, nb=200)
        write_generated_run(
            root / "exp",
            get_profile("yolov5"),
            [SessionPlan(0, 1739, spec), SessionPlan(1739, 5000, spec.with_(epochs=5000), resumed=True)],
            description="benchmark: 5000-epoch YOLOv5 run, epochs 3000 -> 5000 at 1739",
        )
        py = sys.executable
        cmds = {
            "python -c 'import numpy'": [py, "-c", "import numpy"],
            # What any CLI on lrguard's required dependencies pays before doing anything.
            "import numpy+yaml+argparse+...": [
                py,
                "-c",
                "import numpy, yaml, argparse, dataclasses, json, pathlib, enum",
            ],
            "lrguard diagnose --json": [py, "-m", "lrguard", "diagnose", "--json", "exp"],
            "lrguard diagnose (terminal)": [py, "-m", "lrguard", "diagnose", "exp"],
        }
        env = _env()
        for cmd in cmds.values():  # warm the page cache
            _time(cmd, root, env)
        samples: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                samples[name].append(_time(cmd, root, env))
    floor = statistics.median(samples["python -c 'import numpy'"])
    print(f"5000-epoch YOLOv5 run, {args.repeat} alternated runs each, median wall time:")
    for name, vals in samples.items():
        med = statistics.median(vals)
        print(f"  {name:32s} {med * 1000:7.1f} ms   ratio {med / floor:4.2f}x")
    print("target: lrguard diagnose <= 1.5x the numpy import floor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
