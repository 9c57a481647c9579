"""Mechanisms found in runs real users committed (generated data imitating each one, labelled generated).

Each test writes a run generated from lrguard's schedule functions, then damages or edits it the way the
real run was (NUL bytes from a crash, a stripped-checkpoint resume, appended one-epoch runs, ...).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import causes, generated_diagnosis, warnings_or_worse
from harness.generated import write_generated_run
from lrguard.diagnosis import diagnose
from lrguard.diagnosis.merge import merge_repeats
from lrguard.diagnosis.version import choose_profile
from lrguard.model import Cause, Finding, Severity
from lrguard.readers import read_run
from lrguard.readers.parent import previous_run_weights
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.schedules.curve import logged_lr
from lrguard.schedules.fit import fit_nb_and_lr0
from lrguard.trainers import get_profile
from lrguard.trainers.infer import FileEvidence, candidate_profiles

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


# --- version inference -------------------------------------------------------------------------------


def _drop_time(run_dir):
    csv = run_dir / "results.csv"
    lines = csv.read_text().splitlines()
    j = lines[0].split(",").index("time")
    csv.write_text("\n".join(",".join(c for k, c in enumerate(ln.split(",")) if k != j) for ln in lines) + "\n")


def test_generated_long_warmup_of_the_100_iteration_floor_is_not_an_edit(tmp_path):
    """Generated 8.3 run, 1 batch per epoch: the 100-iteration floor makes a 100-epoch warmup (optimizer=auto)."""
    spec = ScheduleSpec(lr0=0.00125, lrf=0.01, epochs=600, nb=1, warmup_bias_lr=0.0)
    d = generated_diagnosis(
        tmp_path / "train", "ultralytics-8.3", [SessionPlan(0, 300, spec)], config={"optimizer": "auto"}
    )
    assert warnings_or_worse(d) == [], [(f.cause.value, f.epoch) for f in d.findings]
    assert d.profile.name == "ultralytics-8.3" and d.run.profile_name == "ultralytics-8.3"
    tested = {t["profile"]: t["rows_explained"] for t in d.version["candidates_tested"]}
    assert set(tested) == {"ultralytics-8.3", "ultralytics-8.4"}
    assert tested["ultralytics-8.3"] == 300 > tested["ultralytics-8.4"]
    assert "time" in " ".join(d.version["evidence"]) and "8.3" in d.version["summary"]


def test_generated_ultralytics_80_zero_based_epochs(tmp_path):
    """Generated 8.0.x run written before 1-based epochs (no time column, epoch 0 first)."""
    run_dir = write_generated_run(tmp_path / "train", get_profile("ultralytics-8.0-0based"), [SessionPlan(0, 60, UL)])
    _drop_time(run_dir)
    d = diagnose(read_run(run_dir))
    assert d.profile.name == "ultralytics-8.0-0based"
    assert d.run.epochs[0] == 0
    assert warnings_or_worse(d) == []
    assert causes(d).count("warmup") == 1
    assert any("PR #4491" in e for e in d.version["evidence"])


def test_generated_yolov5_old_group_order_with_100_floor_is_not_the_bias_bug(tmp_path):
    """Generated: bias in x/lr2 and a 100-iteration floor reads as master 2022-03, not the 2022-04 bias bug."""
    spec = V5.with_(nb=5, epochs=100)
    d = generated_diagnosis(tmp_path / "exp", "yolov5-master-2022-03", [SessionPlan(0, 100, spec)])
    assert warnings_or_worse(d) == []
    assert d.profile.name == "yolov5-master-2022-03"


def test_recorded_version_is_not_tested(tmp_path):
    run_dir = write_generated_run(tmp_path / "train", get_profile("ultralytics-8.4"), [SessionPlan(0, 30, UL)])
    d = diagnose(read_run(run_dir, framework_version="8.3.228"))
    assert d.version["recorded"] is True and d.version["candidates_tested"] == []
    assert d.profile.name == "ultralytics-8.3"


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        (dict(n_groups=8, first_epoch=1, has_time=True, padded=False), ["ultralytics-8.4-musgd"]),
        (dict(n_groups=3, first_epoch=0, has_time=False, padded=True), ["ultralytics-8.0-0based"]),
        (dict(n_groups=3, first_epoch=1, has_time=True, padded=False, bias_column=2), ["ultralytics-8.4"]),
        (
            dict(n_groups=3, first_epoch=1, has_time=True, padded=False, bias_column=0),
            ["ultralytics-8.3", "ultralytics-8.4.0"],
        ),
        (dict(n_groups=3, first_epoch=1, has_time=True, padded=False), ["ultralytics-8.4", "ultralytics-8.3"]),
        (
            dict(n_groups=3, first_epoch=1, has_time=True, padded=False, config_keys=frozenset({"save_hybrid"})),
            ["ultralytics-8.3", "ultralytics-8.4"],
        ),
        (
            dict(n_groups=3, first_epoch=1, has_time=True, padded=False, config_keys=frozenset({"end2end"})),
            ["ultralytics-8.4"],
        ),
        (
            dict(n_groups=3, first_epoch=1, has_time=False, padded=True, config_keys=frozenset({"v5loader"})),
            ["ultralytics-8.0", "ultralytics-8.1-early", "ultralytics-8.3"],
        ),
        (
            dict(n_groups=3, first_epoch=1, has_time=False, padded=True),
            ["ultralytics-8.3", "ultralytics-8.1-early", "ultralytics-8.0"],
        ),
    ],
)
def test_ultralytics_candidates_from_file_evidence(evidence, expected):
    got = candidate_profiles(FileEvidence(framework="ultralytics", **evidence))
    assert [p.name for p in got.profiles] == expected and got.evidence


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        (dict(config_keys=frozenset({"linear_lr"})), ["yolov5-v6.0"]),
        (dict(bias_column=0), ["yolov5"]),
        (dict(bias_column=2), ["yolov5-v6.1", "yolov5-master-2022-03", "yolov5-master-2022-04"]),
        (dict(groups_equal=True), ["yolov5", "yolov5-v6.1", "yolov5-master-2022-03"]),
    ],
)
def test_yolov5_candidates_from_file_evidence(evidence, expected):
    got = candidate_profiles(
        FileEvidence(framework="yolov5", n_groups=3, first_epoch=0, has_time=False, padded=True, **evidence)
    )
    assert [p.name for p in got.profiles] == expected


# --- resume without optimizer state ------------------------------------------------------------------


def _set_row_lr(run_dir, row, value):
    csv = run_dir / "results.csv"
    lines = csv.read_text().splitlines()
    cells = lines[1 + row].split(",")
    cells[-3:] = [f"{value:>20.5g}"] * 3
    lines[1 + row] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")


def test_generated_finished_run_resumed_with_more_epochs_from_a_stripped_checkpoint(tmp_path):
    """Generated: 100 epochs finished, epochs raised to 600, resumed: row 100 at lr0, then the 600-epoch curve."""
    before, after = V5.with_(epochs=100, nb=32), V5.with_(epochs=600, nb=32)
    run_dir = write_generated_run(
        tmp_path / "exp",
        get_profile("yolov5"),
        [SessionPlan(0, 100, before), SessionPlan(100, 200, after, resumed=True)],
    )
    _set_row_lr(run_dir, 100, 0.01)  # a fresh optimizer: the first resumed epoch runs at lr0
    d = diagnose(read_run(run_dir))
    f = only(d, "resume-without-optimizer-state")
    assert f.severity.value == "warning" and f.epoch == 100 and d.run.table.line_numbers[f.row] == 102
    assert f.data["implied_epochs_before"] == 100 and f.data["implied_epochs_after"] == 600
    assert "optimizer" in f.fix and "--weights" in f.fix
    assert causes(d, 1) == ["resume-without-optimizer-state"]


def test_generated_row_at_lr0_then_back_on_the_old_curve_is_still_m10(tmp_path):
    """Generated: same settings before and after: the old curve goes on, which is M10, not a change of settings."""
    run_dir = write_generated_run(
        tmp_path / "exp", get_profile("yolov5"), [SessionPlan(0, 150, V5), SessionPlan(150, 300, V5, resumed=True)]
    )
    _set_row_lr(run_dir, 150, 0.01)
    d = diagnose(read_run(run_dir))
    assert causes(d, 1) == ["scheduler-built-after-load"]


# --- findings point at the jump ------------------------------------------------------------------------


def test_generated_time_budget_finding_points_at_the_first_rise_not_the_drift(tmp_path):
    """Generated time= run: the estimate grows from epoch 3 on (no rise), the LR first rises at epoch 12."""
    estimates = [40, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 120, 120, 120, 120, 120, 120, 120, 120, 120]
    sessions = [SessionPlan(k, k + 1, UL.with_(epochs=e), resumed=k > 0) for k, e in enumerate(estimates)]
    run_dir = tmp_path / "exp"
    write_generated_run(run_dir, get_profile("ultralytics-8.4"), sessions, config={"time": 0.5, "epochs": 120})
    lines = (run_dir / "results.csv").read_text().splitlines()
    fixed = [lines[0]] + [
        f"{ln.split(',', 2)[0]},{10.0 * (k + 1):g},{ln.split(',', 2)[2]}" for k, ln in enumerate(lines[1:])
    ]
    (run_dir / "results.csv").write_text("\n".join(fixed) + "\n")
    d = diagnose(read_run(run_dir))
    f = only(d, "time-budget-reestimation")
    lr = d.run.lr[:, d.reference_group]
    assert all(lr[i] <= lr[i - 1] for i in range(3, 11)) and lr[11] > lr[10]  # the first rise is row 11
    assert f.row == 11 and f.epoch == 12
    grew = next(e for e in f.evidence if "first grew" in e)
    assert "epoch 12" not in grew  # the estimate drifted earlier; the finding still points at the jump


# --- appended runs: each fitted on its own, one finding for all ------------------------------------------


def test_generated_many_one_epoch_runs_appended_are_one_finding_with_the_lines(tmp_path):
    """Generated: 30 one-epoch runs appended to one results.csv (exist_ok=True, as in a notebook loop)."""
    spec = UL.with_(epochs=1, nb=1, warmup_bias_lr=0.0)
    d = generated_diagnosis(tmp_path / "train", "ultralytics-8.3", [SessionPlan(0, 1, spec)] * 30)
    f = only(d, "appended-runs")
    assert f.data["count"] == 29 and f.data["lines"] == list(range(3, 32))
    assert "29 times" in f.title and "lines 3, 4, 5" in f.evidence[-1]
    assert causes(d, 1) == ["appended-runs"]
    assert causes(d).count("warmup") <= 2  # the first run's and one for all the appended runs


def test_generated_appended_runs_with_zero_first_rows_are_fitted_each_on_its_own(tmp_path):
    """Generated optimizer=auto runs (2 batches/epoch, 100-iteration floor: all-warmup runs) appended;
    the first rows of the 1-batch run are 0, which must not make lr0 0 for the runs after it."""
    prof = "ultralytics-8.3"
    short = ScheduleSpec(lr0=0.0005, lrf=0.01, epochs=10, nb=2, warmup_bias_lr=0.0)
    zero = ScheduleSpec(lr0=0.0005, lrf=0.01, epochs=1, nb=1, warmup_bias_lr=0.0)
    long = ScheduleSpec(lr0=0.0005, lrf=0.01, epochs=100, nb=2, warmup_bias_lr=0.0)
    d = generated_diagnosis(
        tmp_path / "train",
        prof,
        [
            SessionPlan(0, 1, zero),
            SessionPlan(0, 10, short),
            SessionPlan(0, 20, short.with_(epochs=20)),
            SessionPlan(0, 98, long),
        ],
        config={"optimizer": "auto"},
    )
    assert causes(d, 1) == ["appended-runs"], [(f.cause.value, f.epoch, f.title) for f in d.findings]
    specs = [lin.spec for lin in choose_profile(d.run)[1].lineages]
    assert [s.epochs for s in specs[1:]] == [10, 20, 100]
    assert all(s.lr0 == pytest.approx(0.0005, rel=1e-3) for s in specs[1:])
    assert d.spec.lr0 == pytest.approx(0.0005, rel=1e-3) and d.spec.nb == 2


# --- schedules.fit: nb and lr0 together ----------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    nb=st.integers(min_value=1, max_value=300),
    lr0=st.floats(min_value=1e-5, max_value=0.02),
    epochs=st.integers(min_value=20, max_value=500),
    profile=st.sampled_from(["ultralytics-8.3", "ultralytics-8.4", "yolov5"]),
)
def test_fit_nb_and_lr0_recovers_a_generated_warmup(nb, lr0, epochs, profile):
    prof = get_profile(profile)
    spec = ScheduleSpec(lr0=lr0, lrf=0.01, epochs=epochs, nb=nb, warmup_bias_lr=0.0)
    e = np.arange(min(epochs, 12))
    rows = logged_lr(spec, prof, e)[:, prof.reference_group]
    rows = np.array([float(f"{v:.6g}") for v in rows])  # the CSV's precision
    got_nb, got_lr0, err = fit_nb_and_lr0(rows, e, spec.with_(nb=None, lr0=1.0), prof, prof.reference_group)
    assert err < 1e-3
    assert got_lr0 == pytest.approx(lr0, rel=1e-3)
    # nb itself is determined only when warmup lasts beyond the first rows; the plan it gives matches either way
    again = logged_lr(spec.with_(nb=got_nb, lr0=got_lr0), prof, e)[:, prof.reference_group]
    np.testing.assert_allclose(again, rows, rtol=2e-3, atol=1e-12)


def test_fit_nb_and_lr0_all_zero_rows_determine_nothing():
    prof = get_profile("ultralytics-8.3")
    spec = ScheduleSpec(lr0=1.0, lrf=0.01, epochs=1, warmup_bias_lr=0.0)
    assert fit_nb_and_lr0(np.zeros(1), np.zeros(1), spec, prof, 1) == (None, None, float("inf"))


def test_repeats_of_a_mechanism_merge_per_session_and_appended_runs_per_file(tmp_path):
    """Generated run of two sessions (a resume at 60) and an appended run: findings built by hand."""
    run_dir = write_generated_run(
        tmp_path / "exp",
        get_profile("yolov5"),
        [SessionPlan(0, 60, V5), SessionPlan(59, 100, V5, resumed=True), SessionPlan(0, 30, V5)],
    )
    ctx = choose_profile(read_run(run_dir))[1]
    assert [s.start for s in ctx.sessions] == ["start", "rewind", "restart"]

    def at(cause, row):
        return Finding(cause=cause, severity=Severity.WARNING, epoch=int(ctx.run.epochs[row]), row=row, title="t")

    found = [at(Cause.LR_OFF_PLAN, r) for r in (10, 20, 70, 80)] + [at(Cause.APPENDED_RUNS, 101)]
    found += [at(Cause.APPENDED_RUNS, 120)]
    merged = merge_repeats(found, ctx)
    off = [f for f in merged if f.cause is Cause.LR_OFF_PLAN]
    assert [(f.row, f.data["count"], f.data["lines"]) for f in off] == [(10, 2, [12, 22]), (70, 2, [72, 82])]
    (app,) = [f for f in merged if f.cause is Cause.APPENDED_RUNS]
    assert app.data["count"] == 2 and app.data["lines"] == [103, 122] and "2 times in the file" in app.title
