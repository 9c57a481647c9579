"""Runs for the report tests: the 5000-epoch seed case, a 10-epoch run, and an Ultralytics restart."""

from __future__ import annotations

from pathlib import Path

from harness.generated import write_generated_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers.ultralytics import profiles as ultralytics
from lrguard.trainers.yolov5 import profiles as yolov5


def make_runs(root: Path) -> list[Path]:
    s1 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=3000, nb=200)
    seed = write_generated_run(
        root / "seed-5000",
        yolov5.CURRENT,
        [SessionPlan(0, 1740, s1), SessionPlan(1740, 5000, s1.with_(epochs=5000), resumed=True)],
        loss_bumps={1741: 1.15},
        description="the 5000-epoch case: epochs changed from 3000 to 5000 before --resume at 1740",
    )
    short = write_generated_run(
        root / "short-10",
        ultralytics.V8_4,
        [SessionPlan(0, 10, ScheduleSpec(lr0=0.01, lrf=0.01, epochs=10, nb=40, warmup_epochs=1))],
    )
    s2 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=60, nb=30)
    appended = root / "ul-appended"
    write_generated_run(appended, ultralytics.V8_3, [SessionPlan(0, 60, s2)], description="a finished 60-epoch run")
    # a second run written into the same results.csv (Ultralytics <= 8.3.40 appends): epoch restarts
    other = write_generated_run(root / "tmp-second", ultralytics.V8_3, [SessionPlan(0, 30, s2.with_(epochs=30))])
    lines = (other / "results.csv").read_text().splitlines()[1:]
    with open(appended / "results.csv", "a") as fh:
        fh.write("\n".join(lines) + "\n")
    return [seed, short, appended]
