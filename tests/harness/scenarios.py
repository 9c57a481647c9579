"""The real-trainer scenarios: what each one does and what a correct diagnosis must say about it.

Every scenario trains with the unmodified YOLOv5 (pip ``yolov5``) or Ultralytics trainer and
leaves a run directory. :data:`SCENARIOS` holds the static description; the functions that run
them live in :mod:`harness.yolov5_scenarios` and
:mod:`harness.ultralytics_scenarios` and are only imported inside the scenario's own
subprocess (see :mod:`harness.run_scenario`).

Convention for expected findings: ``epoch`` is the value in the run's own epoch column (YOLOv5
0-based, Ultralytics 1-based) of the first row whose logged learning rate departs upward from
the schedule that was planned before the change. For a new run (``restart-from-weights``,
``appended-runs``) it is the first row of the new run; for ``nonfinite`` the first row with a
non-finite value. ``row`` is the 0-based index of that data row in ``results.csv`` (it tells two
rows with the same epoch value apart).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

#: Name of the per-scenario metadata file written next to results.csv.
SCENARIO_JSON = "scenario.json"
#: Marker file written in a scenario's directory once it finished successfully.
COMPLETE_MARKER = ".complete"
#: Bumped whenever a scenario's recipe changes, so cached runs of an older recipe are redone.
RECIPE_VERSION = 3


class ExpectedFinding(NamedTuple):
    """A finding the diagnosis must report at severity warning or error.

    Attributes:
        cause: A :class:`lrguard.model.Cause` value.
        epoch: Epoch-column value of the row the finding concerns, or ``None`` when it depends on
            the run (timing, floating point); ``scenario.json`` then holds the value of the run.
    """

    cause: str
    epoch: int | None


@dataclass(frozen=True)
class ScenarioInfo:
    """Static description of one scenario.

    Attributes:
        name: ``<framework>/<scenario>``.
        framework: ``"yolov5"`` or ``"ultralytics"``.
        description: What the scenario does, in one or two sentences.
        mechanism: The mechanism it reproduces (M-number of the reference notes), or ``""``.
        expected: Findings the diagnosis must name at warning/error; empty for a clean run.
        run_subdir: Path of the returned run directory below the scenario directory.
        original_subdir: For scenarios with two run directories, the first one; else ``None``.
    """

    name: str
    framework: str
    description: str
    mechanism: str
    expected: tuple[ExpectedFinding, ...] = ()
    run_subdir: str = "runs/exp"
    original_subdir: str | None = None

    @property
    def clean(self) -> bool:
        """True when the diagnosis must not report any warning or error."""
        return not self.expected


def _info(
    name: str, description: str, mechanism: str = "", *expected: tuple[str, int | None], **kw: Any
) -> ScenarioInfo:
    return ScenarioInfo(
        name=name,
        framework=name.split("/", 1)[0],
        description=description,
        mechanism=mechanism,
        expected=tuple(ExpectedFinding(cause, epoch) for cause, epoch in expected),
        **kw,
    )


_TWO_RUNS = {"run_subdir": "runs/second", "original_subdir": "runs/first"}

#: Every scenario, by name.
SCENARIOS: dict[str, ScenarioInfo] = {
    info.name: info
    for info in (
        # ----------------------------------------------------------------------------------- YOLOv5
        _info("yolov5/clean", "10 epochs from scratch, linear schedule, never interrupted."),
        _info(
            "yolov5/resume",
            "10-epoch run interrupted after epoch 4, then `python -m yolov5.train --resume last.pt`: "
            "a seamless resume.",
        ),
        _info(
            "yolov5/interrupted",
            "10-epoch run interrupted after epoch 4 and never resumed; last.pt keeps its optimizer.",
        ),
        _info(
            "yolov5/continue-from-last",
            "A finished 6-epoch run, then a new run `--weights first/weights/last.pt --epochs 6` "
            "without --resume: warmup and the schedule start again.",
            "M2",
            ("restart-from-weights", 0),
            **_TWO_RUNS,
        ),
        _info(
            "yolov5/epochs-changed",
            "10-epoch run interrupted after epoch 5; `epochs` edited to 20 in opt.yaml, then --resume: "
            "the LR jumps up one row after the resume and decays with a shallower slope.",
            "M3",
            ("epochs-changed-on-resume", 7),
        ),
        _info(
            "yolov5/epochs-changed-small",
            "10-epoch run interrupted after epoch 4; `epochs` edited to 12 in opt.yaml, then --resume: "
            "the LR never steps up, it only decays more slowly from one row after the resume.",
            "M3",
            ("epochs-changed-on-resume", 6),
        ),
        _info(
            "yolov5/finetune-linear",
            "8-epoch linear run interrupted after epoch 6; `epochs` edited to 6 (< start epoch 7) in "
            "opt.yaml, then --resume: YOLOv5 trains 6 more epochs and the late-bound linear lambda "
            "uses 12 epochs.",
            "M4",
            ("finetune-extension", 8),
        ),
        _info(
            "yolov5/finetune-cosine",
            "10-epoch cosine run interrupted after epoch 8; `epochs` edited to 5 in opt.yaml, then "
            "--resume: the cosine keeps its period of 2x5 epochs, so the LR climbs back to lr0 and "
            "falls again.",
            "M4",
            ("finetune-extension", 10),
        ),
        _info(
            "yolov5/older-checkpoint",
            "8-epoch run with --save-period 1 interrupted after epoch 5, then resumed from "
            "weights/epoch3.pt: epochs 4 and 5 are trained and logged twice.",
            "M5",
            ("resume-from-older-checkpoint", 4),
        ),
        _info(
            "yolov5/lr0-edited",
            "10-epoch run interrupted after epoch 4; hyp lr0 edited from 0.01 to 0.02 in opt.yaml, then "
            "--resume: the LR doubles one row after the resume.",
            "M6",
            ("hyp-changed-on-resume", 6),
        ),
        _info(
            "yolov5/appended",
            "Two fresh 5-epoch runs written into the same directory with --exist-ok: results.csv holds "
            "both, the epoch column restarts at 0.",
            "M14",
            ("appended-runs", 0),
        ),
        _info(
            "yolov5/diverging",
            "6 epochs with hyp lr0=100 (10000x the default): the train cls loss climbs for two epochs, "
            "then every train loss is NaN. (lr0=1 or 10 leave the train losses finite: YOLOv5 clips "
            "gradients at max_norm=10.)",
            "",
            ("nonfinite", None),
        ),
        # ------------------------------------------------------------------------------ Ultralytics
        _info("ultralytics/clean", "8 epochs from yolov8n.yaml, SGD, linear schedule, never interrupted."),
        _info(
            "ultralytics/resume",
            "8-epoch run interrupted after epoch 4, then `YOLO(last.pt).train(resume=True)`: seamless.",
        ),
        _info(
            "ultralytics/interrupted",
            "8-epoch run interrupted after epoch 4 and never resumed; last.pt keeps its optimizer.",
        ),
        _info(
            "ultralytics/continue-from-last",
            "A finished 5-epoch run, then `YOLO(first/weights/last.pt).train(data=..., epochs=5)`: a new "
            "run with warmup and a fresh schedule.",
            "M2",
            ("restart-from-weights", 1),
            **_TWO_RUNS,
        ),
        _info(
            "ultralytics/time-budget",
            "`time=` sized from a measured epoch (a 2-epoch run first) to 8 slow epochs, epochs=100, "
            "and epoch 1 slowed by a sleep of 4 measured epochs: the trainer re-estimates the number of "
            "epochs (and rebuilds the scheduler) after every epoch, and after the fast epoch 2 the estimate "
            "grows. The expected row is the first whose LR steps up, else the first whose LR lies above "
            "the schedule planned one epoch earlier (the implied number of epochs grew; epoch 3 here).",
            "M7",
            ("time-budget-reestimation", None),
        ),
        _info(
            "ultralytics/epochs-changed",
            "6-epoch run interrupted after epoch 3; `train_args['epochs']` set to 12 inside last.pt "
            "(torch.load/torch.save), then resume: the LR jumps up at the first resumed row.",
            "M3",
            ("epochs-changed-on-resume", 4),
        ),
        _info(
            "ultralytics/epochs-changed-small",
            "8-epoch run interrupted after epoch 4; `train_args['epochs']` set to 10 inside last.pt, then "
            "resume: the LR never steps up, the first resumed row already lies on the slower 10-epoch line.",
            "M3",
            ("epochs-changed-on-resume", 5),
        ),
        _info(
            "ultralytics/diverging",
            "6 epochs with lr0=1.0 (the largest value 8.4.190 accepts) and nbs=8 (an optimizer step "
            "every batch): the cls loss explodes; 8.4.190 never writes a non-finite loss row here.",
            "",
            ("loss-spike", None),
        ),
    )
}


# ----------------------------------------------------------------------------------------- schedules
def linear_lf(epochs: int, lrf: float, clamp: bool) -> Callable[[float], float]:
    """The linear LR factor of both trainers (Ultralytics clamps it at 0, YOLOv5 does not)."""

    def lf(x: float) -> float:
        ramp = 1 - x / epochs
        return (max(ramp, 0.0) if clamp else ramp) * (1.0 - lrf) + lrf

    return lf


def cosine_lf(epochs: int, lrf: float) -> Callable[[float], float]:
    """The ``one_cycle(1, lrf, epochs)`` cosine LR factor of both trainers (periodic in 2*epochs)."""

    def lf(x: float) -> float:
        return ((1 - math.cos(x * math.pi / epochs)) / 2) * (lrf - 1.0) + 1.0

    return lf


def planned_lr(
    framework: str,
    row_epoch: int,
    *,
    lr0: float,
    lf: Callable[[float], float],
    nb: int,
    nw: int,
    warmup_start: float = 0.0,
) -> float:
    """The LR one trainer logs for a row of an uninterrupted run with a fixed schedule.

    Args:
        framework: ``"yolov5"`` (0-based rows, scheduler stepped at the end of the epoch) or
            ``"ultralytics"`` (1-based rows, stepped at the start of the epoch, >= 8.1.47).
        row_epoch: Value of the row's epoch column.
        lr0: Initial learning rate.
        lf: LR factor of the schedule.
        nb: Batches per epoch.
        nw: Warmup iterations (0 for none).
        warmup_start: LR at iteration 0 of the warmup (``warmup_bias_lr`` for the bias group).

    Returns:
        The logged LR: the group's LR after the epoch's last batch.
    """
    epoch = row_epoch if framework == "yolov5" else row_epoch - 1
    last_iteration = nb * epoch + nb - 1
    if nw and last_iteration <= nw:
        return warmup_start + (lr0 * lf(epoch) - warmup_start) * last_iteration / nw
    if framework == "yolov5" and nw and nb * epoch <= nw:
        return lr0 * lf(epoch)  # warmup ended inside this epoch, at its own target lf(epoch)
    return lr0 * lf(epoch - 1 if framework == "yolov5" else epoch)


# ------------------------------------------------------------------------------------------ context
@dataclass
class ScenarioContext:
    """What a running scenario needs, and what it has recorded so far.

    Attributes:
        info: The scenario's static description.
        root: The scenario's directory (all its runs live under ``root/runs``).
        data_yaml: The shared dataset's data.yaml.
        record: Free-form facts about what was done; written into ``scenario.json``.
        steps: The trainer calls and commands, in order.
    """

    info: ScenarioInfo
    root: Path
    data_yaml: Path
    record: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def runs(self) -> Path:
        """The ``project`` directory that every run of the scenario is written into."""
        return self.root / "runs"

    @property
    def run_dir(self) -> Path:
        """The run directory the scenario returns (the one holding results.csv)."""
        return self.root / self.info.run_subdir

    def step(self, kind: str, **details: Any) -> None:
        """Record one step (a trainer call, a command, an edit, an interruption)."""
        self.steps.append({"kind": kind, **details})


def read_results_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Read a results.csv of either trainer, stripping YOLOv5's space padding.

    Args:
        path: The CSV file.

    Returns:
        The header and one ``column -> cell`` dict per data row.
    """
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    header = [cell.strip() for cell in lines[0].split(",")]
    rows = [dict(zip(header, (cell.strip() for cell in line.split(",")), strict=False)) for line in lines[1:]]
    return header, rows


def lr_columns(header: list[str]) -> list[str]:
    """The learning-rate columns of a results.csv header, in group order."""
    return [name for name in header if name.startswith(("x/lr", "lr/pg"))]


def write_scenario_json(ctx: ScenarioContext, expected: list[dict[str, Any]], extra: dict[str, Any]) -> Path:
    """Write ``scenario.json`` into the scenario's run directory.

    Args:
        ctx: The finished scenario.
        expected: Resolved expected findings (``cause``, ``epoch``, ``row``).
        extra: More facts to store (versions, timings, LR columns).

    Returns:
        The path written.
    """
    info = ctx.info
    payload = {
        "name": info.name,
        "framework": info.framework,
        "description": info.description,
        "mechanism": info.mechanism,
        "recipe_version": RECIPE_VERSION,
        "expected": expected,
        "run_subdir": info.run_subdir,
        "original_run_dir": info.original_subdir,
        **ctx.record,
        "steps": ctx.steps,
        **extra,
    }
    path = ctx.run_dir / SCENARIO_JSON
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def load_scenario_json(run_dir: Path) -> dict[str, Any]:
    """Read the ``scenario.json`` of a run directory produced by a scenario."""
    return json.loads((Path(run_dir) / SCENARIO_JSON).read_text(encoding="utf-8"))
