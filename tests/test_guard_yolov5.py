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
    assert [e["epoch"] for e in read_events(tmp_path / "events.jsonl")] == [1]  # batch 3: epoch 1's last
    assert "lrguard guard: step 3: nonfinite -> skip" in output
    good = result["last_good"]  # on by default: the last epoch's full (unstripped) save, verified
    assert good["verifies"] and good["epoch"] == 2 and good["has_optimizer"] and good["manifest"]["step"] == 6


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
    assert [e["epoch"] for e in read_events(events)] == [1]  # the injection found YOLOv5's train() too
    # registered at the first step, after the test's own save callback: it sees each publish one save late
    assert result["last_good_epochs"] == [None, 0, 1]
    assert result["last_good"]["verifies"] and result["last_good"]["epoch"] == 2


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


def test_a_resumed_run_numbers_global_steps_and_epochs_and_keeps_a_verified_last_good(tmp_path, realruns_cache):
    """4 epochs of 2 batches, interrupted after epoch 1, resumed with ``--resume``; a NaN in epoch 1 and in
    epoch 3; the resumed session's last.pt torn right after its epoch-2 save (a writer killed mid-save)."""
    first, _ = _guard_yolo.run_child(
        "yolov5", tmp_path, realruns_cache, 2, "adapter", extra=["--epochs", "4", "--stop-after-epoch", "1"]
    )
    assert first["outcome"].startswith("raised KeyboardInterrupt") and first["optimizer_steps"] == 4
    assert first["last_good_epochs"] == [0, 1]  # each save verified and published before the next one
    assert first["last_good"]["manifest"] == {"epoch": 1, "step": 4, "source": "last.pt", "verified": True}
    assert first["last_good"]["updates"] == 3  # the trainer's count leaves the skipped step out
    second, output = _guard_yolo.run_child(
        "yolov5", tmp_path, realruns_cache, 2, "adapter", extra=["--resume", "--truncate-epoch", "2"]
    )
    assert second["outcome"] == "finished" and "Resuming training" in output
    # the torn epoch-2 last.pt was refused: the last-good file stayed at epoch 1 until epoch 3's save
    assert second["last_good_epochs"] == [1, 3]
    good = second["last_good"]
    assert good["verifies"] and good["epoch"] == 3 and good["has_optimizer"], good
    events = read_events(tmp_path / "events.jsonl")
    skips = [(e["step"], e["epoch"]) for e in events if e["action"] == "skip"]
    # global optimizer steps: the first session's 4 (its skip included, from the last-good manifest), then 2 more
    assert (
        skips == [(first["steps_before_poison"][0], 1), (4 + second["steps_before_poison"][0], 3)] == [(2, 1), (6, 3)]
    )
    refused = [e for e in events if e["signal"] == "checkpoint"]
    assert [(e["action"], e["epoch"]) for e in refused] == [("warn", 2)] and "does not verify" in refused[0]["message"]
    # the loss, read from train()'s frame before each step, is in the flag (not only the clipped gradient norm)
    assert all(e["message"].startswith("loss nan") for e in events if e["action"] == "skip")


def test_a_persistent_loss_spike_rolls_back_model_ema_and_optimizer_and_skips_its_batches(tmp_path, realruns_cache):
    """4 epochs of 4 batches; the test multiplies the loss of batches 4 and 5 (epoch 1) by 1000. The loss is
    read from train()'s frame (YOLOv5 clips the gradient norm to 10). Snapshots every 4 steps, 2 spikes
    make a rollback, at the start of batch 6."""
    result, _ = _guard_yolo.run_child(
        "yolov5",
        tmp_path,
        realruns_cache,
        -1,
        "adapter",
        extra=["--epochs", "4", "--rollback", "--spike-batches", "4,5"],
        n_train=32,
    )
    assert result["outcome"] == "finished" and result["model"] == {"params": True, "buffers": True}
    events = read_events(tmp_path / "events.jsonl")
    assert [(e["signal"], e["action"], e["step"], e["epoch"]) for e in events] == [
        ("loss-spike", "log", 4, 1),
        ("loss-spike", "rollback", 5, 1),
        ("rollback", "restore", 6, 1),
    ], events
    assert "steps 4-5 undone, data batches 4-5 skipped" in events[-1]["message"]
    digests = result["digests"]  # per batch start, after the guard: (model + EMA + optimizer state, EMA updates, epoch)
    assert digests[6] == digests[4]  # bit-identical to the last-good state of step 4, EMA update count included
    assert len({d[0] for d in digests}) == 15
    assert result["last_good_epochs"] == [0, 1, 2, 3]  # the rollback was done before epoch 1's save


def test_without_yolov5s_train_on_the_stack_the_adapter_guards_the_first_optimizer_that_steps():
    """A changed train() (or callbacks run from elsewhere): the fallback, without positions or rollback."""
    from yolov5.utils.callbacks import Callbacks
    from yolov5.utils.torch_utils import ModelEMA

    from lrguard.trainers.yolov5.guard_adapter import YOLOv5Guard, train_frame

    assert train_frame() is None
    adapter = YOLOv5Guard(console=None)
    callbacks = adapter.register(Callbacks())
    callbacks.run("on_train_start")
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    (model(torch.ones(2, 3)).sum() * math.nan).backward()
    opt.step()
    try:
        assert adapter.hooks is not None and adapter.hooks.optimizer is opt
        assert adapter.session is not None and adapter.session.hooks is None  # nothing to number steps from
    finally:
        callbacks.run("on_train_end")
    assert adapter.hooks is None
    rollback = YOLOv5Guard(config=GuardConfig(actions={"loss-spike": "rollback"}), console=None)
    with pytest.raises(ValueError, match="rollback needs YOLOv5's train"):
        rollback.register(Callbacks()).run("on_train_start")
    assert "_lrguard_original" not in vars(ModelEMA.update)  # refused before anything was patched
