"""The guard on real Ultralytics 8.4.x trainings: a NaN loss in the first epoch is skipped through add_callback.

Each test trains yolov8n for 3 epochs of 2 batches (16 images of 64 px, batch 8, ``nbs=8``: an
optimizer step every batch) in a subprocess, offline, on CPU. The NaN is the test's own: the training
loss of batch 1 (the last batch of epoch 1) is multiplied by NaN by a patch of ``BaseModel.loss`` in
the child process (:mod:`_guard_yolo`); Ultralytics itself is unmodified.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _needs import needs

torch = needs("torch")
needs("ultralytics")

import _guard_yolo
from lrguard.guard.config import GuardConfig
from lrguard.guard.events import read_events

pytestmark = pytest.mark.trainers
NAN_BATCH = 1


def test_without_the_guard_one_nan_batch_in_epoch_1_ends_the_run(tmp_path, realruns_cache):
    """8.4.190 cannot recover in the first epoch; from epoch 2 on it reloads last.pt, whose EMA was saved
    through nan_to_num but whose optimizer state (momentum) is NaN, so the NaN comes back every time."""
    result, output = _guard_yolo.run_child("ultralytics", tmp_path, realruns_cache, NAN_BATCH, "none")
    assert result["outcome"] == "raised RuntimeError: Training failed: NaN persisted for 4 epochs"
    assert "can not recover from last.pt" in output and "attempt 3/3" in output
    assert result["model"] == {"params": False, "buffers": False}
    assert len(result["rows"]) == 1 and math.isnan(float(result["rows"][0]["val/box_loss"]))
    # last.pt of epoch 1: the EMA "finite" because it was saved through nan_to_num (nearly all zeros),
    # the optimizer momentum NaN: each reload brings the NaN back
    saved = result["saved"]
    assert saved["ema_finite"] is True and saved["ema_zero_fraction"] > 0.9 and saved["optimizer_finite"] is False


def test_the_callback_adapter_skips_the_nan_step(tmp_path, realruns_cache):
    result, output = _guard_yolo.run_child("ultralytics", tmp_path, realruns_cache, NAN_BATCH, "adapter")
    assert result["outcome"] == "finished" and result["poisoned_batches"] == [NAN_BATCH]
    assert result["model"] == {"params": True, "buffers": True} and result["saved_ema_finite"] is True
    assert result["optimizer_steps"] == 6 and len(result["rows"]) == 3
    assert result["ema_updates"] == 5  # the skipped step's EMA update did not run (the CPU path)
    assert all(math.isfinite(float(v)) for row in result["rows"] for k, v in row.items() if "/" in k)
    skips = [e for e in read_events(tmp_path / "events.jsonl") if e["action"] == "skip"]
    # the epoch as Ultralytics' log and results.csv number it (from 1): batch 1 is in its epoch 1
    assert [(e["step"], e["rank"], e["epoch"]) for e in skips] == [(NAN_BATCH, 0, 1)]
    assert skips[0]["message"].startswith("loss nan")  # trainer.loss is handed to the guard before each step
    good = result["last_good"]  # on by default: the last epoch's full (unstripped) save, verified
    assert good["verifies"] and good["epoch"] == 2 and good["has_optimizer"] and good["manifest"]["step"] == 6
    # Ultralytics still sees the NaN in the last batch's loss value and says so; the weights were kept
    assert "can not recover from last.pt" in output


def test_lrguard_run_injects_the_guard_into_ultralytics(tmp_path, realruns_cache):
    events = tmp_path / "zero-code-events.jsonl"
    result, output = _guard_yolo.run_child(
        "ultralytics", tmp_path, realruns_cache, NAN_BATCH, "env", ["--events", str(events), "--no-last-good"]
    )
    assert "per-step guard injected" in output and result["outcome"] == "finished"
    assert result["model"] == {"params": True, "buffers": True} and result["saved_ema_finite"] is True
    skips = [(e["step"], e["rank"], e["epoch"]) for e in read_events(events) if e["action"] == "skip"]
    assert skips == [(NAN_BATCH, 0, 1)]  # the injection found the trainer on the stack: its epoch too
    assert result["ema_updates"] == 5  # the injection routed Ultralytics' ModelEMA through the guard too
    assert result["last_good"] is None and result["last_good_epochs"] == [None] * 3  # --no-last-good


@pytest.mark.parametrize("read_cpu_flag", [True, False], ids=["cpu-read", "device-path"])
def test_the_ultralytics_ema_is_bit_identical_across_a_skipped_step(read_cpu_flag):
    """Ultralytics' own ModelEMA (torch._foreach_lerp_ after every step), wrapped on the instance: no move on a skip."""
    from ultralytics.utils.torch_utils import ModelEMA

    from lrguard.guard.hooks_adapter import attach

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    ema = ModelEMA(model)
    hooks = attach(opt, config=GuardConfig(check_every=4), console=None, ema=ema, read_cpu_flag=read_cpu_flag)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    before = {}
    for step in range(10):
        xb = x.clone()
        if step == 5:
            xb[0, 0] = float("nan")
        torch.nn.functional.mse_loss(model(xb), y).backward()
        before[step] = (copy.deepcopy(ema.ema.state_dict()), ema.updates)
        opt.step()
        opt.zero_grad()
        ema.update(model)
        if step == 5:
            for k, v in ema.ema.state_dict().items():
                assert torch.equal(v, before[5][0][k]), k
    hooks.close()
    assert hooks.skipped_steps == [5]
    assert ema.updates == 9  # the skipped step's update was taken back at the host read
    assert all(torch.isfinite(v).all() for v in ema.ema.state_dict().values())


def test_a_resumed_run_numbers_global_steps_and_epochs_and_keeps_a_verified_last_good(tmp_path, realruns_cache):
    """4 epochs of 4 batches with ``nbs=16`` (accumulate ramps 1 -> 2: an optimizer step is not a batch),
    interrupted after epoch 1, resumed with ``resume=True``; a NaN in the first batch of epochs 1 and 3; the
    resumed session's last.pt torn right after its epoch-2 save."""
    common = ["--nbs", "16"]
    first, _ = _guard_yolo.run_child(
        "ultralytics",
        tmp_path,
        realruns_cache,
        4,
        "adapter",
        extra=[*common, "--epochs", "4", "--stop-after-epoch", "1"],
        n_train=32,
    )
    assert first["outcome"].startswith("raised KeyboardInterrupt")
    steps = first["optimizer_steps"]
    assert steps < 8  # 8 batches, fewer optimizer steps
    assert first["last_good_epochs"] == [0, 1]
    assert first["last_good"]["manifest"] == {"epoch": 1, "step": steps, "source": "last.pt", "verified": True}
    second, output = _guard_yolo.run_child(
        "ultralytics",
        tmp_path,
        realruns_cache,
        4,
        "adapter",
        extra=[*common, "--resume", "--truncate-epoch", "2"],
        n_train=32,
    )
    assert second["outcome"] == "finished" and "Resuming training" in output
    assert second["updates_at_start"] == steps - 1  # the trainer's count: the skipped step's EMA update never ran
    assert second["last_good_epochs"] == [1, 3]  # the torn epoch-2 last.pt was not published
    good = second["last_good"]
    assert good["verifies"] and good["epoch"] == 3 and good["has_optimizer"], good
    events = read_events(tmp_path / "events.jsonl")
    skips = [(e["step"], e["epoch"]) for e in events if e["action"] == "skip"]
    # epochs as Ultralytics' log and results.csv number them (from 1): the NaNs were in its epochs 2 and 4
    assert skips == [(first["steps_before_poison"][0], 2), (steps + second["steps_before_poison"][0], 4)]
    refused = [e for e in events if e["signal"] == "checkpoint"]
    assert [(e["action"], e["epoch"]) for e in refused] == [("warn", 3)]
    # lrguard diagnose puts every event on the results.csv row of its epoch
    run_dir = Path(second["run_dir"])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lrguard",
            "diagnose",
            "--json",
            str(run_dir),
            "--events",
            str(tmp_path / "events.jsonl"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(_guard_yolo.__file__).resolve().parents[1] / "src")},
        timeout=300,
    )
    placed = json.loads(proc.stdout)["guard"]["events"]
    csv_epochs = [int(float(r["epoch"])) for r in second["rows"]]  # results.csv's data rows start at line 2
    assert [csv_epochs[ev["row_line"] - 2] for ev in placed] == [ev["epoch"] for ev in placed] == [2, 3, 4]
    # the first session's NaN batch was the first of a 2-batch step: trainer.loss (the step's last batch) was
    # finite there and the gradient norm showed it; the resumed session's stepped alone (the cadence restarts)
    assert [e["message"].split(":")[0] for e in events if e["action"] == "skip"] == [
        "grad norm nan",
        "loss nan, grad norm nan",
    ]


def test_a_persistent_loss_spike_rolls_back_model_ema_and_optimizer_and_skips_its_batches(tmp_path, realruns_cache):
    """4 epochs of 4 batches (an optimizer step per batch); the test multiplies the loss of batches 9-11 by
    1000 (epoch 2). The trainer clips the gradient norm to 10, so the loss, read from ``trainer.loss``,
    is what shows the spike. Snapshots every 4 steps, 2 spikes make a rollback."""
    result, output = _guard_yolo.run_child(
        "ultralytics",
        tmp_path,
        realruns_cache,
        -1,
        "adapter",
        extra=["--epochs", "4", "--rollback", "--spike-batches", "9,10,11"],
        n_train=32,
    )
    assert result["outcome"] == "finished" and result["model"] == {"params": True, "buffers": True}
    events = read_events(tmp_path / "events.jsonl")
    assert [(e["signal"], e["action"], e["step"], e["epoch"]) for e in events] == [
        ("loss-spike", "log", 9, 3),  # spike 1 of 2, in results.csv's epoch 3 (trainer.epoch 2)
        ("loss-spike", "rollback", 10, 3),
        ("checkpoint", "log", 12, 3),  # that epoch's last.pt holds the spiked steps: not published
        ("rollback", "restore", 12, 4),
    ], events
    assert "steps 8-11 undone, data batches 8-11 skipped" in events[-1]["message"]
    digests = result["digests"]  # per batch start, after the guard: (model + EMA + optimizer state, EMA updates, epoch)
    # at batch 12 (epoch 3's first) the state is bit-identical to the last-good one of step 8 (batch 8)
    assert digests[12][:2] == digests[8][:2] and digests[12][2] == 3  # trainer.epoch 3
    assert len({d[0] for d in digests}) == 15  # every other batch start saw a new state
    assert result["last_good_epochs"] == [0, 1, 1, 3]
    assert "rollback -> restore" in output
