"""Ultralytics resume commands: what 8.4.190 drops from them, and the continuation that replaces one."""

from __future__ import annotations

from pathlib import Path

from harness.generated import write_generated_run
from lrguard.diagnosis import diagnose
from lrguard.plan.continuation import build_continuation
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers import get_trainer
from lrguard.trainers.ultralytics import profiles
from lrguard.trainers.ultralytics.launch import continuation_argv, ignored_on_resume, resume_save_dir


def test_schedule_options_given_with_resume_are_the_ones_dropped():
    argv = ["yolo", "train", "resume", "model=w/last.pt", "epochs=12", "lr0=0.02", "batch=4", "device=cpu"]
    assert ignored_on_resume(argv) == ["epochs", "lr0"]
    assert ignored_on_resume(["yolo", "train", "resume", "model=w/last.pt", "workers=0", "time=1"]) == []
    note = get_trainer("ultralytics").resume_notes(argv)
    assert len(note) == 1 and "ignores epochs=12 lr0=0.02 on resume" in note[0]
    (note,) = get_trainer("ultralytics").resume_notes(["yolo", "train", "resume", "model=w/last.pt", "time=0.5"])
    assert "time=0.5 is applied on resume" in note and "re-plans the total epochs" in note


def test_save_dir_of_the_train_args():
    assert resume_save_dir({"save_dir": "/runs/exp"}) == Path("/runs/exp")
    assert resume_save_dir({"save_dir": ""}) is None and resume_save_dir({}) is None


def test_continuation_argv_trains_the_recipe_into_a_sibling_run_with_the_machine_options(tmp_path):
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=8, nb=10, warmup_epochs=1)
    run_dir = write_generated_run(
        tmp_path / "runs" / "exp", profiles.V8_4, [SessionPlan(0, 4, spec)], config={"data": "d.yaml"}
    )
    cont = build_continuation(diagnose(read_run(run_dir)), 8)  # from RUN/weights/last.pt (not read here)
    weights = run_dir / "weights" / "last.pt"
    recipe = tmp_path / "runs" / "exp-args-continue.yaml"
    argv = ["/venv/bin/yolo", "train", "resume", "model=x.pt", "workers=0", "epochs=12", "device=cpu"]
    got = continuation_argv(argv, cont, recipe, {"data": "d.yaml"})
    assert got[:4] == ["/venv/bin/yolo", "train", f"model={weights}", f"cfg={recipe}"]
    assert "device=cpu" in got and "workers=0" in got and not any(a.startswith("epochs=") for a in got)
    assert got[-2:] == [f"project={run_dir.parent}", "name=exp-continue"]
    assert get_trainer("ultralytics").resume_total_epochs({"epochs": 8}, {"epochs": 12}) == 12
    assert get_trainer("ultralytics").resume_total_epochs({"epochs": 8}, None) == 8
