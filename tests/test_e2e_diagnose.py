"""End to end: `lrguard diagnose` on run directories written by the real, unmodified trainers.

Every scenario of :data:`harness.realruns.SCENARIOS` trains YOLOv5 7.0.14 or Ultralytics
8.4.190 offline on CPU (see ``real_runs`` in conftest.py). For each, the diagnosis must name every
expected cause at the expected epoch at warning or error, and a clean scenario must raise nothing at
warning or above. The expected epoch is recorded per run in ``scenario.json`` (for ``time=`` and the
diverging runs it depends on the run and is read off the results there).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.realruns import SCENARIOS, load_scenario_json

pytestmark = [pytest.mark.trainers, pytest.mark.slow]


def _diagnose_json(run_dir) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", "--json", str(run_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert not proc.stderr.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_real_run_diagnosis(real_runs, name):
    run_dir = real_runs[name]
    expected = load_scenario_json(run_dir)["expected"]
    code, report = _diagnose_json(run_dir)
    problems = [(f["cause"], f["epoch"]) for f in report["findings"] if f["severity"] in ("warning", "error")]
    assert report["framework"] == SCENARIOS[name].framework
    if not expected:
        assert problems == [], f"{name} is clean but lrguard reported {problems}"
        assert code == 0
        return
    for exp in expected:
        assert (exp["cause"], exp["epoch"]) in problems, f"{name}: expected {exp}, got {problems}"
    assert code == 1
    for f in report["findings"]:
        if f["severity"] in ("warning", "error"):
            assert f["fix"], f"{name}: {f['cause']} has no fix"
            assert f["evidence"], f"{name}: {f['cause']} has no evidence"


def test_seed_like_case_is_explained(real_runs):
    """The brief's case on a real YOLOv5 run: epochs edited in opt.yaml before --resume."""
    run_dir = real_runs["yolov5/epochs-changed"]
    _, report = _diagnose_json(run_dir)
    (finding,) = [f for f in report["findings"] if f["cause"] == "epochs-changed-on-resume"]
    assert finding["data"]["implied_epochs_before"] == 10
    assert finding["data"]["implied_epochs_after"] == 20
    assert finding["data"]["lr_after"] > finding["data"]["lr_before"]
    assert "epochs: 10" in finding["fix"]


def test_sessions_seen_in_real_runs(real_runs):
    """Resume boundaries: YOLOv5 through its per-process event files, Ultralytics through `time`."""
    for name, first_resumed in (("yolov5/resume", 5), ("ultralytics/resume", 5)):
        _, report = _diagnose_json(real_runs[name])
        starts = [s["first_epoch"] for s in report["sessions"]]
        assert starts == [report["sessions"][0]["first_epoch"], first_resumed], (name, report["sessions"])


def test_checkpoint_facts_of_real_interrupted_run(real_runs):
    """The diagnosis reads the real last.pt without torch and names the trainer version."""
    _, report = _diagnose_json(real_runs["ultralytics/interrupted"])
    assert report["framework_version"] == "8.4.190"
    assert report["profile"] == "ultralytics-8.4"


def test_resume_jump_predicted_before_it_happens(real_runs, tmp_path):
    """An interrupted real YOLOv5 run whose opt.yaml was edited: diagnose warns before --resume."""
    import shutil

    run = tmp_path / "exp"
    shutil.copytree(real_runs["yolov5/interrupted"], run)
    opt = run / "opt.yaml"
    opt.write_text(opt.read_text(encoding="utf-8").replace("\nepochs: 10\n", "\nepochs: 20\n"), encoding="utf-8")
    code, report = _diagnose_json(run)
    (pred,) = [f for f in report["findings"] if f["data"].get("predicted")]
    assert pred["cause"] == "epochs-changed-on-resume"
    assert pred["severity"] == "warning" and pred["epoch"] is None
    assert pred["data"]["lr_after"] > pred["data"]["lr_before"]
    assert code == 1
    # The unedited original resumes seamlessly: a note, no finding.
    code, report = _diagnose_json(real_runs["yolov5/interrupted"])
    assert code == 0
    assert any("seamlessly" in n for n in report["notes"])


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [("ultralytics/epochs-changed-small", 8, 10), ("yolov5/epochs-changed-small", 10, 12)],
)
def test_small_epochs_edit_without_a_step_is_named_with_both_totals(real_runs, name, before, after):
    """An edit that only slows the decay (no row rises): the totals fitted on either side of the resume."""
    _, report = _diagnose_json(real_runs[name])
    (finding,) = [f for f in report["findings"] if f["severity"] in ("warning", "error")]
    assert finding["cause"] == "epochs-changed-on-resume"
    assert (finding["data"]["implied_epochs_before"], finding["data"]["implied_epochs_after"]) == (before, after)
    assert finding["data"]["lr_after"] < finding["data"]["lr_before"]  # no upward step anywhere
    assert "decays more slowly" in finding["title"] and finding["fix"]


def test_small_train_args_edit_against_the_original_args_yaml(real_runs, tmp_path):
    """The same run with args.yaml saying the original 8 epochs (8.4.190 rewrote it to 10 on resume).

    The rows after the resume then follow a schedule no file of the run records: still
    epochs-changed-on-resume at the first resumed row, and the evidence says the files disagree.
    """
    import shutil

    import yaml

    run = tmp_path / "exp"
    shutil.copytree(real_runs["ultralytics/epochs-changed-small"], run, ignore=shutil.ignore_patterns("weights"))
    args = yaml.safe_load((run / "args.yaml").read_text(encoding="utf-8"))
    assert args["epochs"] == 10
    args["epochs"] = 8
    (run / "args.yaml").write_text(yaml.safe_dump(args, sort_keys=False), encoding="utf-8")
    _, report = _diagnose_json(run)
    problems = [(f["cause"], f["epoch"]) for f in report["findings"] if f["severity"] in ("warning", "error")]
    assert problems == [("epochs-changed-on-resume", 5)], problems
    (finding,) = [f for f in report["findings"] if f["cause"] == "epochs-changed-on-resume"]
    assert (finding["data"]["implied_epochs_before"], finding["data"]["implied_epochs_after"]) == (8, 10)
    assert any("args.yaml says epochs: 8, yet the LR follows 10" in e for e in finding["evidence"])
