"""Run one scenario in this process: ``python -m harness.run_scenario NAME SCENARIO_DIR DATA_YAML``.

The caller (:func:`harness.realruns.ensure_runs`) sets the offline environment of
:mod:`harness.offline` and sends the output to the scenario's ``log.txt``. This process
installs the network guard, empties ``SCENARIO_DIR``, runs the scenario, then writes
``scenario.json`` into the run directory. The completion marker is the caller's to write, once this
process has exited successfully.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from harness.offline import install_network_guard, network_guard_installed
from harness.scenarios import (
    SCENARIOS,
    ScenarioContext,
    ScenarioInfo,
    lr_columns,
    read_results_csv,
    write_scenario_json,
)

BASE_ULTRALYTICS_LR0 = 0.01  # lr0 and lrf of the Ultralytics time-budget scenario
BASE_ULTRALYTICS_LRF = 0.01
_MODULES = {
    "yolov5": "harness.yolov5_scenarios",
    "ultralytics": "harness.ultralytics_scenarios",
}


def _float(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return math.nan


def _implied_epochs(lr: float, lr0: float, lrf: float, x: int) -> float:
    """The E of the linear schedule ``lr0 * ((1 - x/E)(1 - lrf) + lrf)`` that gives ``lr`` at ``x``."""
    remaining = 1 - (lr / lr0 - lrf) / (1 - lrf)
    return x / remaining if remaining > 0 else math.inf


def _first_plan_increase(rows: list[dict[str, str]], column: str) -> int | None:
    """First Ultralytics row whose LR is above the linear schedule planned one epoch earlier.

    Row k (1-based) logs ``lr0 * lf_E(k - 1)``; in ``time`` mode E is re-estimated after every
    epoch, and the LR of row k exceeds what the previous plan gave exactly when the implied E grew.
    Row 1 is warmup and row 2 carries the first plan, so the search starts at row 3.
    """
    lr0, lrf = float(BASE_ULTRALYTICS_LR0), float(BASE_ULTRALYTICS_LRF)
    implied = [_implied_epochs(_float(row[column]), lr0, lrf, int(float(row["epoch"])) - 1) for row in rows]
    return next((i for i in range(2, len(rows)) if implied[i] > implied[i - 1] + 0.5), None)


def _first_lr_step_up(rows: list[dict[str, str]], column: str, rel: float = 1e-4) -> int | None:
    """First row (from row 3) whose LR is above the previous row's by more than ``rel``.

    Row 1 is warmup and row 2 its hand-off, so the search starts at row 3. ``rel`` is far above the
    rounding of the logged values (six significant digits) and below any step a re-estimated
    total can cause (at least 2/E**2 of lr0 for E total epochs).
    """
    lr = [_float(row[column]) for row in rows]
    return next((i for i in range(2, len(rows)) if lr[i] > lr[i - 1] * (1 + rel)), None)


def _first_loss_spike(rows: list[dict[str, str]], factor: float = 10.0) -> int | None:
    """First row where a train or validation loss is more than ``factor`` times its previous value."""
    columns = [name for name in rows[0] if name.startswith(("train/", "val/"))]
    for i in range(1, len(rows)):
        if any(_float(rows[i][c]) > factor * _float(rows[i - 1][c]) for c in columns):
            return i
    return None


_HOW = {
    "nonfinite": "first row with a non-finite train loss",
    "time-budget-reestimation": (
        "first row (from row 3) whose LR is above the previous row's; without one, the first row whose "
        "implied linear-schedule epochs E grew by > 0.5"
    ),
    "loss-spike": "first row where a train/ or val/ loss is more than 10x its value in the previous row",
}


def _resolve_expected(info: ScenarioInfo, rows: list[dict[str, str]], lr_cols: list[str]) -> list[dict[str, Any]]:
    """Turn the static expectations into (cause, epoch, row) of this run's results.csv."""
    epochs = [int(float(row["epoch"])) for row in rows]
    resolved = []
    for cause, epoch in info.expected:
        how = _HOW.get(cause, "the row of the static expectation (the later one if the epoch repeats)")
        if cause == "nonfinite":
            row = next(
                (
                    i
                    for i, cells in enumerate(rows)
                    if any(not math.isfinite(_float(v)) for k, v in cells.items() if k.startswith("train/"))
                ),
                None,
            )
        elif cause == "time-budget-reestimation":
            column = lr_cols[0]  # 8.4.190: pg0 is the weight group
            row = _first_lr_step_up(rows, column)
            row = _first_plan_increase(rows, column) if row is None else row
        elif cause == "loss-spike":
            row = _first_loss_spike(rows)
        else:
            matches = [i for i, value in enumerate(epochs) if value == epoch]
            row = matches[-1] if matches else None  # a repeated epoch value: the later (new) session
        if row is None:
            raise RuntimeError(f"{info.name}: no row in results.csv shows the expected {cause!r}")
        if epoch is not None and epochs[row] != epoch:
            raise RuntimeError(f"{info.name}: expected {cause!r} at epoch {epoch}, found row {row}")
        resolved.append({"cause": cause, "epoch": epochs[row], "row": row, "how": how})
    return resolved


def _checkpoint_facts(run_dir: Path) -> dict[str, Any]:
    """Epoch and optimizer presence of every checkpoint under ``run_dir/weights``."""
    import torch

    facts = {}
    for path in sorted((run_dir / "weights").glob("*.pt")):
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        facts[f"weights/{path.name}"] = {
            "epoch": ckpt.get("epoch"),
            "has_optimizer": ckpt.get("optimizer") is not None,
        }
    return facts


def run(name: str, root: Path, data_yaml: Path) -> Path:
    """Run scenario ``name`` into ``root`` and return its run directory.

    Args:
        name: A key of :data:`~harness.scenarios.SCENARIOS`.
        root: The scenario directory; emptied first.
        data_yaml: The dataset to train on.

    Returns:
        The run directory holding results.csv and scenario.json.
    """
    info = SCENARIOS[name]
    install_network_guard()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    module = importlib.import_module(_MODULES[info.framework])
    ctx = ScenarioContext(info=info, root=root, data_yaml=data_yaml)
    started = time.perf_counter()
    module.RUNNERS[name](ctx)
    elapsed = time.perf_counter() - started

    header, rows = read_results_csv(ctx.run_dir / "results.csv")
    lr_cols = lr_columns(header)
    extra: dict[str, Any] = {
        "versions": {**module.versions(), "python": platform.python_version()},
        "settings": module.BASE,
        "batches_per_epoch": module.NB,
        "warmup_iterations": module.NW,
        "train_seconds": round(elapsed, 1),
        "network_guard": network_guard_installed(),
        "rows": len(rows),
        "epoch_column": [int(float(row["epoch"])) for row in rows],
        "lr_columns": {col: [_float(row[col]) for row in rows] for col in lr_cols},
        "checkpoints": _checkpoint_facts(ctx.run_dir),
    }
    if info.original_subdir:
        original = root / info.original_subdir
        extra["original_run_dir"] = os.path.relpath(original, ctx.run_dir)
        extra["original_checkpoints"] = _checkpoint_facts(original)
    write_scenario_json(ctx, _resolve_expected(info, rows, lr_cols), extra)
    return ctx.run_dir


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m harness.run_scenario", description=__doc__)
    parser.add_argument("name", choices=sorted(SCENARIOS))
    parser.add_argument("root", type=Path)
    parser.add_argument("data_yaml", type=Path)
    args = parser.parse_args(argv)
    if os.environ.get("YOLO_OFFLINE") != "1":
        raise SystemExit("run_scenario needs the environment of harness.offline (YOLO_OFFLINE=1 ...)")
    run_dir = run(args.name, args.root.resolve(), args.data_yaml.resolve())
    print(f"scenario {args.name}: {run_dir}", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
