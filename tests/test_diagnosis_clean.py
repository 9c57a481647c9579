"""Normal behaviour is never reported at warning or above (runs generated from the schedule functions)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import causes, generated_diagnosis, warnings_or_worse
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan

PROFILES = ["yolov5", "yolov5-v6.1", "ultralytics-8.4", "ultralytics-8.3", "ultralytics-8.4-musgd"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("cos", [False, True], ids=["linear", "cosine"])
@pytest.mark.parametrize("resume_at", [None, 37], ids=["one-session", "seamless-resume"])
def test_generated_clean_run_has_no_warning(tmp_path, profile, cos, resume_at):
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=120, nb=40, cos_lr=cos)
    sessions = [SessionPlan(0, 120, spec)]
    if resume_at:
        sessions = [SessionPlan(0, resume_at, spec), SessionPlan(resume_at, 120, spec, resumed=True)]
    d = generated_diagnosis(tmp_path / "exp", profile, sessions)
    assert warnings_or_worse(d) == [], [(f.cause, f.epoch, f.title) for f in d.findings]
    assert causes(d)[0] == "warmup"
    assert d.spec.nb == 40
    if resume_at and profile.startswith("ultralytics"):
        assert [s.start for s in d.sessions] == ["start", "resume"]
        assert d.sessions[1].first_epoch == resume_at + 1


def test_generated_clean_yolov5_reference_run_findings(tmp_path):
    """E=300, nb=100: the flat hand-off rows 3-4 are on plan; only the warmup info is reported."""
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 300, spec)])
    assert causes(d) == ["warmup"]
    w = d.findings[0]
    assert w.epoch == 0 and w.data["warmup_iterations"] == 300 and w.data["batches_per_epoch"] == 100
    assert d.worst.value == "info"
    assert not d.failing(d.worst.__class__("warning"))


def test_generated_partial_run_still_being_written_is_clean(tmp_path):
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)
    run_dir = tmp_path / "exp"
    d = generated_diagnosis(run_dir, "yolov5", [SessionPlan(0, 50, spec)])
    csv = run_dir / "results.csv"
    csv.write_text(csv.read_text() + "                  50,   0.0")
    d = diagnose(read_run(run_dir))
    assert warnings_or_worse(d) == []
    assert any("incomplete" in n for n in d.notes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    e=st.integers(min_value=12, max_value=400),
    lr0=st.sampled_from([0.001, 0.002, 0.005, 0.01, 0.02, 0.1]),
    lrf=st.sampled_from([0.01, 0.05, 0.1, 0.2]),
    cos=st.booleans(),
    nb=st.integers(min_value=3, max_value=400),
    warmup=st.sampled_from([0.0, 0.5, 1.0, 3.0, 5.0]),
    resume_frac=st.floats(min_value=0.05, max_value=0.95),
    profile=st.sampled_from(["yolov5", "ultralytics-8.4", "ultralytics-8.3"]),
)
def test_generated_random_clean_configs_never_warn(
    tmp_path_factory, e, lr0, lrf, cos, nb, warmup, resume_frac, profile
):
    spec = ScheduleSpec(lr0=lr0, lrf=lrf, epochs=e, nb=nb, cos_lr=cos, warmup_epochs=warmup)
    s = min(max(int(resume_frac * e), 1), e - 1)
    sessions = [SessionPlan(0, s, spec), SessionPlan(s, e, spec, resumed=True)]
    d = generated_diagnosis(tmp_path_factory.mktemp("run") / "exp", profile, sessions)
    bad = warnings_or_worse(d)
    assert bad == [], [(f.cause.value, f.epoch, f.title) for f in bad]


def test_generated_ultralytics_82_padded_csv_without_time_is_clean(tmp_path):
    """8.0-8.2 write '%23s,' / '%23.5g,' cells and no time column."""
    from harness.generated import write_generated_run
    from lrguard.trainers import get_profile

    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=40)
    run_dir = write_generated_run(
        tmp_path / "exp",
        get_profile("ultralytics-8.3"),
        [SessionPlan(0, 30, spec), SessionPlan(30, 100, spec, resumed=True)],
    )
    csv = run_dir / "results.csv"
    lines = csv.read_text().splitlines()
    header = [h for h in lines[0].split(",") if h != "time"]
    out = [",".join(f"{h:>23s}" for h in header)]
    for ln in lines[1:]:
        cells = ln.split(",")
        del cells[1]
        out.append(",".join(f"{float(c):>23.5g}" for c in cells))
    csv.write_text("\n".join(out) + "\n")
    d = diagnose(read_run(run_dir))
    assert d.profile.name == "ultralytics-8.3" and d.run.time is None
    assert warnings_or_worse(d) == []
    assert d.spec.nb == 40


def test_real_ultralytics_84190_interrupted_and_resumed_rows_are_clean(tmp_path):
    """The LR and time values of the real 8.4.190 run in feasibility.md §1.4 (epochs=4, SGD, resumed at 3)."""
    run_dir = tmp_path / "train"
    run_dir.mkdir()
    header = (
        "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
        "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2"
    )
    rows = [
        "1,0.32,3.1,4.2,1.9,0,0,0,0,3.2,4.3,2.0,0.00166667,0.00166667,0.085",
        "2,0.88,3.0,4.1,1.9,0,0,0,0,3.1,4.2,2.0,0.0037625,0.0037625,0.0537625",
        "3,0.29,3.0,4.0,1.8,0,0,0,0,3.1,4.1,2.0,0.00420833,0.00420833,0.020875",
        "4,0.87,2.9,3.9,1.8,0,0,0,0,3.0,4.0,1.9,0.002575,0.002575,0.002575",
    ]
    (run_dir / "results.csv").write_text("\n".join([header, *rows]) + "\n")
    (run_dir / "args.yaml").write_text(
        "task: detect\nmode: train\nepochs: 4\noptimizer: SGD\nlr0: 0.01\nlrf: 0.01\nwarmup_epochs: 3.0\n"
        "warmup_bias_lr: 0.1\ncos_lr: false\nclose_mosaic: 10\ntime: null\nresume: false\n"
    )
    d = diagnose(read_run(run_dir, framework_version="8.4.190"))
    assert d.profile.name == "ultralytics-8.4"
    assert [(s.first_epoch, s.start) for s in d.sessions] == [(1, "start"), (3, "resume")]
    assert d.spec.nb == 2
    assert warnings_or_worse(d) == []
    assert float(abs(d.planned[:, 0] - d.run.lr[:, 0]).max()) < 1e-8
    inferred = diagnose(read_run(run_dir))  # no version recorded: bias in lr/pg2 + time column -> 8.4
    assert inferred.profile.name == "ultralytics-8.4" and warnings_or_worse(inferred) == []


@pytest.mark.parametrize("profile", ["ultralytics-8.4", "ultralytics-8.3"])
def test_generated_ultralytics_without_warmup_leaves_nb_unknown(tmp_path, profile):
    """warmup_epochs: 0 switches warmup off: no row depends on nb, so nb must not be reported (it was 1)."""
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50, warmup_epochs=0)
    d = generated_diagnosis(tmp_path / "exp", profile, [SessionPlan(0, 100, spec)])
    assert d.spec.nb is None
    assert d.schedule_dict()["batches_per_epoch"] is None
    assert warnings_or_worse(d) == [] and "warmup" not in causes(d)


def test_generated_yolov5_warmup_zero_still_has_the_floor_and_nb(tmp_path):
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50, warmup_epochs=0)
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 100, spec)])
    assert d.spec.nb == 50  # 100-iteration floor: 2 epochs of warmup
    assert warnings_or_worse(d) == []


def test_generated_nb_guess_near_the_warmup_pole_is_bounded():
    """Found by Hypothesis in CI: lr0 0.1, warmup 1 epoch, nb 202 made the nb guess 1 / (1 - w*r) explode.

    The candidate range around that guess asked for ~24 GB and the CI machine killed the test run.
    Run in a child with a 3 GB address-space limit, so a regression fails here instead.
    """
    import subprocess
    import sys
    from pathlib import Path

    code = f"""
import resource, sys, tempfile
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parents[1] / "src")!r}]
from conftest import generated_diagnosis, warnings_or_worse
from lrguard.schedules import ScheduleSpec, SessionPlan
spec = ScheduleSpec(lr0=0.1, lrf=0.1, epochs=58, nb=202, cos_lr=False, warmup_epochs=1.0)
d = generated_diagnosis(Path(tempfile.mkdtemp()) / "exp", "yolov5", [SessionPlan(0, 5, spec), SessionPlan(5, 58, spec, resumed=True)])
print([f.cause.value for f in warnings_or_worse(d)])
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
