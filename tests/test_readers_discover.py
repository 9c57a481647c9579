"""Finding the run directory (readers.discover)."""

from __future__ import annotations

import os

import pytest

from lrguard.errors import NotARunError
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
    assert notes and "most recently" in notes[0]
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
    with pytest.raises(NotARunError) as info:
        find_run_dir(target)
    assert str(target) in str(info.value)
    assert "\n" not in str(info.value)
