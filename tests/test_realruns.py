"""The real-trainer scenarios produced what they claim.

These tests check the runs themselves (rows, epoch column, LR columns, configuration files,
checkpoints), and that every expected finding sits exactly where the logged learning rate first
leaves the schedule planned before the change. They do not run lrguard's diagnosis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import yaml

from harness.ckpt_peek import peek_checkpoint
from harness.realruns import SCENARIOS, load_scenario_json
from harness.scenarios import cosine_lf, linear_lf, lr_columns, planned_lr, read_results_csv

pytestmark = [pytest.mark.trainers, pytest.mark.slow]

ALL = sorted(SCENARIOS)
V5 = {"nb": 32, "nw": 100}  # 32 images, batch 1; warmup floor of 100 iterations
UL = {"nb": 4, "nw": 4}  # 32 images, batch 8; warmup_epochs=1

EPOCHS: dict[str, list[int]] = {
    "yolov5/clean": list(range(10)),
    "yolov5/resume": list(range(10)),
    "yolov5/interrupted": list(range(5)),
    "yolov5/continue-from-last": list(range(6)),
    "yolov5/epochs-changed": list(range(20)),
    "yolov5/epochs-changed-small": list(range(12)),
    "yolov5/finetune-linear": list(range(12)),
    "yolov5/finetune-cosine": list(range(13)),
    "yolov5/older-checkpoint": [0, 1, 2, 3, 4, 5, 4, 5, 6, 7],
    "yolov5/lr0-edited": list(range(10)),
    "yolov5/appended": [0, 1, 2, 3, 4, 0, 1, 2, 3, 4],
    "yolov5/diverging": list(range(6)),
    "ultralytics/clean": list(range(1, 9)),
    "ultralytics/resume": list(range(1, 9)),
    "ultralytics/interrupted": list(range(1, 5)),
    "ultralytics/continue-from-last": list(range(1, 6)),
    "ultralytics/epochs-changed": list(range(1, 13)),
    "ultralytics/epochs-changed-small": list(range(1, 11)),
    "ultralytics/diverging": list(range(1, 7)),
}

# Scenario -> (lf before the change, first row epoch of the new session, lr0 after, lf after).
# The first resumed YOLOv5 row still logs the checkpoint's LR; later rows log lr0' * lf'(e - 1).
# Ultralytics steps the scheduler at the start of every epoch: resumed row k logs lr0' * lf'(k - 1).
Schedule = tuple[Callable[[float], float], int | None, float, Callable[[float], float]]
SCHEDULES: dict[str, Schedule] = {
    "yolov5/clean": (linear_lf(10, 0.01, False), None, 0.01, linear_lf(10, 0.01, False)),
    "yolov5/resume": (linear_lf(10, 0.01, False), 5, 0.01, linear_lf(10, 0.01, False)),
    "yolov5/interrupted": (linear_lf(10, 0.01, False), None, 0.01, linear_lf(10, 0.01, False)),
    "yolov5/epochs-changed": (linear_lf(10, 0.01, False), 6, 0.01, linear_lf(20, 0.01, False)),
    "yolov5/epochs-changed-small": (linear_lf(10, 0.01, False), 5, 0.01, linear_lf(12, 0.01, False)),
    "yolov5/finetune-linear": (linear_lf(8, 0.01, False), 7, 0.01, linear_lf(12, 0.01, False)),
    "yolov5/finetune-cosine": (cosine_lf(10, 0.01), 9, 0.01, cosine_lf(5, 0.01)),
    "yolov5/lr0-edited": (linear_lf(10, 0.01, False), 5, 0.02, linear_lf(10, 0.01, False)),
    "ultralytics/clean": (linear_lf(8, 0.01, True), None, 0.01, linear_lf(8, 0.01, True)),
    "ultralytics/resume": (linear_lf(8, 0.01, True), 5, 0.01, linear_lf(8, 0.01, True)),
    "ultralytics/interrupted": (linear_lf(8, 0.01, True), None, 0.01, linear_lf(8, 0.01, True)),
    "ultralytics/epochs-changed": (linear_lf(6, 0.01, True), 4, 0.01, linear_lf(12, 0.01, True)),
    "ultralytics/epochs-changed-small": (linear_lf(8, 0.01, True), 5, 0.01, linear_lf(10, 0.01, True)),
}


def _table(run_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    return read_results_csv(run_dir / "results.csv")


def _column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(row[name]) for row in rows]


def _close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=1e-4, abs_tol=1e-9)  # YOLOv5 logs 5 digits


def _weight_column(framework: str) -> str:
    return "x/lr1" if framework == "yolov5" else "lr/pg0"  # 8.4.190: pg0 weight, pg1 bn, pg2 bias


def _bias_column(framework: str) -> str:
    return "x/lr0" if framework == "yolov5" else "lr/pg2"


def _planned(framework: str, epoch: int, lf: Callable[[float], float], warmup_start: float = 0.0) -> float:
    sizes = V5 if framework == "yolov5" else UL
    return planned_lr(framework, epoch, lr0=0.01, lf=lf, warmup_start=warmup_start, **sizes)


def _logged_model(name: str, epoch: int, session_row: bool) -> float:
    """The LR the trainer should log for a row, following the mechanism of the scenario."""
    framework = SCENARIOS[name].framework
    before, start, lr0_after, after = SCHEDULES[name]
    if start is None or not session_row or epoch < start:
        return _planned(framework, epoch, before)
    if framework == "yolov5":
        return _planned(framework, epoch, before) if epoch == start else lr0_after * after(epoch - 1)
    return lr0_after * after(epoch - 1)


# ------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("name", ALL)
def test_scenario_json_matches_the_catalogue(real_runs: Mapping[str, Path], name: str) -> None:
    info = SCENARIOS[name]
    meta = load_scenario_json(real_runs[name])
    assert meta["name"] == name
    assert meta["framework"] == info.framework
    assert [entry["cause"] for entry in meta["expected"]] == [cause for cause, _ in info.expected]
    for (_, epoch), entry in zip(info.expected, meta["expected"], strict=True):
        if epoch is not None:
            assert entry["epoch"] == epoch
        assert meta["epoch_column"][entry["row"]] == entry["epoch"]
    versions = meta["versions"]
    assert versions.get("yolov5", "7.0.14") == "7.0.14"
    assert versions.get("ultralytics", "8.4.190") == "8.4.190"
    if info.original_subdir:
        assert (real_runs[name] / meta["original_run_dir"] / "results.csv").is_file()


@pytest.mark.parametrize("name", ALL)
def test_rows_epoch_and_lr_columns(real_runs: Mapping[str, Path], name: str) -> None:
    framework = SCENARIOS[name].framework
    header, rows = _table(real_runs[name])
    epochs = [int(row["epoch"]) for row in rows]
    if name == "ultralytics/time-budget":
        assert epochs == list(range(1, len(rows) + 1)) and len(rows) >= 3
    else:
        assert epochs == EPOCHS[name]
    expected_lr = ["x/lr0", "x/lr1", "x/lr2"] if framework == "yolov5" else ["lr/pg0", "lr/pg1", "lr/pg2"]
    assert lr_columns(header) == expected_lr
    for column in expected_lr:
        assert all(math.isfinite(v) and v > 0 for v in _column(rows, column))
    assert ("time" in header) == (framework == "ultralytics")
    assert load_scenario_json(real_runs[name])["epoch_column"] == epochs


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_logged_lr_follows_the_mechanism(real_runs: Mapping[str, Path], name: str) -> None:
    framework = SCENARIOS[name].framework
    _, rows = _table(real_runs[name])
    logged = _column(rows, _weight_column(framework))
    model = [_logged_model(name, int(row["epoch"]), True) for row in rows]
    assert all(_close(a, m) for a, m in zip(logged, model, strict=True)), list(zip(logged, model, strict=True))
    bias = _column(rows, _bias_column(framework))
    before = SCHEDULES[name][0]
    for row, value in zip(rows[:3], bias[:3], strict=True):  # warmup rows: bias falls from 0.1
        assert _close(value, _planned(framework, int(row["epoch"]), before, warmup_start=0.1))


@pytest.mark.parametrize(
    "name", [n for n in sorted(SCHEDULES) if SCENARIOS[n].expected], ids=lambda n: n.replace("/", "-")
)
def test_expected_epoch_is_the_first_upward_departure(real_runs: Mapping[str, Path], name: str) -> None:
    framework = SCENARIOS[name].framework
    ((cause, epoch),) = SCENARIOS[name].expected
    _, rows = _table(real_runs[name])
    before = SCHEDULES[name][0]
    logged = _column(rows, _weight_column(framework))
    planned = [_planned(framework, int(row["epoch"]), before) for row in rows]
    first_up = next(i for i, (a, p) in enumerate(zip(logged, planned, strict=True)) if a > p * (1 + 1e-3))
    assert int(rows[first_up]["epoch"]) == epoch, cause


def test_older_checkpoint_rewinds_to_logged_values(real_runs: Mapping[str, Path]) -> None:
    _, rows = _table(real_runs["yolov5/older-checkpoint"])
    lr = _column(rows, "x/lr1")
    assert lr[6] > lr[5]  # the rewind row: epoch 4 again, LR of the first epoch 4
    assert lr[6:8] == lr[4:6]
    planned = [_planned("yolov5", int(row["epoch"]), linear_lf(8, 0.01, False)) for row in rows]
    assert all(_close(a, p) for a, p in zip(lr, planned, strict=True))


@pytest.mark.parametrize("name", ["yolov5/appended", "yolov5/continue-from-last", "ultralytics/continue-from-last"])
def test_new_runs_start_with_warmup(real_runs: Mapping[str, Path], name: str) -> None:
    framework = SCENARIOS[name].framework
    meta = load_scenario_json(real_runs[name])
    (entry,) = meta["expected"]
    _, rows = _table(real_runs[name])
    bias = _column(rows, _bias_column(framework))
    row = entry["row"]
    assert row == 0 or bias[row] > 5 * bias[row - 1]  # the bias group restarts near warmup_bias_lr
    epochs = 6 if name == "yolov5/continue-from-last" else 5
    lf = linear_lf(epochs, 0.01, framework == "ultralytics")
    new_run = rows[row:]
    for offset, value in enumerate(_column(new_run, _weight_column(framework))):
        assert _close(value, _planned(framework, int(new_run[offset]["epoch"]), lf))


def _implied_linear_epochs(lr: list[float], lr0: float = 0.01, lrf: float = 0.01) -> list[float]:
    """Per Ultralytics row k (1-based), the E of ``lr0 * lf_E(k - 1)`` that gives its logged LR (row 1: nan)."""
    out = [math.nan]
    for x, value in enumerate(lr[1:], start=1):
        remaining = 1 - (value / lr0 - lrf) / (1 - lrf)
        out.append(x / remaining if remaining > 0 else math.inf)
    return out


def test_time_budget_reestimates_upward_after_the_slow_epoch(real_runs: Mapping[str, Path]) -> None:
    """The signature of ``time=``: E = ceil(budget / mean epoch time), re-planned after every epoch.

    Epoch 1 was slowed by a sleep; once the fast epoch 2 lowers the mean epoch time, the total
    grows, so row 3 logs an LR above the schedule planned after epoch 1. How many epochs fitted
    depends on the machine and is not checked.
    """
    run = real_runs["ultralytics/time-budget"]
    meta = load_scenario_json(run)
    budget = meta["time_budget"]
    args = yaml.safe_load((run / "args.yaml").read_text(encoding="utf-8"))
    assert args["time"] == pytest.approx(budget["time_hours"])
    _, rows = _table(run)
    elapsed = _column(rows, "time")  # seconds since the start of training, logged before the re-plan
    assert elapsed[0] >= budget["slow_epoch_sleep_seconds"]  # the sleep is inside epoch 1's time
    implied = _implied_linear_epochs(_column(rows, "lr/pg0"))
    seconds = budget["time_hours"] * 3600
    for k in (1, 2):  # row k + 1 follows the plan made after epoch k: ceil(seconds / (elapsed_k / k))
        estimate = seconds * k / elapsed[k - 1]  # an upper bound: the trainer reads its clock a bit later
        assert math.ceil(estimate) - 1 <= round(implied[k]) <= math.ceil(estimate), (k, implied[k], estimate)
    assert round(implied[2]) > round(implied[1])  # re-estimated upward after the fast epoch 2
    lr = _column(rows, "lr/pg0")
    steps_up = [i for i in range(2, len(lr)) if lr[i] > lr[i - 1] * (1 + 1e-4)]
    (entry,) = meta["expected"]
    assert entry["cause"] == "time-budget-reestimation"
    assert entry["row"] == (steps_up[0] if steps_up else 2)  # the first LR step up, else the growth at row 3
    assert entry["epoch"] == int(rows[entry["row"]]["epoch"])


def test_diverging_runs_blow_up(real_runs: Mapping[str, Path]) -> None:
    _, rows = _table(real_runs["yolov5/diverging"])
    (entry,) = load_scenario_json(real_runs["yolov5/diverging"])["expected"]
    train = [c for c in rows[0] if c.startswith("train/")]
    assert all(math.isfinite(float(rows[0][c])) for c in train)
    assert all(not math.isfinite(float(rows[entry["row"]][c])) for c in train)
    assert all(math.isfinite(float(rows[entry["row"] - 1][c])) for c in train)
    _, rows = _table(real_runs["ultralytics/diverging"])
    (entry,) = load_scenario_json(real_runs["ultralytics/diverging"])["expected"]
    k = entry["row"]
    losses = [c for c in rows[0] if c.startswith("train/")]
    assert any(float(rows[k][c]) > 10 * float(rows[k - 1][c]) for c in losses)


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith("yolov5/")])
def test_yolov5_config_files(real_runs: Mapping[str, Path], name: str) -> None:
    run = real_runs[name]
    opt = yaml.safe_load((run / "opt.yaml").read_text(encoding="utf-8"))
    hyp = yaml.safe_load((run / "hyp.yaml").read_text(encoding="utf-8"))
    assert opt["hyp"]["lr0"] == hyp["lr0"]
    resumed = {
        "yolov5/resume",
        "yolov5/epochs-changed",
        "yolov5/epochs-changed-small",
        "yolov5/finetune-linear",
        "yolov5/finetune-cosine",
    }
    resumed |= {"yolov5/older-checkpoint", "yolov5/lr0-edited"}
    assert bool(opt["resume"]) == (name in resumed)
    events = sorted(run.glob("events.out.tfevents.*"))
    assert len(events) == (2 if name in resumed or name == "yolov5/appended" else 1)
    edited = {
        "yolov5/epochs-changed": ("epochs", 20),
        "yolov5/epochs-changed-small": ("epochs", 12),
        "yolov5/finetune-linear": ("epochs", 6),
        "yolov5/finetune-cosine": ("epochs", 5),
    }
    if name in edited:
        key, value = edited[name]
        assert opt[key] == value
    assert opt["cos_lr"] == (name == "yolov5/finetune-cosine")
    if name == "yolov5/lr0-edited":
        assert opt["hyp"]["lr0"] == 0.02
    if name == "yolov5/older-checkpoint":
        assert Path(opt["weights"]).name == "epoch3.pt"
    if name == "yolov5/continue-from-last":
        original = (run / load_scenario_json(run)["original_run_dir"]).resolve()
        assert Path(opt["weights"]).resolve() == original / "weights" / "last.pt"
        assert yaml.safe_load((original / "opt.yaml").read_text(encoding="utf-8"))["resume"] is False


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith("ultralytics/")])
def test_ultralytics_config_files(real_runs: Mapping[str, Path], name: str) -> None:
    run = real_runs[name]
    args = yaml.safe_load((run / "args.yaml").read_text(encoding="utf-8"))
    assert args["optimizer"] == "SGD"
    resumed = {"ultralytics/resume", "ultralytics/epochs-changed", "ultralytics/epochs-changed-small"}
    assert bool(args["resume"]) == (name in resumed)
    if name == "ultralytics/epochs-changed":
        assert args["epochs"] == 12  # 8.4.190 rewrites args.yaml from the (edited) checkpoint args
    if name == "ultralytics/epochs-changed-small":
        assert args["epochs"] == 10
    if name == "ultralytics/continue-from-last":
        original = (run / load_scenario_json(run)["original_run_dir"]).resolve()
        assert Path(args["model"]).resolve() == original / "weights" / "last.pt"
    if name in resumed:
        _, rows = _table(run)
        time = _column(rows, "time")
        start = load_scenario_json(run)["interrupt_after_epoch"]  # rows 0..start-1 came first
        assert time[start] < time[start - 1]  # the time column restarts in the resumed session


def _stripped(path: Path) -> bool:
    ckpt = peek_checkpoint(path)
    return ckpt["epoch"] == -1 and ckpt["optimizer"] is None


@pytest.mark.parametrize("name", ALL)
def test_checkpoints(real_runs: Mapping[str, Path], name: str) -> None:
    run = real_runs[name]
    weights = run / "weights"
    assert (weights / "last.pt").is_file()
    facts = load_scenario_json(run)["checkpoints"]
    if name.endswith("/interrupted"):
        ckpt = peek_checkpoint(weights / "last.pt")
        framework = SCENARIOS[name].framework
        epoch = 4 if framework == "yolov5" else 3  # the 0-based index of the last finished epoch
        assert ckpt["epoch"] == epoch and ckpt["optimizer"] is not None
        groups = ckpt["optimizer"]["param_groups"]
        # YOLOv5 saves after the end-of-epoch step: lr0 * lf(epoch); Ultralytics saves lr0 * lf(epoch).
        lf = linear_lf(10, 0.01, False) if framework == "yolov5" else linear_lf(8, 0.01, True)
        assert all(_close(group["lr"], 0.01 * lf(epoch)) for group in groups)
        if framework == "ultralytics":
            assert [group["param_group"] for group in groups] == ["weight", "bn", "bias"]
    elif name == "ultralytics/diverging" and "crash" in load_scenario_json(run):
        pass  # a crashed run keeps an unstripped last.pt
    else:
        assert _stripped(weights / "last.pt")
        assert facts["weights/last.pt"] == {"epoch": -1, "has_optimizer": False}
    if name == "yolov5/older-checkpoint":
        for epoch in range(8):
            ckpt = peek_checkpoint(weights / f"epoch{epoch}.pt")
            assert ckpt["epoch"] == epoch and ckpt["optimizer"] is not None
    meta = load_scenario_json(run)
    if meta.get("original_run_dir"):
        assert _stripped((run / meta["original_run_dir"] / "weights" / "last.pt").resolve())


@pytest.mark.parametrize("name", ALL)
def test_scenarios_stayed_offline(real_runs: Mapping[str, Path], realruns_cache: Path, name: str) -> None:
    root = real_runs[name].parents[1]
    assert load_scenario_json(real_runs[name])["network_guard"] is True
    assert not (root / "network.log").exists(), (root / "network.log").read_text(encoding="utf-8")
    log = (root / "log.txt").read_text(encoding="utf-8", errors="replace")
    assert "lrguard network guard" not in log
    assert (realruns_cache / "offline" / "ultralytics" / "Ultralytics" / "settings.json").is_file()
