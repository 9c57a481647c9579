"""Loss-side findings: non-finite values, loss spikes with the LR on plan, close_mosaic (generated runs)."""

from __future__ import annotations

import pytest

from conftest import causes, generated_diagnosis, warnings_or_worse
from harness.generated import write_generated_run
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers import get_profile

V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
UL = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)


def test_generated_nan_losses_are_a_nonfinite_error(tmp_path):
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 300, V5)], loss_bumps={150: float("nan")})
    [f] = [f for f in d.findings if f.cause.value == "nonfinite"]
    assert f.severity.value == "error" and f.epoch == 150
    assert "train/box_loss" in f.data["columns"]
    assert "on plan" in " ".join(f.evidence)
    assert f.fix and "lr0" in f.fix
    assert causes(d, 1) == ["nonfinite"]  # NaN rows are not also reported as spikes


def test_generated_literal_inf_in_lr_column_is_nonfinite(tmp_path):
    run_dir = write_generated_run(tmp_path / "exp", get_profile("ultralytics-8.4"), [SessionPlan(0, 60, UL)])
    csv = run_dir / "results.csv"
    lines = csv.read_text().splitlines()
    cells = lines[41].split(",")
    cells[-1] = "inf"
    lines[41] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    d = diagnose(read_run(run_dir))
    [f] = [f for f in d.findings if f.cause.value == "nonfinite"]
    assert f.epoch == 41 and f.data["columns"] == ["lr/pg2"]


def test_generated_empty_metric_cells_are_not_nonfinite(tmp_path):
    run_dir = write_generated_run(tmp_path / "exp", get_profile("ultralytics-8.4"), [SessionPlan(0, 60, UL)])
    csv = run_dir / "results.csv"
    lines = csv.read_text().splitlines()
    for k in range(1, len(lines)):
        cells = lines[k].split(",")
        cells[5] = ""  # metrics/precision(B) not computed (val=False)
        lines[k] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    assert "nonfinite" not in causes(diagnose(read_run(run_dir)))


@pytest.mark.parametrize("profile", ["yolov5", "ultralytics-8.4"])
def test_generated_loss_spike_with_lr_on_plan(tmp_path, profile):
    spec = V5 if profile == "yolov5" else UL
    d = generated_diagnosis(tmp_path / "exp", profile, [SessionPlan(0, 80, spec)], loss_bumps={50: 3.0, 51: 1 / 3})
    [f] = [f for f in d.findings if f.cause.value == "loss-spike"]
    assert f.severity.value == "warning" and f.epoch == 50 + get_profile(profile).epoch_base
    assert "LR on plan" in " ".join(f.evidence)
    assert f.fix
    assert causes(d, 1) == ["loss-spike"]


def test_generated_loss_rise_at_lr_jump_is_not_a_separate_spike(tmp_path):
    a, b = V5.with_(epochs=3000), V5.with_(epochs=5000)
    d = generated_diagnosis(
        tmp_path / "exp",
        "yolov5",
        [SessionPlan(0, 1739, a), SessionPlan(1739, 1800, b, resumed=True)],
        loss_bumps={1740: 2.0},
    )
    assert causes(d, 1) == ["epochs-changed-on-resume"]
    f = d.findings[-1]
    assert f.data["loss_change"] == pytest.approx(1.0, abs=0.1)
    assert "rose" in " ".join(f.evidence)


def test_generated_close_mosaic_is_info_for_ultralytics(tmp_path):
    d = generated_diagnosis(
        tmp_path / "exp",
        "ultralytics-8.4",
        [SessionPlan(0, 100, UL)],
        config={"close_mosaic": 10},
        loss_bumps={90: 1.6},
    )
    [f] = [f for f in d.findings if f.cause.value == "close-mosaic"]
    assert f.severity.value == "info" and f.epoch == 91
    assert warnings_or_worse(d) == []  # the loss step at close_mosaic is not a spike


def test_generated_no_close_mosaic_for_yolov5_or_when_off(tmp_path):
    d = generated_diagnosis(tmp_path / "v5", "yolov5", [SessionPlan(0, 300, V5)], config={"close_mosaic": 10})
    assert "close-mosaic" not in causes(d)
    d = generated_diagnosis(tmp_path / "ul", "ultralytics-8.4", [SessionPlan(0, 100, UL)], config={"close_mosaic": 0})
    assert "close-mosaic" not in causes(d)
