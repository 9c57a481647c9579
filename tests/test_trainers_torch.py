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
