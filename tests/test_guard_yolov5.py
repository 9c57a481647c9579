"""The guard on real YOLOv5 7.0.x trainings: a NaN loss mid-run is skipped, through the callbacks or zero-code.

Each test trains yolov5n for 3 epochs of 2 batches (16 images of 64 px, batch 8: an optimizer step
every batch in YOLOv5's warmup) in a subprocess, offline, on CPU. The NaN is the test's own: the
loss of batch 3 (epoch 1, its last batch) is multiplied by NaN by a patch of ``ComputeLoss`` in the
child process (:mod:`_guard_yolo`); YOLOv5 itself is unmodified.
"""

from __future__ import annotations

import copy
import math

import pytest

from _needs import needs

torch = needs("torch")
needs("yolov5")

import _guard_yolo
from lrguard.guard.config import GuardConfig
from lrguard.guard.events import read_events

pytestmark = pytest.mark.trainers
NAN_BATCH = 3


def _skips(path):
    return [(e["step"], e["rank"]) for e in read_events(path) if e["signal"] == "nonfinite" and e["action"] == "skip"]


def _losses(rows, prefix):
    return [[float(v) for k, v in row.items() if k.startswith(prefix)] for row in rows]


def test_without_the_guard_yolov5_finishes_silently_with_nan_weights(tmp_path, realruns_cache):
    result, output = _guard_yolo.run_child("yolov5", tmp_path, realruns_cache, NAN_BATCH, "none")
    assert result["outcome"] == "finished" and result["poisoned_batches"] == [NAN_BATCH]
    assert "lrguard" not in output  # nothing guarded, nothing said: the run exits 0
    assert result["model"] == {"params": False, "buffers": False}
    assert result["saved_ema_finite"] is False
    val = _losses(result["rows"], "val/")
    train = _losses(result["rows"], "train/")
    # epoch 1's logged train losses are finite (the NaN is in the loss, not its logged parts) ...
    assert all(math.isfinite(v) for v in train[0] + train[1]) and all(math.isnan(v) for v in train[2])
    # ... but its validation already runs on NaN EMA weights, and mAP drops to 0
    assert all(math.isfinite(v) for v in val[0]) and all(math.isnan(v) for v in val[1] + val[2])
    assert float(result["rows"][2]["metrics/mAP_0.5"]) == 0.0
    assert result["ema_updates"] == result["optimizer_steps"] == 6


def test_the_callbacks_adapter_skips_the_nan_step(tmp_path, realruns_cache):
    result, output = _guard_yolo.run_child("yolov5", tmp_path, realruns_cache, NAN_BATCH, "adapter")
    assert result["outcome"] == "finished" and result["poisoned_batches"] == [NAN_BATCH]
    assert result["model"] == {"params": True, "buffers": True} and result["saved_ema_finite"] is True
    assert result["optimizer_steps"] == 6
    assert result["ema_updates"] == 5  # the skipped step's EMA update did not run (the CPU path)
    assert all(math.isfinite(v) for row in _losses(result["rows"], "") for v in row)
    assert _skips(tmp_path / "events.jsonl") == [(NAN_BATCH, 0)]
    assert "lrguard guard: step 3: nonfinite -> skip" in output


def test_lrguard_run_injects_the_guard_without_code(tmp_path, realruns_cache):
    events = tmp_path / "zero-code-events.jsonl"
    result, output = _guard_yolo.run_child(
        "yolov5", tmp_path, realruns_cache, NAN_BATCH, "env", ["--events", str(events), "--check-every", "2"]
    )
    assert "per-step guard injected" in output
    assert result["model"] == {"params": True, "buffers": True} and result["saved_ema_finite"] is True
    assert _skips(events) == [(NAN_BATCH, 0)]
    assert result["ema_updates"] == 5  # the injection routed YOLOv5's ModelEMA through the guard too
    assert not (tmp_path / "events.jsonl").exists()  # no adapter in this process: the injection did it


@pytest.mark.parametrize("read_cpu_flag", [True, False], ids=["cpu-read", "device-path"])
def test_the_yolov5_ema_is_bit_identical_across_a_skipped_step(read_cpu_flag):
    """YOLOv5's own ModelEMA, routed through the guard by the class patch the adapter installs."""
    from yolov5.utils.torch_utils import ModelEMA

    from lrguard.guard.hooks_adapter import attach, patch_ema_class

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    ema = ModelEMA(model)
    undo = patch_ema_class(ModelEMA)
    hooks = attach(opt, config=GuardConfig(check_every=3), console=None, read_cpu_flag=read_cpu_flag)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    try:
        for step in range(8):
            loss = torch.nn.functional.mse_loss(model(x), y) * (math.nan if step == 4 else 1.0)
            loss.backward()
            before = copy.deepcopy(ema.ema.state_dict())
            opt.step()
            opt.zero_grad()
            ema.update(model)
            same = all(torch.equal(v, before[k]) for k, v in ema.ema.state_dict().items())
            assert same == (step == 4), step
    finally:
        hooks.close()
        undo()
    assert "_lrguard_original" not in vars(ModelEMA.update)
    assert hooks.skipped_steps == [4] and ema.updates == 7
