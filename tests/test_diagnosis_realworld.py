"""Mechanisms found in runs real users committed (generated data imitating each one, labelled generated).

Each test writes a run generated from lrguard's schedule functions, then damages or edits it the way the
real run was (NUL bytes from a crash, a stripped-checkpoint resume, appended one-epoch runs, ...).
"""

from __future__ import annotations

import pytest

from conftest import causes, generated_diagnosis, warnings_or_worse
from lrguard.diagnosis import diagnose
from lrguard.diagnosis.restarts import previous_run_weights
from lrguard.frameworks import get_profile
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.testing.generated import write_generated_run

V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
UL = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)


def only(d, cause):
    found = [f for f in d.findings if f.cause.value == cause]
    assert len(found) == 1, [(f.cause.value, f.epoch, f.title) for f in d.findings]
    return found[0]


# --- crash remnants ----------------------------------------------------------------------------------


def test_generated_nul_bytes_before_a_resume_from_best_are_a_session_boundary(tmp_path):
    """Generated YOLOv5 run, 120 epochs, a crash after epoch 99 (NUL block), resumed at epoch 60."""
    run_dir = write_generated_run(
        tmp_path / "exp", get_profile("yolov5"), [SessionPlan(0, 100, V5), SessionPlan(60, 120, V5, resumed=True)]
    )
    csv = run_dir / "results.csv"
    raw = csv.read_bytes()
    lines = raw.split(b"\n")
    cut = len(b"\n".join(lines[:101])) + 1  # start of line 102: the first row of the resumed session
    csv.write_bytes(raw[:cut] + b"\x00" * 300 + raw[cut:])
    d = diagnose(read_run(run_dir))
    note = only(d, "crash-remnant")
    assert note.severity.value == "info" and note.row == 100
    assert note.data["byte_offset"] == cut and note.data["nul_bytes"] == 300
    assert [s.start for s in d.sessions] == ["start", "rewind"]
    assert "NUL" in d.sessions[1].evidence
    older = only(d, "resume-from-older-checkpoint")
    assert older.row == 100 and d.run.table.line_numbers[older.row] == 102
    assert any("byte" in n and "NUL" in n for n in d.notes)


def test_generated_torn_row_without_nul_marks_a_resume(tmp_path):
    """Generated Ultralytics run whose row of epoch 40 was cut short by a crash; the resume continues at 40."""
    run_dir = write_generated_run(
        tmp_path / "exp",
        get_profile("ultralytics-8.4"),
        [SessionPlan(0, 40, UL), SessionPlan(39, 100, UL, resumed=True)],
    )
    csv = run_dir / "results.csv"
    lines = csv.read_text().splitlines()
    lines[40] = lines[40][: len(lines[40]) // 2]  # the first session's last row, half written
    csv.write_text("\n".join(lines) + "\n")
    d = diagnose(read_run(run_dir))
    note = only(d, "crash-remnant")
    assert note.data["torn_chars"] > 0 and note.data["line"] == 41
    assert len(d.sessions) == 2 and d.sessions[1].first_row == 39
    assert warnings_or_worse(d) == []


# --- restart-from-weights: a previous run's weights are recognised by what they are ----------------


@pytest.mark.parametrize(
    "weights",
    [
        "yolov5s.pt",
        "weights/yolov5s.pt",
        "D:\\thesis\\yolov5-master\\weights\\yolov5n.pt",
        "pretrained/yolov5l6.pt",
        "yolov5s-seg.pt",
        "yolov8n.pt",
        "./yolov8n-cls.pt",
        "yolo11n-pose.pt",
        "yolo26n-obb.pt",
        "yolov3-tinyu.pt",
        "runs/pruned_auto.pt",
    ],
)
def test_stock_or_unrelated_weights_are_never_a_previous_run(weights):
    assert previous_run_weights(weights) is None


@pytest.mark.parametrize(
    "weights",
    [
        "best.pt",
        "./last.pt",
        "yolov5custom/best.pt",
        "A:/MightyMicros/src/pipeline/weights/best.pt",
        "runs\\train\\exp3\\weights\\last.pt",
        "/content/drive/runs/train/exp2/weights/epoch100.pt",
    ],
)
def test_run_checkpoint_names_anywhere_are_a_previous_run(weights):
    assert previous_run_weights(weights) is not None


def test_weights_inside_a_run_directory_are_a_previous_run(tmp_path):
    prev = tmp_path / "runs" / "exp"
    (prev / "weights").mkdir(parents=True)
    (prev / "results.csv").write_text("epoch,x/lr0\n")
    me = tmp_path / "runs" / "exp2"
    me.mkdir()
    assert previous_run_weights("../exp/weights/pruned.pt", me) is not None
    assert previous_run_weights("../exp", me) is not None
    assert previous_run_weights("../exp/weights/pruned.pt", prev) is None  # its own directory


@pytest.mark.parametrize("weights", ["weights/yolov5s.pt", "D:\\work\\weights\\yolov5m.pt"])
def test_generated_finetune_from_stock_weights_in_a_weights_folder_is_clean(tmp_path, weights):
    d = generated_diagnosis(
        tmp_path / "exp", "yolov5", [SessionPlan(0, 100, V5.with_(epochs=100))], config={"weights": weights}
    )
    assert warnings_or_worse(d) == []


@pytest.mark.parametrize("weights", ["best.pt", "C:\\Users\\me\\runs\\train\\exp\\weights\\last.pt"])
def test_generated_new_run_from_a_bare_or_windows_checkpoint_path_warns(tmp_path, weights):
    d = generated_diagnosis(
        tmp_path / "exp", "yolov5", [SessionPlan(0, 100, V5.with_(epochs=100))], config={"weights": weights}
    )
    f = only(d, "restart-from-weights")
    assert f.severity.value == "warning" and weights in f.evidence[0]
    assert causes(d, 1) == ["restart-from-weights"]
