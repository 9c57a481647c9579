"""lrguard ckpt against checkpoints written by the real YOLOv5 7.0.14 and Ultralytics 8.4.190 trainers."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from lrguard.checkpoint import load, read_facts
from lrguard.checkpoint.inspect import inspect_path, last_good
from lrguard.cli.main import main


def lf(x, epochs, lrf, cos, clamp):
    """The YOLO ``lf(x)`` written out independently of lrguard's maths, as the trainers define it."""
    if cos:
        return ((1 - math.cos(x * math.pi / epochs)) / 2) * (lrf - 1) + 1
    lin = 1 - x / epochs
    return (max(lin, 0.0) if clamp else lin) * (1.0 - lrf) + lrf


pytest.importorskip("ultralytics")
pytest.importorskip("yolov5")

from _ckpt_real import real_checkpoints

pytestmark = pytest.mark.trainers


@pytest.fixture(scope="session")
def real(tmp_path_factory):
    return real_checkpoints(tmp_path_factory.mktemp("real_ckpt"))


def test_yolov5_interrupted_last_full_state_and_lf_relation(real):
    f = read_facts(real["v5_interrupted_last"])
    assert f.epoch == 1 and f.has_optimizer and not f.stripped
    assert f.train_args["epochs"] == 3 and f.updates and f.updates > 0
    # YOLOv5 stores lr = initial_lr * lf(epoch) in every group
    # (scheduler stepped at epoch end, last_epoch starting at -1)
    for lr, init in zip(f.lrs, f.initial_lrs, strict=True):
        assert lr == pytest.approx(init * lf(1, 3, 0.01, False, False), rel=1e-9)
    rec = inspect_path(real["v5_interrupted_last"], check_data=True)
    assert rec["framework"] == "yolov5" and rec["resume"]["verdict"] == "seamless"
    assert rec["integrity"]["ok"] and rec["security"]["verdict"] == "safe"
    assert rec["missing"] == []


def test_yolov5_epoch_files_and_stripped(real):
    assert read_facts(real["v5_epoch0"]).epoch == 0
    assert read_facts(real["v5_epoch0"]).lrs[0] == pytest.approx(0.01)
    for key in ("v5_finished_last", "v5_finished_best"):
        rec = inspect_path(real[key])
        assert rec["stripped"] and rec["epoch"] == -1
        assert rec["resume"]["verdict"] == "refuse"
        assert "nothing to resume" in rec["resume"]["summary"]
        assert set(rec["model"]["by_dtype"]) >= {"float16"}


def test_ultralytics_facts_tags_and_warmup_lr(real):
    f = read_facts(real["ul_interrupted_last"])
    assert f.version == "8.4.190" and f.epoch == 1 and f.has_optimizer
    assert f.group_tags == ("weight", "bn", "bias")
    # train_results is the results.csv snapshot; its last lr row equals the stored lr of every group
    tr = f.train_results
    assert tr is not None and tr["epoch"][-1] == 2
    for j, lr in enumerate(f.lrs):
        assert tr[f"lr/pg{j}"][-1] == pytest.approx(lr, rel=1e-5)
    rec = inspect_path(real["ul_interrupted_last"])
    assert rec["framework"] == "ultralytics" and rec["framework_version"] == "8.4.190"
    assert rec["resume"]["verdict"] == "seamless"
    assert rec["has"]["scaler"] and rec["amp"] is False


def test_ultralytics_stripped(real):
    rec = inspect_path(real["ul_finished_best"])
    assert rec["stripped"] and rec["resume"]["verdict"] == "refuse"
    assert read_facts(real["ul_finished_best"]).train_results is not None


def test_cli_show_and_json_on_real_files(real, capsys):
    assert main(["ckpt", "show", str(real["v5_interrupted_last"])]) == 0
    out = capsys.readouterr().out
    assert "SEAMLESS" in out and "lr/initial" in out
    assert main(["ckpt", "show", "--json", str(real["v5_finished_last"])]) == 1
    rec = json.loads(capsys.readouterr().out)
    assert {
        "path",
        "format",
        "framework",
        "framework_version",
        "epoch",
        "stripped",
        "has",
        "param_groups",
        "resume",
        "integrity",
        "security",
    } <= set(rec)
    assert rec["stripped"] is True


def test_edited_opt_yaml_predicts_jump(real, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(real["v5_interrupted_last"].parent.parent, run)
    opt = run / "opt.yaml"
    opt.write_text(opt.read_text().replace("epochs: 3", "epochs: 10"))
    rec = inspect_path(run / "weights" / "last.pt")
    assert rec["resume"]["verdict"] == "jump"
    assert "opt.yaml" in rec["resume"]["summary"] and rec["resume"]["jump"]["epoch"] == 3


def test_corrupted_copies(real, tmp_path):
    src = real["v5_interrupted_last"]
    data = src.read_bytes()
    weights = tmp_path / "run" / "weights"
    weights.mkdir(parents=True)
    (weights / "epoch0.pt").write_bytes(real["v5_epoch0"].read_bytes())
    flipped = bytearray(data)
    loaded = load(src)
    off = loaded.storage_offsets[next(iter(loaded.storage_offsets))] + 200
    flipped[off] ^= 0x55
    (weights / "last.pt").write_bytes(bytes(flipped))
    rec = inspect_path(weights / "last.pt", check_data=True)
    assert not rec["integrity"]["ok"] and any("CRC" in p for p in rec["integrity"]["problems"])
    (weights / "trunc.pt").write_bytes(data[: len(data) - 5000])
    chosen, _results = last_good(weights.parent)
    assert chosen is not None and chosen["path"].endswith("epoch0.pt")
    assert main(["ckpt", "last-good", str(weights.parent)]) == 0


def test_yolov5_edited_opt_yaml_jump_matches_real_resume(real):
    # lrguard predicts from the file before --resume ...
    rec = inspect_path(real["v5_edited_pre_resume"])
    jump = rec["resume"]["jump"]
    assert rec["resume"]["verdict"] == "jump" and jump["epoch"] == 3
    assert jump["lr_before"] == pytest.approx(0.01 * lf(2, 3, 0.01, False, False))
    # ... and the real YOLOv5 --resume (opt.yaml epochs 3 -> 5) stored exactly that lr after epoch 2,
    # which is the lr epoch 3 trains at.
    after = read_facts(real["v5_edited_resumed_last"])
    assert after.epoch == 2 and after.train_args["epochs"] == 5
    assert all(lr == pytest.approx(jump["lr_after"], rel=1e-9) for lr in after.lrs)


def test_ultralytics_post_warmup_lr_is_lf_of_epoch(real):
    # Ultralytics 8.4.190 steps the scheduler at epoch start: after warmup the stored lr is lf(epoch)
    f = read_facts(real["ul_nowarm_last"])
    assert f.epoch == 1 and f.train_args["epochs"] == 4
    for lr, init in zip(f.lrs, f.initial_lrs, strict=True):
        assert lr == pytest.approx(init * lf(1, 4, 0.01, False, True), rel=1e-9)
    rec = inspect_path(real["ul_nowarm_last"])
    assert rec["resume"]["verdict"] == "seamless", rec["resume"]
    assert rec["resume"]["schedule"]["in_warmup"] is False
