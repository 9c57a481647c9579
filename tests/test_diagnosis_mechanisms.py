"""Each LR-jump mechanism (yolo_mechanics.md §6) on runs generated from the schedule functions.

None of these runs comes from a real trainer: ``write_generated_run`` writes results.csv and the
configuration files from lrguard's own schedule maths, and labels the directory GENERATED.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import causes, generated_diagnosis, warnings_or_worse
from harness.generated import write_generated_run
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers import get_profile

V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
UL = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)


def only(d, cause):
    found = [f for f in d.findings if f.cause.value == cause]
    assert len(found) == 1, [(f.cause.value, f.epoch, f.title) for f in d.findings]
    return found[0]


def assert_fixes(d):
    for f in warnings_or_worse(d):
        assert f.fix and f.fix.strip(), f"{f.cause.value} has no fix"
        assert f.evidence and all(isinstance(e, str) and e for e in f.evidence)


def test_generated_seed_case_epochs_changed_3000_to_5000(tmp_path):
    """YOLOv5, linear, E 3000 -> 5000 in opt.yaml, resumed at epoch 1739: the row of 1740 jumps +54%."""
    a, b = V5.with_(epochs=3000), V5.with_(epochs=5000)
    d = generated_diagnosis(
        tmp_path / "exp", "yolov5", [SessionPlan(0, 1739, a), SessionPlan(1739, 1800, b, resumed=True)]
    )
    f = only(d, "epochs-changed-on-resume")
    assert f.severity.value == "warning" and f.epoch == 1740
    assert f.data["implied_epochs_before"] == 3000 and f.data["implied_epochs_after"] == 5000
    assert f.data["resume_epoch"] == 1739
    assert f.data["rise"] == pytest.approx(0.54, abs=0.01)
    assert "epochs: 3000" in f.fix
    assert causes(d, 1) == ["epochs-changed-on-resume"]
    assert_fixes(d)


def test_generated_epochs_changed_ultralytics(tmp_path):
    a, b = UL, UL.with_(epochs=200)
    d = generated_diagnosis(
        tmp_path / "exp", "ultralytics-8.4", [SessionPlan(0, 40, a), SessionPlan(40, 100, b, resumed=True)]
    )
    f = only(d, "epochs-changed-on-resume")
    assert f.epoch == 41  # 1-based, first resumed row already on the new curve
    assert (f.data["implied_epochs_before"], f.data["implied_epochs_after"]) == (100, 200)
    assert "new training session" in " ".join(f.evidence)
    assert_fixes(d)


def test_generated_epochs_decreased_above_start(tmp_path):
    """E 300 -> 260 resumed at 200 (still above the epoch reached): the LR steps down to the new curve."""
    d = generated_diagnosis(
        tmp_path / "exp", "yolov5", [SessionPlan(0, 200, V5), SessionPlan(200, 250, V5.with_(epochs=260), resumed=True)]
    )
    f = only(d, "epochs-changed-on-resume")
    assert f.epoch == 201
    assert (f.data["implied_epochs_before"], f.data["implied_epochs_after"]) == (300, 260)
    assert_fixes(d)


def test_generated_finetune_extension_linear(tmp_path):
    """M4 linear: opt.yaml epochs 100 < 250 reached -> E' = 100 + 249 (late-bound closure)."""
    d = generated_diagnosis(
        tmp_path / "exp",
        "yolov5",
        [SessionPlan(0, 250, V5), SessionPlan(250, 300, V5.with_(epochs=100 + 249), resumed=True)],
        config={"epochs": 100},
    )
    f = only(d, "finetune-extension")
    assert f.severity.value == "warning" and f.epoch == 251
    assert f.data["implied_epochs_after"] == 349 and f.data["config_epochs"] == 100
    assert f.data["implied_epochs_before"] == 300
    assert "epochs: 300" in f.fix
    assert causes(d, 1) == ["finetune-extension"]
    assert_fixes(d)


def test_generated_finetune_extension_cosine_oscillates(tmp_path):
    """M4 cosine: one_cycle captured N=100, so the LR follows period 200 at x=250.. and climbs after 300."""
    a = V5.with_(cos_lr=True)
    d = generated_diagnosis(
        tmp_path / "exp",
        "yolov5",
        [SessionPlan(0, 250, a), SessionPlan(250, 400, a.with_(epochs=100), resumed=True)],
        config={"epochs": 100},
    )
    f = only(d, "finetune-extension")
    assert f.epoch == 251 and f.data["implied_epochs_after"] == 100
    p = only(d, "schedule-past-end")
    assert p.severity.value == "warning" and p.data["period"] == 100
    assert p.epoch == 302  # x = 301 > N: the first row where the cosine climbs back
    assert sorted(causes(d, 1)) == ["finetune-extension", "schedule-past-end"]
    assert_fixes(d)


def test_generated_finetune_extension_cosine_landing_on_lr0_is_not_m10(tmp_path):
    """M4 cosine resumed at 200 with N=100: lf(200) = 1, so the LR lands exactly on lr0 and then decays
    along the configured cosine; that is the extension, not the pre-2020 scheduler-order bug (M10)."""
    a = V5.with_(cos_lr=True)
    d = generated_diagnosis(
        tmp_path / "exp",
        "yolov5",
        [SessionPlan(0, 200, a), SessionPlan(200, 330, a.with_(epochs=100), resumed=True)],
        config={"epochs": 100},
    )
    assert sorted(causes(d, 1)) == ["finetune-extension", "schedule-past-end"]
    assert only(d, "finetune-extension").epoch == 201


def test_generated_lr0_edited_before_resume(tmp_path):
    d = generated_diagnosis(
        tmp_path / "exp", "yolov5", [SessionPlan(0, 150, V5), SessionPlan(150, 300, V5.with_(lr0=0.02), resumed=True)]
    )
    f = only(d, "hyp-changed-on-resume")
    assert f.epoch == 151
    assert f.data["lr0_before"] == pytest.approx(0.01, rel=1e-3) and f.data["lr0_after"] == pytest.approx(0.02)
    assert "lr0: 0.01" in f.fix
    assert causes(d, 1) == ["hyp-changed-on-resume"]
    assert_fixes(d)


@pytest.mark.parametrize("profile", ["yolov5", "ultralytics-8.4"])
def test_generated_resume_from_older_checkpoint(tmp_path, profile):
    spec = V5 if profile == "yolov5" else UL
    d = generated_diagnosis(
        tmp_path / "exp", profile, [SessionPlan(0, 60, spec), SessionPlan(52, 90, spec, resumed=True)]
    )
    f = only(d, "resume-from-older-checkpoint")
    base = get_profile(profile).epoch_base
    assert f.severity.value == "warning" and f.epoch == 52 + base
    assert f.data["rewind_from"] == 59 + base and f.data["rewind_to"] == 52 + base
    assert f.data["same_schedule_point"] is True
    assert [s.start for s in d.sessions] == ["start", "rewind"]
    assert causes(d, 1) == ["resume-from-older-checkpoint"]
    assert_fixes(d)


def test_generated_one_duplicated_epoch_is_info(tmp_path):
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 60, V5), SessionPlan(59, 90, V5, resumed=True)])
    f = only(d, "resume-from-older-checkpoint")
    assert f.severity.value == "info" and f.epoch == 59
    assert warnings_or_worse(d) == []


@pytest.mark.parametrize("profile", ["yolov5", "ultralytics-8.4"])
def test_generated_appended_runs(tmp_path, profile):
    spec = V5 if profile == "yolov5" else UL
    d = generated_diagnosis(tmp_path / "exp", profile, [SessionPlan(0, 80, spec), SessionPlan(0, 30, spec)])
    f = only(d, "appended-runs")
    assert f.severity.value == "warning" and f.row == 80
    assert f.epoch == get_profile(profile).epoch_base
    assert [s.start for s in d.sessions] == ["start", "restart"]
    assert causes(d, 1) == ["appended-runs"]
    assert causes(d).count("warmup") == 2
    assert_fixes(d)


def test_generated_restart_from_weights_names_previous_runs_last_lr(tmp_path):
    runs = tmp_path / "runs" / "train"
    prev = write_generated_run(runs / "exp", get_profile("yolov5"), [SessionPlan(0, 300, V5)])
    last_lr = float((prev / "results.csv").read_text().splitlines()[-1].split(",")[-2])
    d = generated_diagnosis(
        runs / "exp2",
        "yolov5",
        [SessionPlan(0, 100, V5.with_(epochs=100))],
        config={"weights": "../exp/weights/last.pt", "resume": False},
    )
    f = only(d, "restart-from-weights")
    assert f.severity.value == "warning" and f.epoch == 0
    assert f.data["previous_last_lr"] == pytest.approx(last_lr)
    text = " ".join(f.evidence)
    assert "ended at x/lr1" in text and f"{last_lr:.6g}" in text
    assert f"lr0: {last_lr:.6g}" in f.fix and "warmup_epochs: 0" in f.fix
    assert_fixes(d)


def test_generated_restart_from_pretrained_model_is_not_a_restart(tmp_path):
    d = generated_diagnosis(
        tmp_path / "exp", "yolov5", [SessionPlan(0, 100, V5.with_(epochs=100))], config={"weights": "yolov5s.pt"}
    )
    assert "restart-from-weights" not in causes(d)


def test_generated_time_budget_reestimation(tmp_path):
    """Ultralytics time=: E re-estimated after every epoch (one SessionPlan per epoch, no resume)."""
    estimates = [20, 30, 40, 48, 52, 80, 90, 100, 150, 150, 151, 152, 150, 150, 151, 150, 150, 150, 150, 150]
    sessions = [SessionPlan(k, k + 1, UL.with_(epochs=e), resumed=k > 0) for k, e in enumerate(estimates)]
    run_dir = tmp_path / "exp"
    write_generated_run(run_dir, get_profile("ultralytics-8.4"), sessions, config={"time": 0.5, "epochs": 150})
    # One process: the time column grows monotonically (the generator restarts it at every session).
    lines = (run_dir / "results.csv").read_text().splitlines()
    fixed = [lines[0]] + [
        f"{ln.split(',', 2)[0]},{10.0 * (k + 1):g},{ln.split(',', 2)[2]}" for k, ln in enumerate(lines[1:])
    ]
    (run_dir / "results.csv").write_text("\n".join(fixed) + "\n")
    d = diagnose(read_run(run_dir))
    assert len(d.sessions) == 1
    f = only(d, "time-budget-reestimation")
    assert f.severity.value == "warning"
    assert "time=" in f.fix
    assert causes(d, 1) == ["time-budget-reestimation"]
    assert_fixes(d)


@pytest.mark.parametrize("how", ["profile", "framework_version"])
def test_generated_bias_warmup_wrong_group_ultralytics_840(tmp_path, how):
    """M9: 8.4.0 gives warmup_bias_lr to pg0 (conv weights)."""
    run_dir = write_generated_run(tmp_path / "exp", get_profile("ultralytics-8.4.0"), [SessionPlan(0, 100, UL)])
    read = {"profile": "ultralytics-8.4.0"} if how == "profile" else {"framework_version": "8.4.0"}
    d = diagnose(read_run(run_dir, **read))
    f = only(d, "bias-warmup-wrong-group")
    assert f.severity.value == "warning" and f.epoch == 1
    assert "lr/pg0" in f.title
    assert "8.4.0" in f.fix or "PR #23234" in f.fix
    assert causes(d, 1) == ["bias-warmup-wrong-group"]


def test_generated_bias_warmup_wrong_group_yolov5_master_2022(tmp_path):
    run_dir = write_generated_run(tmp_path / "exp", get_profile("yolov5-master-2022-04"), [SessionPlan(0, 100, V5)])
    d = diagnose(read_run(run_dir, profile="yolov5-master-2022-04"))
    f = only(d, "bias-warmup-wrong-group")
    assert "x/lr2" in f.title
    assert_fixes(d)


def test_generated_scheduler_built_after_load(tmp_path):
    """M10 (pre-2020 YOLOv5): the first resumed epoch runs at lr0, then the old curve continues."""
    run_dir = write_generated_run(
        tmp_path / "exp", get_profile("yolov5"), [SessionPlan(0, 150, V5), SessionPlan(150, 300, V5, resumed=True)]
    )
    csv = run_dir / "results.csv"
    lines = csv.read_text().splitlines()
    cells = lines[1 + 150].split(",")
    cells[-3:] = [f"{0.01:>20.5g}"] * 3
    lines[1 + 150] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    d = diagnose(read_run(run_dir))
    f = only(d, "scheduler-built-after-load")
    assert f.severity.value == "warning" and f.epoch == 150
    assert causes(d, 1) == ["scheduler-built-after-load"]
    assert_fixes(d)


@pytest.mark.parametrize("how", ["profile", "framework_version"])
def test_generated_resume_lr_blip_ultralytics_81_early(tmp_path, how):
    """M13: 8.1.0-8.1.46 repeat the previous LR in the first resumed epoch (info only)."""
    run_dir = write_generated_run(
        tmp_path / "exp",
        get_profile("ultralytics-8.1-early"),
        [SessionPlan(0, 40, UL), SessionPlan(40, 100, UL, resumed=True)],
    )
    read = {"profile": "ultralytics-8.1-early"} if how == "profile" else {"framework_version": "8.1.20"}
    d = diagnose(read_run(run_dir, **read))
    f = only(d, "resume-lr-blip")
    assert f.severity.value == "info" and f.epoch == 41
    assert warnings_or_worse(d) == []


def test_generated_warmup_reentered_on_resume(tmp_path):
    """nb=2 with the 100-iteration floor: warmup lasts 50 epochs; a resume at 20 continues it (info)."""
    spec = UL.with_(nb=2)
    d = generated_diagnosis(
        tmp_path / "exp", "ultralytics-8.3", [SessionPlan(0, 20, spec), SessionPlan(20, 100, spec, resumed=True)]
    )
    f = only(d, "warmup-reentered-on-resume")
    assert f.severity.value == "info" and f.epoch == 21
    assert warnings_or_worse(d) == []


def test_generated_auto_optimizer_is_info(tmp_path):
    spec = UL.with_(lr0=0.000714, warmup_bias_lr=0.0)
    d = generated_diagnosis(
        tmp_path / "exp", "ultralytics-8.4", [SessionPlan(0, 100, spec)], config={"optimizer": "auto", "lr0": 0.01}
    )
    f = only(d, "auto-optimizer-switch")
    assert f.severity.value == "info" and f.epoch == 1
    assert d.spec.lr0 == pytest.approx(0.000714, rel=1e-4)
    assert "0.01" in f.title
    assert warnings_or_worse(d) == []


def test_generated_previous_run_missing_still_warns(tmp_path):
    d = generated_diagnosis(
        tmp_path / "exp2",
        "yolov5",
        [SessionPlan(0, 50, V5.with_(epochs=50))],
        config={"weights": "../exp/weights/last.pt", "resume": False},
    )
    f = only(d, "restart-from-weights")
    assert "previous_last_lr" not in f.data
    assert_fixes(d)


def test_generated_findings_sorted_by_row(tmp_path):
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 80, V5), SessionPlan(0, 30, V5)])
    rows = [f.row if f.row is not None else -1 for f in d.findings]
    assert rows == sorted(rows)
    assert np.all(np.isfinite(d.planned))


def test_generated_copy_of_run_diagnoses_identically(tmp_path):
    a = V5.with_(epochs=3000)
    src = write_generated_run(
        tmp_path / "a",
        get_profile("yolov5"),
        [SessionPlan(0, 100, a), SessionPlan(100, 140, a.with_(epochs=5000), resumed=True)],
    )
    shutil.copytree(src, tmp_path / "b")
    da, db = diagnose(read_run(src)), diagnose(read_run(tmp_path / "b"))
    assert [(f.cause, f.epoch) for f in da.findings] == [(f.cause, f.epoch) for f in db.findings]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    e1=st.integers(min_value=20, max_value=3000),
    k=st.floats(min_value=0.3, max_value=3.0),
    frac=st.floats(min_value=0.15, max_value=0.9),
    lrf=st.sampled_from([0.01, 0.1, 0.2]),
    cos=st.booleans(),
    nb=st.integers(min_value=5, max_value=500),
    profile=st.sampled_from(["yolov5", "ultralytics-8.4", "ultralytics-8.3"]),
)
def test_generated_random_epochs_change_named_at_the_right_epoch(tmp_path_factory, e1, k, frac, lrf, cos, nb, profile):
    """Any visible change of total epochs on a resume after warmup (up or down, still above the epoch
    reached) is epochs-changed-on-resume at the first row on the new curve, with both E recovered."""
    e2, s = int(e1 * k), int(frac * e1)
    assume(e2 > s + 5 and abs(e2 - e1) > 0.05 * e1 and s > 10)
    assume(s * nb > max(3 * nb, 100) + 2 * nb)  # resumed after warmup
    prof = get_profile(profile)
    a = ScheduleSpec(lr0=0.01, lrf=lrf, epochs=e1, nb=nb, cos_lr=cos)
    b = a.with_(epochs=e2)
    x = s - prof.log_lag
    assume(abs(float(b.lf(x, prof)) / float(a.lf(x, prof)) - 1) > 0.02)  # visible at the seam
    # ... as a step: the new curve's first row must not land on the old curve's previous row (e.g. E 45 -> 48
    # resumed at 16 gives lf48(16) = lf45(15): the LR is continuous there and only its slope changes).
    assume(abs(float(b.lf(x, prof)) / float(a.lf(x - 1, prof)) - 1) > 0.02)
    d = generated_diagnosis(
        tmp_path_factory.mktemp("run") / "exp",
        profile,
        [SessionPlan(0, s, a), SessionPlan(s, min(e2, s + 30), b, resumed=True)],
    )
    got = [
        (f.cause.value, f.epoch, f.data.get("implied_epochs_before"), f.data.get("implied_epochs_after"))
        for f in warnings_or_worse(d)
    ]
    want_epoch = s + prof.epoch_base + (1 if prof.resume_row_restored else 0)
    assert got == [("epochs-changed-on-resume", want_epoch, e1, e2)]


def test_generated_restart_from_weights_ultralytics(tmp_path, monkeypatch):
    """M2 in Ultralytics: args.yaml model: runs/detect/train/weights/last.pt (relative to the cwd)."""
    runs = tmp_path / "runs" / "detect"
    write_generated_run(runs / "train", get_profile("ultralytics-8.4"), [SessionPlan(0, 100, UL)])
    monkeypatch.chdir(tmp_path)
    d = generated_diagnosis(
        runs / "train2",
        "ultralytics-8.4",
        [SessionPlan(0, 50, UL.with_(epochs=50))],
        config={"model": "runs/detect/train/weights/last.pt", "pretrained": True},
    )
    f = only(d, "restart-from-weights")
    assert f.epoch == 1 and f.data["previous_last_lr"] == pytest.approx(0.000199, rel=1e-3)
    assert "yolo train" in f.fix and "warmup_epochs=0" in f.fix
    assert causes(d, 1) == ["restart-from-weights"]


def test_generated_yolov5_resume_seen_through_event_files(tmp_path):
    """YOLOv5 writes no seam into results.csv; two TensorBoard event files show the second process."""
    from test_readers_tfevents import write_events

    spec = V5.with_(nb=2)  # 100-iteration floor: warmup lasts 50 epochs
    run_dir = write_generated_run(
        tmp_path / "exp", get_profile("yolov5"), [SessionPlan(0, 20, spec), SessionPlan(20, 100, spec, resumed=True)]
    )
    write_events(run_dir / "events.out.tfevents.1000000000.host.1.0", list(range(20)), t0=1.0e9)
    write_events(run_dir / "events.out.tfevents.1100000000.host.2.0", list(range(20, 100)), t0=1.1e9)
    d = diagnose(read_run(run_dir))
    assert [(s.first_epoch, s.start) for s in d.sessions] == [(0, "start"), (20, "resume")]
    assert "TensorBoard" in d.sessions[1].evidence
    f = only(d, "warmup-reentered-on-resume")
    assert f.severity.value == "info" and f.epoch == 20
    assert warnings_or_worse(d) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    e1=st.integers(min_value=10, max_value=200),
    more=st.floats(min_value=0.0, max_value=1.0),
    where=st.floats(min_value=0.5, max_value=1.0),
    lrf=st.sampled_from([0.01, 0.1, 0.2]),
    nb=st.integers(min_value=40, max_value=500),
    profile=st.sampled_from(["ultralytics-8.4", "ultralytics-8.3"]),
)
def test_generated_epochs_raised_without_a_step_is_named_at_the_resume(
    tmp_path_factory, e1, more, where, lrf, nb, profile
):
    """A small rise of the total epochs on resume: the LR never steps up, it only decays more slowly.

    With a linear schedule, E -> E + d resumed at schedule position x shows no step up exactly when
    x <= (E + d) / d. No row then rises above the one before, so only the resume boundary tells the
    two schedules apart: epochs-changed-on-resume at the first row on the new curve, both E recovered.
    Ultralytics profiles only: the generated CSV marks the resume by its ``time`` column (8.3 shows the
    restored LR on the first resumed row, 8.4 does not); the generated YOLOv5 CSV has no session
    marker, so YOLOv5 is covered by the real ``yolov5/epochs-changed-small`` scenario.
    """
    prof = get_profile(profile)
    d_epochs = 1 + int(more * max(e1 // 8 - 1, 0))
    e2 = e1 + d_epochs
    hi = min(e2 // d_epochs, e1 - 3 - prof.log_lag)  # no step up; a few rows left on the old plan
    x = 6 + int(where * max(hi - 6, 0))  # resumed after warmup, at least two rows before
    s = x + prof.log_lag
    a = ScheduleSpec(lr0=0.01, lrf=lrf, epochs=e1, nb=nb)
    b = a.with_(epochs=e2)
    assume(float(b.lf(x, prof)) <= float(a.lf(x - 1, prof)))  # no step up at the seam
    assume(float(b.lf(x, prof)) / float(a.lf(x, prof)) - 1 > 0.005)  # yet clearly off the old curve
    d = generated_diagnosis(
        tmp_path_factory.mktemp("run") / "exp",
        profile,
        [SessionPlan(0, s, a), SessionPlan(s, min(e2, s + 30), b, resumed=True)],
    )
    got = [
        (f.cause.value, f.epoch, f.data.get("implied_epochs_before"), f.data.get("implied_epochs_after"))
        for f in warnings_or_worse(d)
    ]
    want_epoch = s + prof.epoch_base + (1 if prof.resume_row_restored else 0)
    assert got == [("epochs-changed-on-resume", want_epoch, e1, e2)]
    assert "decays more slowly" in warnings_or_worse(d)[0].title


@pytest.mark.parametrize("profile", ["ultralytics-8.4", "ultralytics-8.3"])
@pytest.mark.parametrize("s", [3, 5, 40])
def test_generated_seamless_resume_stays_clean(tmp_path, profile, s):
    """A resume that keeps the schedule is no break at the resume boundary, however few rows precede it."""
    assert any(
        x.start == "resume"
        for x in generated_diagnosis(
            tmp_path / "probe",
            profile,
            [SessionPlan(0, s, UL.with_(epochs=60)), SessionPlan(s, 60, UL.with_(epochs=60), resumed=True)],
        ).sessions
    )  # the resume is known, so the boundary is examined
    a = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=60, nb=50)
    d = generated_diagnosis(tmp_path / "exp", profile, [SessionPlan(0, s, a), SessionPlan(s, 60, a, resumed=True)])
    assert warnings_or_worse(d) == []
