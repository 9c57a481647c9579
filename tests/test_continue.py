from __future__ import annotations

import json
import os

import numpy as np
import pytest
import yaml

from harness.generated import write_generated_run
from lrguard.cli.main import main
from lrguard.diagnosis import diagnose
from lrguard.model import Severity
from lrguard.plan.continuation import build_continuation, write_continuation
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers.ultralytics import profiles as ultralytics
from lrguard.trainers.yolov5 import profiles as yolov5


def _finished(tmp_path, profile, name="old", epochs=300, nb=50):
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=epochs, nb=nb)
    return write_generated_run(tmp_path / name, profile, [SessionPlan(0, epochs, spec)])


@pytest.mark.parametrize("profile", [yolov5.CURRENT, ultralytics.V8_4])
def test_continuation_starts_where_the_run_ended_and_has_no_jump(tmp_path, profile):
    old = _finished(tmp_path, profile)
    d = diagnose(read_run(old))
    cont = build_continuation(d, 100)
    last = float(d.run.lr[-1, d.reference_group])
    assert cont.lr0 == pytest.approx(last, rel=1e-5)
    assert cont.settings["warmup_epochs"] == 0
    assert cont.settings["warmup_bias_lr"] == pytest.approx(cont.lr0)
    assert cont.lr_end == pytest.approx(0.0001)
    assert cont.plan is not None and cont.plan.jumps == []
    if profile.framework == "yolov5":
        assert {"box", "obj", "mosaic"} <= set(cont.settings)  # a complete hyp file train.py can read
    else:
        assert cont.settings["optimizer"] == "SGD" and cont.settings["epochs"] == 100

    # Train the continuation "for real" with the schedule maths: a new run from the old weights.
    new_spec = ScheduleSpec(
        lr0=cont.lr0, lrf=cont.lrf, epochs=100, warmup_epochs=0.0, warmup_bias_lr=cont.settings["warmup_bias_lr"], nb=50
    )
    key = "weights" if profile.framework == "yolov5" else "model"
    cfg = {key: str(old / "weights" / "last.pt"), "warmup_epochs": 0.0}
    if profile.framework == "yolov5":
        cfg["hyp"] = {k: cont.settings[k] for k in ("lr0", "lrf", "warmup_epochs", "warmup_bias_lr", "momentum")}
    new = write_generated_run(tmp_path / "new", profile, [SessionPlan(0, 100, new_spec)], config=cfg)
    dn = diagnose(read_run(new))
    problems = [f for f in dn.findings if f.severity is not Severity.INFO]
    assert problems == [], [f.title for f in problems]
    restart = [f for f in dn.findings if f.cause.value == "restart-from-weights"]
    assert restart and restart[0].severity is Severity.INFO
    assert float(np.nanmax(dn.run.lr)) <= last * (1 + 1e-4)


def test_a_plain_restart_is_still_a_warning(tmp_path):
    old = _finished(tmp_path, yolov5.CURRENT)
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=50, nb=50)
    new = write_generated_run(
        tmp_path / "new",
        yolov5.CURRENT,
        [SessionPlan(0, 50, spec)],
        config={"weights": str(old / "weights" / "last.pt")},
    )
    dn = diagnose(read_run(new))
    assert any(f.cause.value == "restart-from-weights" and f.severity is Severity.WARNING for f in dn.findings)


def test_cli_writes_file_and_prints_command(tmp_path, capsys):
    old = _finished(tmp_path, yolov5.CURRENT)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["continue", str(old), "--epochs", "50", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    hyp = yaml.safe_load((out / "hyp-continue.yaml").read_text())
    assert hyp["lr0"] == pytest.approx(doc["lr_last"], rel=1e-5)
    assert hyp["warmup_epochs"] == 0 and hyp["warmup_bias_lr"] == hyp["lr0"]
    assert doc["command"].startswith("python train.py --weights ")
    assert f"--hyp {out / 'hyp-continue.yaml'}" in doc["command"] and "--epochs 50" in doc["command"]
    assert doc["planned_jumps"] == 0
    assert not (old / "hyp-continue.yaml").exists()


def test_cli_never_writes_into_the_run_dir_unless_asked(tmp_path, capsys):
    old = _finished(tmp_path, ultralytics.V8_4)
    cwd = os.getcwd()
    try:
        os.chdir(old)
        assert main(["continue", ".", "--epochs", "10"]) == 2
        assert "inside the run directory" in capsys.readouterr().err
        assert not (old / "args-continue.yaml").exists()
        assert main(["continue", ".", "--epochs", "10", "--out", "args-continue.yaml"]) == 0
        assert (old / "args-continue.yaml").exists()
    finally:
        os.chdir(cwd)
    text = capsys.readouterr().out
    assert "yolo train model=" in text and "cfg=" in text


def test_continue_html_joins_old_and_new_curves(tmp_path):
    old = _finished(tmp_path, yolov5.CURRENT)
    html = tmp_path / "c.html"
    assert main(["continue", str(old), "--epochs", "50", "--out", str(tmp_path), "--html", str(html)]) == 0
    text = html.read_text()
    assert "logged by the old run" in text and "from-weights" in text


def test_write_refuses_run_dir_without_explicit_out(tmp_path):
    old = _finished(tmp_path, yolov5.CURRENT)
    cont = build_continuation(diagnose(read_run(old)), 10)
    from lrguard.errors import InputError

    with pytest.raises(InputError):
        write_continuation(cont, str(old), explicit=False)
    assert write_continuation(cont, str(tmp_path / "x.yaml"), explicit=True).is_file()


EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples"


def test_a_diverged_run_is_refused_and_nothing_is_written(tmp_path, capsys):
    """yolov5/diverging ends in NaN losses: 'lr0 34 -> 1 ... no jump' would be a recipe for more NaN."""
    out = tmp_path / "out"
    rc = main(["continue", str(EXAMPLES / "yolov5" / "diverging"), "--epochs", "10", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "diverged" in err and "line 5, epoch 3" in err
    assert not out.exists()


def test_a_run_that_recovered_from_nan_warns_with_exit_1(tmp_path, capsys):
    old = _finished(tmp_path, yolov5.CURRENT)
    csv = old / "results.csv"
    lines = csv.read_text().splitlines(keepends=True)
    cells = lines[100].split(",")
    cells[1] = "nan"  # one train-loss cell in the middle of the run
    lines[100] = ",".join(cells)
    csv.write_text("".join(lines))
    rc = main(["continue", str(old), "--epochs", "20", "--out", str(tmp_path / "c.yaml")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "warning: the run had non-finite losses at line 101" in " ".join(out.split())
    assert (tmp_path / "c.yaml").is_file()


def test_an_unreadable_checkpoint_is_refused(tmp_path, capsys):
    old = _finished(tmp_path, yolov5.CURRENT)
    (old / "weights").mkdir()
    (old / "weights" / "last.pt").write_bytes(b"PK\x03\x04 torn")
    rc = main(["continue", str(old), "--epochs", "20", "--out", str(tmp_path / "c.yaml")])
    err = capsys.readouterr().err
    assert rc == 2 and str(old / "weights" / "last.pt") in err and "cannot continue from it" in err
    assert not (tmp_path / "c.yaml").exists()
