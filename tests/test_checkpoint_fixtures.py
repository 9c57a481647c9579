"""The torch-free inspector on small real checkpoints committed under tests/fixtures/ckpt/.

The files were written by real ``torch.save`` (``scripts/make_ckpt_fixtures.py``); these tests need no
torch and check what ``ckpt show`` / ``ckpt scan`` read from each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lrguard.checkpoint.inspect import inspect_path
from lrguard.checkpoint.scan import scan_path
from lrguard.cli.main import main
from lrguard.errors import InputError

FIX = Path(__file__).resolve().parent / "fixtures" / "ckpt"


@pytest.mark.parametrize(
    "name, fmt, framework, epoch, stripped, optimizer, groups",
    [
        ("yolov5_last.pt", "torch-zip", "yolov5", 4, False, True, 2),
        ("yolov5_stripped.pt", "torch-zip", "yolov5", -1, True, False, 0),
        ("ultralytics_last.pt", "torch-zip", "ultralytics", 2, False, True, 2),
        ("lightning.ckpt", "torch-zip", "lightning", 1, False, True, 1),
        ("plain_state_dict.pt", "torch-zip", "plain", None, False, False, 0),
        ("fp16_state_dict.pt", "torch-zip", "plain", None, False, False, 0),
        ("legacy_format.pt", "torch-legacy", "plain", 3, False, False, 0),
        ("hf-checkpoint-4", "hf-checkpoint-dir", "hf", 2.0, False, True, 1),
    ],
)
def test_fixture_is_described(name, fmt, framework, epoch, stripped, optimizer, groups):
    rec = inspect_path(FIX / name)
    assert (rec["format"], rec["framework"], rec["epoch"], rec["stripped"]) == (fmt, framework, epoch, stripped)
    assert bool(rec["has"].get("optimizer")) is optimizer
    assert len(rec["param_groups"]) == groups
    assert rec["security"]["verdict"] == "safe"
    assert rec["integrity"]["ok"]


def test_fp16_fixture_holds_float16():
    rec = inspect_path(FIX / "fp16_state_dict.pt")
    assert set(rec["tensors"]["by_dtype"]) == {"float16"}


def test_yolov5_fixture_param_groups():
    groups = inspect_path(FIX / "yolov5_last.pt")["param_groups"]
    assert [g["lr"] for g in groups] == [pytest.approx(0.0098)] * 2
    assert [g["initial_lr"] for g in groups] == [pytest.approx(0.01)] * 2


def test_truncated_fixture_is_one_clear_error(capsys):
    with pytest.raises(InputError, match="truncated or corrupt zip"):
        inspect_path(FIX / "yolov5_truncated.pt")
    assert main(["ckpt", "show", str(FIX / "yolov5_truncated.pt")]) == 2
    assert "yolov5_truncated.pt" in capsys.readouterr().err


def test_every_fixture_scans_safe():
    files = [p for p in sorted(FIX.iterdir()) if p.name != "yolov5_truncated.pt"]
    assert all(scan_path(p).verdict == "safe" for p in files)
    assert main(["ckpt", "scan", *map(str, files)]) == 0


@pytest.mark.parametrize("name, fmt", [("legacy_whole_module.pt", "torch-legacy"), ("torchscript.pt", "torch-zip")])
def test_whole_module_and_torchscript_are_not_false_alarms(name, fmt):
    # legacy torch.save(model) stores its classes as persistent ids; TorchScript's data.pkl builds
    # __torch__ objects: both are instance creation and references, no call
    rec = inspect_path(FIX / name)
    assert rec["format"] == fmt
    assert rec["security"]["verdict"] == "safe"
    assert rec["security"]["findings"] == []
