"""The plain-PyTorch plug-in on the committed real examples (torch-free: nothing here imports torch)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.readers.tbtags import grad_norm_tag, loss_tag, lr_tags

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "torch"
ENV = {"PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), "PATH": "/usr/bin:/bin"}


def test_lr_tags_by_name():
    tags = ["lr", "learning_rate", "train/lr", "lr/pg0", "lr-SGD", "lr-SGD/pg1", "loss", "clr", "flr"]
    assert lr_tags(tags) == ["lr", "learning_rate", "train/lr", "lr/pg0", "lr-SGD", "lr-SGD/pg1"]
    assert loss_tag(["val/loss", "train/loss", "loss_scale_x"]) == "train/loss"
    assert grad_norm_tag(["train/grad_norm", "x"]) == "train/grad_norm"


def test_scheduler_built_after_load_example():
    run = read_run(EXAMPLES / "scheduler-built-after-load")
    assert run.framework == "torch"
    assert [e.kind.value for e in run.evidence] == ["new-event-file"]
    assert {"loss", "grad_norm"} <= set(run.series)
    assert any(c.train_args.get("scheduler", {}).get("last_epoch") == 30 for c in run.checkpoints)
    d = diagnose(run)
    warn = [f for f in d.findings if f.severity.rank >= 1]
    assert [f.cause.value for f in warn] == ["scheduler-built-after-load"]
    assert warn[0].data["step"] == 31
    assert "scheduler.load_state_dict" in (warn[0].fix or "")
    assert any("inferred from the logged LR" in n for n in d.notes)


def test_diagnose_never_imports_torch():
    code = (
        "import sys; from lrguard.diagnosis import diagnose; from lrguard.readers import read_run; "
        f"diagnose(read_run({str(EXAMPLES / 'scheduler-built-after-load')!r})); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=ENV)
    assert out.stdout.strip() == "False"


def test_past_end_example_is_not_called_per_process():
    d = diagnose(read_run(EXAMPLES / "past-end-cosine"))
    warn = [f for f in d.findings if f.severity.rank >= 1]
    assert [f.cause.value for f in warn] == ["schedule-past-end"]
    assert warn[0].data["step"] == 41
    assert "planned: CosineAnnealingLR rebuilt from last.pt's scheduler state" in d.notes


def test_yolo_dirs_are_not_claimed(tmp_path):
    from lrguard.trainers import get_trainer

    (tmp_path / "events.out.tfevents.1.host").write_bytes(b"")
    (tmp_path / "opt.yaml").write_text("epochs: 3\n")  # YOLOv5 writes it before results.csv
    assert not get_trainer("torch").recognises(tmp_path)
    (tmp_path / "results.csv").write_text("epoch\n")
    assert not get_trainer("torch").recognises(tmp_path)
    assert not get_trainer("accelerate").recognises(tmp_path)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint((num << 3) | 2) + _varint(len(payload)) + payload


def _event(wall: float, step: int, scalars: dict[str, float]) -> bytes:
    """A tensorflow ``Event`` with ``Summary.value`` entries ``{tag, simple_value}``, TFRecord framed."""
    import struct

    values = b"".join(
        _field(1, _field(1, tag.encode()) + _varint((2 << 3) | 5) + struct.pack("<f", v)) for tag, v in scalars.items()
    )
    msg = _varint((1 << 3) | 1) + struct.pack("<d", wall) + _varint(2 << 3) + _varint(step) + _field(5, values)
    return struct.pack("<Q", len(msg)) + b"\0\0\0\0" + msg + b"\0\0\0\0"


def test_groups_sessions_and_steps_back_from_synthetic_event_files(tmp_path):
    """Written here byte by byte (not by a trainer): two LR tags, a second file, a step going back in it."""
    first = b"".join(_event(1e9 + s, s, {"lr/pg0": 0.1, "lr/pg1": 0.01, "train/loss": 1.0 / s}) for s in range(1, 6))
    second = b"".join(_event(2e9 + s, s, {"lr/pg0": 0.1, "lr/pg1": 0.01, "train/loss": 0.5}) for s in (6, 7, 4, 5))
    (tmp_path / "events.out.tfevents.1.host.1.0").write_bytes(first)
    (tmp_path / "events.out.tfevents.2.host.2.0").write_bytes(second)
    run = read_run(tmp_path)
    assert run.framework == "torch"
    assert run.lr_columns == ["lr/pg0", "lr/pg1"] and run.lr.shape == (9, 2)
    assert abs(run.lr[0, 1] - 0.01) < 1e-8
    assert [e.row for e in run.evidence] == [5]
    assert any("step went back" in n for n in run.notes)
    d = diagnose(run)
    assert [s.start for s in d.sessions] == ["start", "resume", "rewind"]
    assert any("constant" in n for n in d.notes)
