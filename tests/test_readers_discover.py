"""Finding the run directory (readers.discover)."""

from __future__ import annotations

import os

import pytest

from lrguard.errors import LrguardError, NotARunError, NotReadyError, RunNotStartedError
from lrguard.readers.discover import find_run_dir


def make_run(d, mtime=None):
    d.mkdir(parents=True)
    f = d / "results.csv"
    f.write_text("epoch,x/lr0\n0,0.07\n")
    if mtime is not None:
        os.utime(f, (mtime, mtime))
    return d


def test_explicit_dir_and_csv(tmp_path):
    run = make_run(tmp_path / "exp")
    assert find_run_dir(run) == (run, [])
    assert find_run_dir(run / "results.csv") == (run, [])


def test_newest_run_under_runs_is_picked(tmp_path, monkeypatch):
    make_run(tmp_path / "runs" / "train" / "exp", mtime=1_000_000)
    newest = make_run(tmp_path / "runs" / "train" / "exp2", mtime=3_000_000)
    make_run(tmp_path / "runs" / "detect" / "train", mtime=2_000_000)
    monkeypatch.chdir(tmp_path)
    run, notes = find_run_dir(None)
    assert run.resolve() == newest.resolve()
    assert notes and "most recently written results.csv" in notes[0]
    assert find_run_dir(tmp_path)[0] == newest


def test_hidden_dirs_ignored(tmp_path):
    make_run(tmp_path / "runs" / ".trash" / "exp", mtime=9_000_000)
    visible = make_run(tmp_path / "runs" / "exp", mtime=1_000_000)
    assert find_run_dir(tmp_path)[0] == visible


def test_pt_file_is_not_a_run(tmp_path):
    pt = tmp_path / "last.pt"
    pt.write_bytes(b"PK\x03\x04")
    with pytest.raises(NotARunError) as info:
        find_run_dir(pt)
    assert str(pt) in str(info.value) and "not a run directory" in str(info.value)


@pytest.mark.parametrize("what", ["empty", "missing"])
def test_empty_or_missing_dir(tmp_path, what):
    target = tmp_path / "exp"
    if what == "empty":
        target.mkdir()
    # an empty folder is a run the trainer just created: not ready yet (watch waits), still an error
    assert issubclass(RunNotStartedError, NotReadyError)
    with pytest.raises(RunNotStartedError if what == "empty" else NotARunError) as info:
        find_run_dir(target)
    assert str(target) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_folder_of_other_files_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(NotARunError):
        find_run_dir(tmp_path)


def _touch_in_order(*paths):
    """Create files one after the other so that their change times (ctime) follow that order."""
    import time

    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"PK")
        time.sleep(0.02)


def test_default_run_is_the_one_a_bare_resume_takes(tmp_path, monkeypatch):
    """YOLOv5/Ultralytics --resume: the newest last*.pt below, by change time; not the newest results.csv."""
    resumed = make_run(tmp_path / "runs" / "train" / "exp", mtime=1_000_000)
    other = make_run(tmp_path / "runs" / "train" / "exp2")  # the newest results.csv
    _touch_in_order(other / "weights" / "last.pt", resumed / "weights" / "last.pt")
    os.utime(other / "results.csv")  # written after both checkpoints: the old rule would pick exp2
    monkeypatch.chdir(tmp_path)
    run, notes = find_run_dir(None)
    assert run.resolve() == resumed.resolve()
    assert "a bare --resume would take" in notes[0] and "last.pt" in notes[0]


def test_last_star_pt_outside_weights_and_fallback_to_results(tmp_path):
    run = make_run(tmp_path / "runs" / "a")
    _touch_in_order(run / "last_ema.pt")
    assert find_run_dir(tmp_path)[0] == run
    (run / "last_ema.pt").unlink()
    import time

    newest = make_run(tmp_path / "runs" / "b", mtime=time.time() + 1000)
    run2, notes = find_run_dir(tmp_path)
    assert run2 == newest and "no last*.pt" in notes[0]


def test_picked_checkpoint_without_results_is_named(tmp_path):
    make_run(tmp_path / "runs" / "a", mtime=1_000_000)
    _touch_in_order(tmp_path / "runs" / "b" / "weights" / "last.pt")
    with pytest.raises(NotARunError) as info:
        find_run_dir(tmp_path)
    assert str(tmp_path / "runs" / "b") in str(info.value) and "no results.csv" in str(info.value)


def test_unreadable_dir_is_an_lrguard_error(tmp_path, monkeypatch):
    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "listdir", denied)
    with pytest.raises(LrguardError) as info:
        find_run_dir(tmp_path)
    assert info.value.one_line() == f"{tmp_path}: cannot read: permission denied"


def test_cli_names_the_picked_run_on_stderr_before_the_findings(tmp_path, monkeypatch):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "examples" / "yolov5" / "clean", tmp_path / "runs" / "train" / "exp")
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("lrguard: diagnosing runs/train/exp") or first.startswith(
        f"lrguard: diagnosing {tmp_path}"
    ), first
    assert "diagnosing" not in proc.stdout
