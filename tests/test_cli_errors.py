"""Bad input across every command: one line on stderr naming the file, exit 2, no traceback, nothing written.

The matrix crosses every command that reads a run or a checkpoint with the ways input goes wrong in
real use. Unreadable files and folders are tested as an unprivileged user (see ``_cli_child``).
"""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from _cli_child import UNREACHABLE, Result, permissions_testable, run_cli, shared_tmpdir
from conftest import tree_digest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def write_checkpoint(path: Path, epoch: int = 9, epochs: int = 10) -> Path:
    """A small YOLOv5-style torch-zip checkpoint (plain pickle of the top-level dict, no tensors)."""
    root = {
        "epoch": epoch,
        "best_fitness": 0.1,
        "model": None,
        "ema": None,
        "updates": 100 * (epoch + 1),
        "optimizer": {
            "state": {},
            "param_groups": [
                {"lr": 0.005, "initial_lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005, "params": [j]}
                for j in range(3)
            ],
        },
        "opt": {"epochs": epochs, "cos_lr": False, "batch_size": 16, "hyp": {"lr0": 0.01, "lrf": 0.01}},
        "date": "2026-01-01T00:00:00",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{path.stem}/data.pkl", pickle.dumps(root, protocol=2))
        zf.writestr(f"{path.stem}/version", "3\n")
    return path


@pytest.fixture
def work():
    """A folder an unprivileged user can enter, holding a YOLOv5 run with weights/last.pt."""
    base = shared_tmpdir()
    run = base / "run"
    shutil.copytree(EXAMPLES / "yolov5" / "clean", run)
    write_checkpoint(run / "weights" / "last.pt")
    for p in [base, *base.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    try:
        yield base
    finally:
        for p in [base, *base.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(base)


# --- the ways input goes wrong; each returns the path the message must name -------------------------


def missing(run: Path, command: str = "") -> Path:
    shutil.rmtree(run)
    return run


def unreadable_dir(run: Path, command: str = "") -> Path:
    target = run / "weights" if command == "ckpt-show" else run
    target.chmod(0)
    return target


def unreadable_file(run: Path, command: str = "") -> Path:
    target = run / "weights" / "last.pt" if command.startswith("ckpt") else run / "results.csv"
    target.chmod(0)
    return target


def garbage(run: Path, command: str = "") -> Path:
    """Binary junk where results.csv (or, for the ckpt commands, last.pt) should be."""
    target = run / "weights" / "last.pt" if command.startswith("ckpt") else run / "results.csv"
    target.write_bytes(bytes(range(256)) * 8)
    return target


def broken_yaml(run: Path, command: str = "") -> Path:
    (run / "opt.yaml").write_text("epochs: [1, 2\nhyp: {lr0: 0.01\n")
    return run / "opt.yaml"


def truncated_ckpt(run: Path, command: str = "") -> Path:
    f = run / "weights" / "last.pt"
    f.write_bytes(f.read_bytes()[:200])
    return f


def being_written(run: Path, command: str = "") -> Path:
    """results.csv as the trainer leaves it after the header, with the first row half written."""
    lines = (run / "results.csv").read_text().splitlines(keepends=True)
    (run / "results.csv").write_text(lines[0] + lines[1][:40])
    return run / "results.csv"


CASES: dict[str, Callable[[Path, str], Path]] = {
    "missing": missing,
    "unreadable-dir": unreadable_dir,
    "unreadable-file": unreadable_file,
    "garbage": garbage,
    "broken-yaml": broken_yaml,
    "truncated-checkpoint": truncated_ckpt,
    "being-written": being_written,
}
NEEDS_PERMISSIONS = {"unreadable-dir", "unreadable-file"}


@dataclass(frozen=True)
class Command:
    """How to call one command on the run, and where it writes (outside the run)."""

    name: str
    argv: Callable[[Path, Path], list[str]]


COMMANDS = {
    "diagnose": Command("diagnose", lambda run, out: ["diagnose", str(run)]),
    "diagnose-html": Command("diagnose-html", lambda run, out: ["diagnose", "--html", str(out / "r.html"), str(run)]),
    "continue": Command("continue", lambda run, out: ["continue", str(run), "--epochs", "5", "--out", str(out)]),
    "watch": Command("watch", lambda run, out: ["watch", str(run), "--interval", "0.05", "--timeout", "3"]),
    "ckpt-show": Command("ckpt-show", lambda run, out: ["ckpt", "show", str(run / "weights" / "last.pt")]),
    "ckpt-last-good": Command("ckpt-last-good", lambda run, out: ["ckpt", "last-good", str(run)]),
}

# (command, case) pairs that are not bad input for that command, with what it must do instead.
NOT_BAD_INPUT = {
    # a trainer killed while saving leaves a torn last.pt; the run's own files still tell the story
    ("diagnose", "truncated-checkpoint"): "diagnosed, the checkpoint named",
    ("diagnose-html", "truncated-checkpoint"): "diagnosed, the checkpoint named",
    ("watch", "truncated-checkpoint"): "a last.pt being saved: keeps following the run",
    ("watch", "being-written"): "keeps waiting for the first complete row",
    # last-good's answer for a directory without an intact checkpoint is exit 1, listing why each failed
    ("ckpt-last-good", "truncated-checkpoint"): "exit 1, the file listed as corrupt",
    ("ckpt-last-good", "garbage"): "exit 1, the file listed as corrupt",
}
# (command, case) pairs where the case does not touch what the command reads.
# (a broken opt.yaml next to a checkpoint is context for the resume check, not the file asked about)
IRRELEVANT = {
    ("ckpt-show", "broken-yaml"),
    ("ckpt-show", "being-written"),
    ("ckpt-last-good", "broken-yaml"),
    ("ckpt-last-good", "being-written"),
}


def _assert_one_line(res: Result, named: Path) -> None:
    assert "Traceback" not in res.err, res.err
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1, res.err
    assert lines[0].startswith("lrguard: "), lines
    assert str(named) in lines[0], (named, lines[0])


def _run(work: Path, command: str, case: str) -> tuple[Result, Path, dict]:
    run = work / "run"
    out = work / "out"
    out.mkdir()
    out.chmod(0o777)
    if case in NEEDS_PERMISSIONS:  # digest first: root reads everything; compared once permissions are back
        before = tree_digest(run)
        named = CASES[case](run, command)
    else:
        named = CASES[case](run, command)
        before = tree_digest(run) if run.exists() else None
    res = run_cli(COMMANDS[command].argv(run, out), unprivileged=case in NEEDS_PERMISSIONS, cwd=work)
    if res.rc == UNREACHABLE:
        pytest.skip("the temporary folder is not reachable by the unprivileged user")
    if case in NEEDS_PERMISSIONS:
        for p in [run, *run.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    if before is not None:
        assert tree_digest(run) == before, "the command changed the run directory"
    return res, named, {"out": out}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_input_is_one_line_and_exit_2(work, command, case):
    if (command, case) in IRRELEVANT:
        pytest.skip(f"{case} does not touch what {command} reads")
    if case in NEEDS_PERMISSIONS and (why := permissions_testable()) is not None:
        pytest.skip(why)
    res, named, extra = _run(work, command, case)
    expected = NOT_BAD_INPUT.get((command, case))
    if expected is None:
        assert res.rc == 2, (res.rc, res.out, res.err)
        _assert_one_line(res, named)
        assert not any(extra["out"].iterdir()), "a file was written despite the bad input"
        return
    assert "Traceback" not in res.err, res.err
    if command.startswith("diagnose"):
        assert res.rc in (0, 1), res.err
        assert str(named) in res.out + res.err
    elif command == "watch":
        assert res.rc == 0, (res.out, res.err)
        if case == "being-written":
            assert "waiting" in res.out and "timeout" in res.out
    else:  # last-good
        assert res.rc == 1 and "corrupt" in " ".join(res.out.split()), res.out


def test_watch_fails_on_a_run_that_is_not_a_run(work):
    d = work / "notes"
    d.mkdir()
    (d / "README.txt").write_text("not a training run\n")
    res = run_cli(["watch", str(d), "--interval", "0.05", "--timeout", "5"])
    assert res.rc == 2, (res.out, res.err)
    _assert_one_line(res, d)


def test_watch_waits_for_a_run_directory_the_trainer_just_created(work):
    run = work / "run"
    (run / "results.csv").unlink()
    res = run_cli(["watch", str(run), "--interval", "0.05", "--timeout", "0.5"])
    assert res.rc == 0 and "waiting" in res.out and "no results.csv yet" in res.out, (res.out, res.err)


def test_an_oserror_at_the_cli_boundary_is_one_line(tmp_path, monkeypatch, capsys):
    """The central net: an OSError that a reader did not turn into an error of its own is one line, exit 2."""
    import lrguard.plan
    from lrguard.cli.main import main

    def unreadable(**kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x.yaml"))

    monkeypatch.setattr(lrguard.plan, "build_config", unreadable)
    assert main(["plan", "--epochs", "3"]) == 2
    assert capsys.readouterr().err == f"lrguard: {tmp_path / 'x.yaml'}: permission denied\n"


def test_an_unwritable_report_path_is_one_line(work):
    if (why := permissions_testable()) is not None:
        pytest.skip(why)
    out = work / "locked"
    out.mkdir(mode=0o755)
    res = run_cli(["diagnose", "--html", str(out / "r.html"), str(work / "run")], unprivileged=True, cwd=work)
    assert res.rc == 2, (res.out, res.err)
    assert res.err.strip().splitlines()[-1] == f"lrguard: {out / 'r.html'}: permission denied"


@pytest.mark.parametrize("case", ["missing", "unreadable-file", "unreadable-dir", "broken-yaml"])
def test_plan_bad_config_file(work, case):
    run = work / "run"
    opt = run / "opt.yaml"
    if case == "missing":
        opt.unlink()
    elif case == "unreadable-file":
        opt.chmod(0)
    elif case == "unreadable-dir":
        run.chmod(0)
    else:
        broken_yaml(run)
    if case.startswith("unreadable") and (why := permissions_testable()) is not None:
        pytest.skip(why)
    res = run_cli(["plan", "--opt", str(opt), "--nb", "10"], unprivileged=case.startswith("unreadable"), cwd=work)
    assert res.rc == 2, (res.out, res.err)
    _assert_one_line(res, opt)


def test_no_command_writes_into_an_unreadable_run(work):
    """Even when it fails, nothing lands in the run directory (checked as root after the run)."""
    if (why := permissions_testable()) is not None:
        pytest.skip(why)
    run = work / "run"
    (run / "results.csv").chmod(0)
    before = set(os.listdir(run))
    res = run_cli(["continue", str(run), "--epochs", "5"], unprivileged=True, cwd=work)
    assert res.rc == 2
    assert set(os.listdir(run)) == before


@pytest.mark.parametrize("command", ["diagnose", "continue", "watch"])
def test_a_profile_of_the_other_framework_is_refused(work, command):
    run = work / "run"  # a YOLOv5 run
    extra = {"continue": ["--epochs", "5", "--out", str(work / "o")], "watch": ["--timeout", "3"]}.get(command, [])
    res = run_cli([command, str(run), "--profile", "ultralytics-8.4", *extra])
    assert res.rc == 2, (res.out, res.err)
    _assert_one_line(res, run / "results.csv")
    assert "is a yolov5 run; --profile ultralytics-8.4 is for ultralytics" in res.err


def test_a_9_byte_header_without_newline_is_not_called_empty(work):
    csv = work / "run" / "results.csv"
    csv.write_bytes(b"epoch,lr0")
    res = run_cli(["diagnose", str(work / "run")])
    assert res.rc == 2
    _assert_one_line(res, csv)
    assert "empty" not in res.err and "9 bytes without a newline" in res.err
