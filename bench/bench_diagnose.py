"""Benchmark ``lrguard diagnose`` as a cold process against ``python -c "import numpy"``.

The run is the seed case, 1801 rows: a YOLOv5 run planned for 3000 epochs, resumed at epoch 1739
with ``epochs`` edited to 5000 (generated from lrguard's schedule functions into a temporary
directory). Each figure is a new process, paired and interleaved with the floor (floor, lrguard,
floor, lrguard, ...), medians:

==================================  ======
figure                              target
==================================  ======
``lrguard diagnose --json RUN``     <= 1.3x
``lrguard diagnose RUN``            <= 1.5x
``lrguard diagnose --html F RUN``   <= 1.8x
``lrguard --version``               <= 2x a bare ``python -c pass``
==================================  ======

The floor is what any numpy-based tool pays before it does anything: starting Python and importing
numpy. A second reference row adds lrguard's other required imports (PyYAML, argparse, json,
pathlib, dataclasses), which are part of every diagnose as well. Every row is measured under both
bytecode-cache settings (see ``bench/bench_ckpt.py``).

Usage: python bench/bench_diagnose.py [--repeat N] [--rows N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_REPO / "src"), str(_REPO / "tests"), str(_REPO / "bench")]

from bench_ckpt import LRGUARD, paired, settings  # noqa: E402

from harness.generated import write_generated_run  # noqa: E402
from lrguard.schedules import ScheduleSpec, SessionPlan  # noqa: E402
from lrguard.trainers import get_profile  # noqa: E402

REQUIRED = "import numpy, yaml, argparse, json, pathlib, dataclasses"


def write_run(root: Path, rows: int) -> Path:
    """The seed-like run: E 3000 -> 5000 at epoch 1739, ``rows`` epochs logged."""
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=3000, nb=200)
    cut = min(1739, rows - 1)
    run = root / "exp"
    write_generated_run(
        run,
        get_profile("yolov5"),
        [SessionPlan(0, cut, spec), SessionPlan(cut, rows, spec.with_(epochs=5000), resumed=True)],
        description=f"benchmark: {rows}-row YOLOv5 run, epochs 3000 -> 5000 at {cut}",
    )
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15, help="pairs per row (default 15)")
    ap.add_argument("--rows", type=int, default=1801, help="epochs in the generated run (default 1801)")
    args = ap.parse_args()
    py = sys.executable
    floor = [py, "-c", "import numpy"]
    print(f"python {sys.version.split()[0]}; {args.repeat} interleaved pairs per row, medians")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = write_run(root, args.rows)
        cli = [py, "-c", LRGUARD, "diagnose"]
        bare = [py, "-c", "pass"]
        rows: list[tuple[str, list[str], list[str], float | None]] = [
            ("lrguard --version (vs bare python)", [py, "-c", LRGUARD, "--version"], bare, 2.0),
            ("required imports (reference)", [py, "-c", REQUIRED], floor, None),
            ("diagnose --json", [*cli, "--json", str(run)], floor, 1.3),
            ("diagnose (terminal)", [*cli, str(run)], floor, 1.5),
            ("diagnose --html", [*cli, "--html", str(root / "report.html"), str(run)], floor, 1.8),
        ]
        print(f"run: {args.rows} rows of results.csv (epochs 3000 -> 5000 at 1739)")
        for label, env in settings(root):
            env = {**env, "COLUMNS": "100"}
            print(f"\n[{label}]")
            print(f"  {'figure':<34} {'lrguard':>9} {'floor':>9} {'ratio':>7}  target")
            for name, cmd, base, target in rows:
                t_l, t_f = paired(cmd, base, env, args.repeat)
                ratio = t_l / t_f
                goal = f"<= {target:g}x {'met' if ratio <= target else 'not met'}" if target else ""
                print(f"  {name:<34} {t_l * 1000:7.0f}ms {t_f * 1000:7.0f}ms {ratio:6.2f}x  {goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
