"""``lrguard run``: the resume pre-flight around an unmodified training command.

The real-trainer tests take the interrupted YOLOv5 7.0.14 run (10 epochs planned, stopped after
epoch 4), edit ``epochs`` in its opt.yaml to 15 (the seed's mistake, small), and run the real
``python -m yolov5.train --resume`` through ``lrguard run`` under each policy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import lrguard
from lrguard.cli.main import main
from lrguard.trainers import get_trainer

SRC = str(Path(lrguard.__file__).resolve().parent.parent)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "train.py", "--resume", "runs/exp/weights/last.pt"], "runs/exp/weights/last.pt"),
        (["python", "-m", "yolov5.train", "--img", "64", "--resume=r/last.pt"], "r/last.pt"),
        (["yolov5", "train", "--resume", "a/b.pt", "--epochs", "3"], "a/b.pt"),
        (["python", "train.py", "--weights", "runs/exp/weights/last.pt"], None),  # a new run, not a resume
        (["python", "other.py", "--resume", "x.pt"], None),
    ],
)
def test_yolov5_resume_checkpoint_from_the_command(tmp_path, argv, expected):
    got = get_trainer("yolov5").resume_checkpoint(argv, tmp_path)
    assert got == (None if expected is None else (tmp_path / expected).resolve())


def test_yolov5_bare_resume_takes_the_newest_last_pt(tmp_path):
    for name in ("exp", "exp2"):
        (tmp_path / "runs" / "train" / name / "weights").mkdir(parents=True)
    old, new = (tmp_path / "runs/train/exp/weights/last.pt"), (tmp_path / "runs/train/exp2/weights/last.pt")
    old.write_bytes(b"x")
    time.sleep(0.02)  # YOLOv5 picks by ctime (os.path.getctime), as lrguard's discovery does
    new.write_bytes(b"y")
    assert get_trainer("yolov5").resume_checkpoint(["python", "train.py", "--resume"], tmp_path) == new


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["yolo", "train", "resume", "model=runs/detect/train/weights/last.pt"], "runs/detect/train/weights/last.pt"),
        (["yolo", "train", "resume=w/last.pt"], "w/last.pt"),
        (["yolo", "train", "model=yolo11n.pt", "data=coco8.yaml"], None),
        (["yolo", "train", "resume=False", "model=w/last.pt"], None),
    ],
)
def test_ultralytics_resume_checkpoint_from_the_command(tmp_path, argv, expected):
    got = get_trainer("ultralytics").resume_checkpoint(argv, tmp_path)
    assert got == (None if expected is None else (tmp_path / expected).resolve())


def test_not_a_resume_runs_the_command_and_passes_its_exit_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--", sys.executable, "-c", "import sys; sys.exit(7)"]) == 7
    assert "not a resume" in capsys.readouterr().err


def test_missing_checkpoint_is_one_line_exit_2_and_nothing_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "ran"
    assert main(["run", "--", "python", "train.py", "--resume", "nope/last.pt", "--x", str(marker)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "last.pt" in err and "no such checkpoint" in err
    assert not marker.exists()


def test_no_command_is_a_usage_error(capsys):
    assert main(["run"]) == 2


# --- the real YOLOv5 trainer ---------------------------------------------------------------------


@pytest.fixture
def edited_run(real_runs, realruns_cache, tmp_path):
    """A copy of the interrupted run with epochs 10 -> 15 in opt.yaml, and the environment to train it."""
    from harness.offline import prepare_offline

    src = real_runs["yolov5/interrupted"]
    work = tmp_path / "work"
    run_dir = work / "runs" / "exp"
    shutil.copytree(src, run_dir)
    opt = yaml.safe_load((run_dir / "opt.yaml").read_text())
    assert opt["epochs"] == 10
    opt["epochs"] = 15
    # YOLOv5's --resume trains into opt.yaml's save_dir, wherever the run directory is now: a copy
    # must point it at itself, or the resume writes into the original (observed with 7.0.14).
    opt["save_dir"] = str(run_dir)
    (run_dir / "opt.yaml").write_text(yaml.safe_dump(opt, sort_keys=False))
    env = {**os.environ, **prepare_offline(realruns_cache), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH", "")) if p)
    return work, run_dir, env


def _lrguard_run(work: Path, env: dict[str, str], policy: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "lrguard", "run", "--policy", policy, "--"]
    cmd += [sys.executable, "-m", "yolov5.train", "--resume", "runs/exp/weights/last.pt"]
    return subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900)


def _rows(run_dir: Path) -> int:
    return len((run_dir / "results.csv").read_text().strip().splitlines()) - 1


@pytest.mark.trainers
@pytest.mark.slow
def test_stop_exits_before_training_with_the_fix(edited_run):
    work, run_dir, env = edited_run
    rows = _rows(run_dir)
    res = _lrguard_run(work, env, "stop")
    assert res.returncode == 3, res.stderr[-2000:]
    assert "[stop]" in res.stderr and "epochs: checkpoint 10 -> opt.yaml 15" in res.stderr and "fix:" in res.stderr
    assert _rows(run_dir) == rows  # nothing trained
    (event,) = [json.loads(x) for x in (run_dir / "lrguard-events.jsonl").read_text().splitlines()]
    assert event["action"] == "stop" and event["signal"] == "resume-lr" and event["value"] > event["expected"]


@pytest.mark.trainers
@pytest.mark.slow
def test_warn_prints_the_finding_before_the_first_resumed_batch(edited_run):
    work, run_dir, env = edited_run
    res = _lrguard_run(work, env, "warn")
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stderr
    assert "[warn]" in out and out.index("[warn]") < out.index("Resuming training")
    assert _rows(run_dir) == 15  # the trainer went on: 15 epochs, the jump included
    d = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", "--json", str(run_dir)], env=env, capture_output=True, text=True
    )
    assert "epochs-changed-on-resume" in d.stdout  # what warn let through, found afterwards


@pytest.mark.trainers
@pytest.mark.slow
def test_continue_curve_trains_a_run_that_diagnose_finds_clean(edited_run):
    work, _, env = edited_run
    res = _lrguard_run(work, env, "continue-curve")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "[continue-curve]" in res.stderr and "wrote" in res.stderr
    new = work / "runs" / "exp-continue"
    assert _rows(new) == 15 - 5  # the epochs left to the edited total
    assert (work / "runs" / "exp-hyp-continue.yaml").is_file()  # beside the run directory, not inside it
    d = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", "--json", "--fail-on", "warning", str(new)],
        env=env,
        capture_output=True,
        text=True,
    )
    report = json.loads(d.stdout)
    warnings = [f["cause"] for f in report["findings"] if f["severity"] != "info"]
    lr_warnings = [c for c in warnings if c not in ("nonfinite", "loss-spike", "close-mosaic")]
    assert lr_warnings == [], d.stdout[-3000:]
