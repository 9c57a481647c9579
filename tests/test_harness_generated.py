"""The generated-run writer (harness.generated) used by the mechanism tests."""

from __future__ import annotations

import numpy as np

from harness.generated import write_generated_run
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan, logged_lr_sessions
from lrguard.trainers import get_profile

UL = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)


def test_time_column_restarts_at_every_session_start_even_on_rewind(tmp_path):
    sessions = [SessionPlan(0, 40, UL), SessionPlan(35, 60, UL, resumed=True), SessionPlan(0, 10, UL)]
    run = read_run(write_generated_run(tmp_path / "exp", get_profile("ultralytics-8.4"), sessions))
    assert run.session_starts == [40, 65]
    assert np.all(np.diff(run.time[:40]) > 0) and run.time[40] < run.time[39]


def test_written_lr_matches_the_schedule_functions(tmp_path):
    sessions = [SessionPlan(0, 30, UL), SessionPlan(30, 60, UL.with_(epochs=200), resumed=True)]
    for name in ("yolov5", "ultralytics-8.4", "ultralytics-8.4-musgd"):
        prof = get_profile(name)
        run = read_run(write_generated_run(tmp_path / name, prof, sessions))
        epochs, lr = logged_lr_sessions(sessions, prof)
        np.testing.assert_array_equal(run.epochs, epochs + prof.epoch_base)
        np.testing.assert_allclose(run.lr, lr, rtol=10.0 ** (1 - prof.significant_digits))
        assert (tmp_path / name / "GENERATED.txt").read_text().startswith("Generated")


def test_loss_bumps_nan(tmp_path):
    run = read_run(
        write_generated_run(
            tmp_path / "exp", get_profile("yolov5"), [SessionPlan(0, 20, UL)], loss_bumps={5: float("nan")}
        )
    )
    box = run.train_losses["train/box_loss"]
    assert np.all(np.isfinite(box[:5])) and np.all(np.isnan(box[5:]))


def test_time_column_restarts_after_a_one_epoch_session(tmp_path):
    sessions = [SessionPlan(0, 1, UL), SessionPlan(1, 2, UL, resumed=True), SessionPlan(2, 10, UL, resumed=True)]
    run = read_run(write_generated_run(tmp_path / "exp", get_profile("ultralytics-8.4"), sessions))
    assert run.session_starts == [1, 2]
