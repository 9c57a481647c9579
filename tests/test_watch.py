from __future__ import annotations

import threading
import time

import pytest
import yaml

from harness.generated import write_generated_run
from lrguard.cli.main import main
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers.yolov5 import profiles as yolov5


def _source(tmp_path, jump: bool):
    s1 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=50)
    sessions = [SessionPlan(0, 174, s1), SessionPlan(174, 200, s1.with_(epochs=500 if jump else 300), resumed=True)]
    src = write_generated_run(tmp_path / "src", yolov5.CURRENT, sessions)
    return src, (src / "results.csv").read_text().splitlines(keepends=True)


def _writer(src, dst, lines, resume_row: int, delay: float, stop: threading.Event):
    """Append rows like YOLOv5 does, sometimes leaving a row half written for a moment."""
    opt = yaml.safe_load((src / "opt.yaml").read_text())
    first = {**opt, "epochs": 300, "resume": False}
    (dst / "opt.yaml").write_text(yaml.safe_dump(first))
    (dst / "hyp.yaml").write_text((src / "hyp.yaml").read_text())
    with open(dst / "results.csv", "w") as fh:
        fh.write(lines[0])
    for k, line in enumerate(lines[1:]):
        if stop.is_set():
            return
        if k == resume_row:  # --resume rewrites opt.yaml with the (edited) settings
            (dst / "opt.yaml").write_text(yaml.safe_dump({**opt, "resume": True}))
        with open(dst / "results.csv", "a") as fh:
            if k % 7 == 3:
                half = len(line) // 2
                fh.write(line[:half])
                fh.flush()
                time.sleep(delay)
                fh.write(line[half:])
            else:
                fh.write(line)
        time.sleep(delay)


def _watch(tmp_path, capsys, jump: bool, *extra: str) -> tuple[int, str, threading.Thread]:
    src, lines = _source(tmp_path, jump)
    dst = tmp_path / "live"
    dst.mkdir()
    stop = threading.Event()
    t = threading.Thread(target=_writer, args=(src, dst, lines, 174, 0.004, stop), daemon=True)
    t.start()
    try:
        rc = main(["watch", str(dst), "--interval", "0.05", "--timeout", "60", *extra])
    finally:
        stop.set()
        t.join(5)
    return rc, capsys.readouterr().out, t


def test_watch_catches_the_jump_while_the_run_is_written(tmp_path, capsys):
    rc, out, _ = _watch(tmp_path, capsys, True, "--fail-on", "warning")
    assert rc == 1, out
    assert "epochs-changed-on-resume" in out
    warn = [ln for ln in out.splitlines() if "WARNING" in ln or "ERROR" in ln]
    assert warn and "epochs-changed-on-resume" in warn[0], out  # nothing failed before the jump
    assert "exit 1" in out


def test_watch_ends_cleanly_when_the_planned_last_epoch_is_logged(tmp_path, capsys):
    src, lines = _source(tmp_path, False)
    # a clean 200-row run whose opt.yaml says 200 epochs
    s = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=60, nb=50)
    src = write_generated_run(tmp_path / "clean", yolov5.CURRENT, [SessionPlan(0, 60, s)])
    lines = (src / "results.csv").read_text().splitlines(keepends=True)
    dst = tmp_path / "live2"
    dst.mkdir()
    (dst / "opt.yaml").write_text((src / "opt.yaml").read_text())
    stop = threading.Event()

    def write():
        with open(dst / "results.csv", "w") as fh:
            fh.write(lines[0])
        for line in lines[1:]:
            with open(dst / "results.csv", "a") as fh:
                fh.write(line)
            time.sleep(0.005)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    rc = main(["watch", str(dst), "--interval", "0.05", "--timeout", "60", "--fail-on", "warning", "--json"])
    stop.set()
    t.join(5)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert '"event": "finished"' in out


def test_watch_waits_for_a_file_and_times_out(tmp_path, capsys):
    d = tmp_path / "empty"
    d.mkdir()
    assert main(["watch", str(d), "--interval", "0.05", "--timeout", "0.3"]) == 0
    assert "timeout" in capsys.readouterr().out


def test_watch_stops_when_the_trainer_strips_last_pt(tmp_path, capsys):
    import pickle

    s = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=50)
    run = write_generated_run(tmp_path / "run", yolov5.CURRENT, [SessionPlan(0, 120, s)])  # early stop at 120 of 300
    (run / "weights").mkdir()
    with open(run / "weights" / "last.pt", "wb") as fh:  # what strip_optimizer leaves (as a plain pickle)
        pickle.dump({"epoch": -1, "optimizer": None, "ema": None, "updates": None, "model": None}, fh)
    assert main(["watch", str(run), "--interval", "0.05", "--timeout", "20", "--fail-on", "warning"]) == 0
    assert "stripped" in capsys.readouterr().out


def _v5_run(tmp_path):
    s = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=50)
    return write_generated_run(tmp_path / "run", yolov5.CURRENT, [SessionPlan(0, 20, s)])


def test_watch_ends_with_2_on_a_yaml_that_stays_broken(tmp_path, capsys):
    run = _v5_run(tmp_path)
    (run / "opt.yaml").write_text("epochs: [300\n")
    t0 = time.monotonic()
    assert main(["watch", str(run), "--interval", "0.05", "--timeout", "30"]) == 2
    assert time.monotonic() - t0 < 10  # not waiting for the timeout
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(run / "opt.yaml") in err and "YAML does not parse" in err


def test_watch_ends_with_2_on_a_binary_results_csv(tmp_path, capsys):
    run = _v5_run(tmp_path)
    (run / "results.csv").write_bytes(b"\x00\x01\x02garbage" * 100)
    assert main(["watch", str(run), "--interval", "0.05", "--timeout", "30", "--json"]) == 2
    cap = capsys.readouterr()
    assert str(run / "results.csv") in cap.err
    import json

    last = json.loads(cap.out.splitlines()[-1])
    assert last["event"] == "error" and str(run / "results.csv") in last["message"]


def test_watch_gives_a_file_caught_mid_rewrite_one_more_check(tmp_path):
    from lrguard.cli.watch import Watcher
    from lrguard.errors import LrguardError

    run = _v5_run(tmp_path)
    good = (run / "opt.yaml").read_text()
    w = Watcher(run)
    w.poll()
    (run / "opt.yaml").write_text(good[: len(good) // 3] + "\n  - [")  # caught while the trainer rewrites it
    (run / "results.csv").write_text((run / "results.csv").read_text())  # a new stamp: read again
    assert w.poll() == ([], False) and w.last_error
    (run / "opt.yaml").write_text(good)  # the rewrite finished
    w.poll()
    assert w.last_error is None
    (run / "opt.yaml").write_text("epochs: [300\n")
    (run / "results.csv").write_text((run / "results.csv").read_text() + "\n")  # the next row's stamp
    w.poll()
    with pytest.raises(LrguardError):
        w.poll()  # still broken on the next check: permanent
