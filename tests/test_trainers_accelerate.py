"""The Accelerate plug-in on the committed real two-process examples (torch-free)."""

from __future__ import annotations

from pathlib import Path

from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.trainers import get_trainer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "accelerate"


def test_save_state_dirs_are_read():
    run = read_run(EXAMPLES / "resume")
    assert run.framework == "accelerate"
    assert [c.path.name for c in run.checkpoints] == ["checkpoint_0", "checkpoint_1"]
    assert [c.step for c in run.checkpoints] == [20, 40]
    assert run.config["num_processes"] == 2
    assert run.checkpoints[-1].train_args["scheduler"]["T_max"] == 80
    assert [e.kind.value for e in run.evidence] == ["new-event-file"]


def test_seamless_resume_is_clean():
    d = diagnose(read_run(EXAMPLES / "resume"))
    assert [f for f in d.findings if f.severity.rank >= 1] == []
    assert [s.start for s in d.sessions] == ["start", "resume"]


def test_stepped_per_process():
    d = diagnose(read_run(EXAMPLES / "stepped-per-process"))
    warn = [f for f in d.findings if f.severity.rank >= 1]
    assert [f.cause.value for f in warn] == ["scheduler-stepped-per-process"]
    assert warn[0].data["step"] == 21 and warn[0].data["ratio"] == 2
    assert any("2 scheduler steps per optimizer step" in e for e in warn[0].evidence)
    assert "step_scheduler_with_optimizer" in (warn[0].fix or "")


def test_a_torch_dir_is_not_accelerate(tmp_path):
    (tmp_path / "events.out.tfevents.1.host").write_bytes(b"")
    assert get_trainer("torch").recognises(tmp_path)
    assert not get_trainer("accelerate").recognises(tmp_path)
    (tmp_path / "checkpoint_3").mkdir()
    (tmp_path / "checkpoint_3" / "scheduler.bin").write_bytes(b"")
    assert get_trainer("accelerate").recognises(tmp_path)
