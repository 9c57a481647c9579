"""readers.parent: the previous run a restart-from-weights started from is read by the reader, not by diagnosis."""

from __future__ import annotations

import shutil

import pytest

from harness.generated import write_generated_run
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers import get_profile

V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, warmup_epochs=3.0, nb=20)


def _pair(tmp_path, weights="../exp/weights/last.pt"):
    runs = tmp_path / "runs" / "train"
    prev = write_generated_run(runs / "exp", get_profile("yolov5"), [SessionPlan(0, 300, V5)])
    cur = write_generated_run(
        runs / "exp2",
        get_profile("yolov5"),
        [SessionPlan(0, 100, V5.with_(epochs=100))],
        config={"weights": weights, "resume": False},
    )
    return prev, cur


def test_reader_records_where_the_previous_run_ended(tmp_path):
    prev, cur = _pair(tmp_path)
    run = read_run(cur)
    assert run.parent is not None and run.parent.path is not None
    assert run.parent.path.resolve() == prev.resolve()
    last = read_run(prev, checkpoints=False, parent=False)
    assert run.parent.last_lr == tuple(float(x) for x in last.lr[-1])
    assert run.parent.last_epoch == int(last.epochs[-1]) and "last.pt" in run.parent.why
    assert run.parent.source == "weights" and run.parent.weights is not None and run.parent.last_step is None


def test_diagnosis_does_no_io(tmp_path):
    """Once read, the Run is judged on its own: removing both directories changes nothing."""
    _, cur = _pair(tmp_path)
    run = read_run(cur)
    before = [(f.cause, f.epoch, f.title, f.evidence) for f in diagnose(run).findings]
    shutil.rmtree(tmp_path / "runs")
    after = [(f.cause, f.epoch, f.title, f.evidence) for f in diagnose(run).findings]
    assert before == after and any(c.value == "restart-from-weights" for c, *_ in before)


@pytest.mark.parametrize("weights", ["yolov5s.pt", "", None])
def test_no_parent_for_stock_or_missing_weights(tmp_path, weights):
    _, cur = _pair(tmp_path, weights=weights)
    assert read_run(cur).parent is None


def test_parent_not_found_is_recorded_not_raised(tmp_path):
    _, cur = _pair(tmp_path, weights="/nowhere/exp9/weights/best.pt")
    parent = read_run(cur).parent
    assert parent is not None and parent.path is None and parent.last_lr == ()
