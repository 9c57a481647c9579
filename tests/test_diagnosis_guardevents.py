"""The guard's events in a diagnosis: their own findings, and the LR changes the guard made explained."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.generated import write_generated_run
from lrguard import constants as C
from lrguard.cli.main import main
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers.ultralytics import profiles

DIP_EPOCH = 6  # results.csv's own (1-based) epoch whose LR the guard lowered


def _run(tmp_path: Path, dip: bool = True) -> Path:
    spec = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=10, nb=40, warmup_epochs=1)
    run_dir = write_generated_run(tmp_path / "run", profiles.V8_4, [SessionPlan(0, 10, spec)])
    if dip:  # the LR of one epoch at a tenth, as a lower-lr action leaves it in the log
        path = run_dir / C.RESULTS_CSV
        rows = list(csv.reader(path.open()))
        for r in rows[1:]:
            if int(float(r[0])) == DIP_EPOCH:
                for j, name in enumerate(rows[0]):
                    if name.strip().startswith(C.ULTRALYTICS_LR_PREFIX):
                        r[j] = repr(float(r[j]) * 0.1)
        with path.open("w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    return run_dir


def _events(run_dir: Path, *records: dict) -> Path:
    path = run_dir / C.GUARD_EVENTS_JSONL
    base = {"time": 1.0, "step": 100, "rank": 0, "value": 9.0, "expected": 1.0, "message": "loss spike"}
    path.write_text("".join(json.dumps({**base, **r}) + "\n" for r in records))
    return path


LOWER = {"signal": "loss-spike", "action": "lower-lr", "epoch": DIP_EPOCH, "until": 200}


def _lr_findings(d):
    return [f for f in d.findings if f.cause.value not in ("warmup", "guard-action")]


def test_without_events_the_dip_is_an_lr_finding(tmp_path):
    d = diagnose(read_run(_run(tmp_path)))
    (f,) = _lr_findings(d)
    assert f.severity.value == "warning" and f.epoch == DIP_EPOCH


def test_a_lower_lr_event_explains_the_dip_instead(tmp_path):
    run_dir = _run(tmp_path)
    _events(run_dir, LOWER)
    d = diagnose(read_run(run_dir))
    assert _lr_findings(d) == []
    (g,) = [f for f in d.findings if f.cause.value == "guard-action"]
    assert g.severity.value == "info" and g.epoch == DIP_EPOCH and g.data["action"] == "lower-lr"
    assert [e["cause"] for e in g.data["explains"]] == ["hyp-changed-on-resume"]
    assert any("explains the hyp-changed-on-resume finding" in e for e in g.evidence)
    assert d.worst.value == "info"


def test_an_event_that_did_not_change_the_lr_explains_nothing(tmp_path):
    run_dir = _run(tmp_path)
    _events(run_dir, {**LOWER, "action": "log"}, {**LOWER, "epoch": 2})  # logged only; lowered elsewhere
    d = diagnose(read_run(run_dir))
    assert [f.epoch for f in _lr_findings(d)] == [DIP_EPOCH]
    assert sum(f.cause.value == "guard-action" for f in d.findings) == 2


def test_json_grows_a_guard_section_and_stays_identical_without_events(tmp_path, capsys):
    run_dir = _run(tmp_path, dip=False)
    assert main(["diagnose", "--json", str(run_dir)]) == 0
    before = capsys.readouterr().out
    assert '"guard"' not in before and "guard-action" not in before
    _events(run_dir, {"signal": "nonfinite", "action": "skip", "epoch": 3, "value": "nan", "expected": None})
    assert main(["diagnose", "--json", str(run_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    old = json.loads(before)
    assert {k: v for k, v in report.items() if k not in ("guard", "findings")} == {
        k: v for k, v in old.items() if k != "findings"
    }
    guard = report["guard"]
    assert guard["events_file"].endswith(C.GUARD_EVENTS_JSONL) and guard["explained"] == []
    (ev,) = guard["events"]
    assert (ev["signal"], ev["action"], ev["epoch"], ev["value"], ev["line"]) == ("nonfinite", "skip", 3, None, 1)
    assert ev["row_line"] == 4  # epoch 3 is line 4 of results.csv
    (g,) = [f for f in report["findings"] if f["cause"] == "guard-action"]
    assert g["severity"] == "info" and g["line"] == 4


def test_explicit_events_option_and_a_broken_file_never_stop_the_diagnosis(tmp_path, capsys):
    run_dir = _run(tmp_path)
    other = tmp_path / "guard.jsonl"
    other.write_text(json.dumps({"step": 1, "signal": "loss-spike", **LOWER}) + "\n{not json\n" + '{"signal": "x", "ac')
    code = main(["diagnose", "--json", "--events", str(other), str(run_dir)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0  # the dip is the guard's: no warning left
    assert any("line 2 not a guard event" in n for n in report["notes"])
    assert any("line 3" in n and "partly written" in n for n in report["notes"])
    assert len(report["guard"]["explained"]) == 1
    assert main(["diagnose", "--events", str(tmp_path / "nope.jsonl"), str(run_dir)]) == 2
    assert "no such events file" in capsys.readouterr().err


def test_terminal_shows_the_guard_actions_and_html_marks_them(tmp_path, capsys):
    run_dir = _run(tmp_path)
    _events(run_dir, LOWER, {**LOWER, "action": "log", "epoch": 2})
    html = tmp_path / "r.html"
    assert main(["diagnose", "--html", str(html), str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "guard-action at epoch 6" in out and "loss-spike -> lower-lr" in out
    assert "explains the hyp-changed-on-resume finding" in out
    assert "guard-action at epoch 2" not in out  # a logged-only event waits for --verbose
    page = html.read_text()
    assert "guard-action" in page and "#8e44ad" in page and "the guard changed the LR here (lower-lr)" in page


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\x00" * 64])
def test_empty_or_zeroed_events_files(tmp_path, content):
    run_dir = _run(tmp_path, dip=False)
    (run_dir / C.GUARD_EVENTS_JSONL).write_bytes(content)
    d = diagnose(read_run(run_dir))
    assert not any(f.cause.value == "guard-action" for f in d.findings)


def _step_run(tmp_path: Path, events: list[dict], n: int = 20):
    """A bare step-counted run (steps 1..n logged) with the given events, for the window arithmetic."""
    import numpy as np

    from lrguard.model import Axis, AxisUnit, GuardEvent, Run, Table

    steps = np.arange(1, n + 1)
    lr = np.full((n, 1), 0.1)
    table = Table(tmp_path / "log", ["lr"], {"lr": lr[:, 0]}, np.full(n, -1))
    run = Run(
        path=tmp_path, framework="torch", framework_version=None, profile_name="torch", table=table,
        epochs=steps, lr=lr, lr_columns=["lr"], train_losses={}, val_losses={}, time=None, config={}, hyp={},
        axis=Axis(AxisUnit.STEP, steps),
    )  # fmt: skip
    run.guard_events = [GuardEvent(line=k + 1, message="m", **e) for k, e in enumerate(events)]
    return run


def _off_plan(row: int):
    from lrguard.model import Cause, Finding, Severity

    return Finding(Cause.LR_OFF_PLAN, Severity.WARNING, None, row, f"off plan at row {row}")


@pytest.mark.parametrize(
    ("event", "explained_rows"),
    [
        ({"signal": "loss-spike", "action": "lower-lr", "step": 4, "until": 8}, [4, 7]),  # logged steps 5..8
        ({"signal": "loss-spike", "action": "lower-lr", "step": 4}, [4, 7, 10, 12]),  # no until: to the session end
        ({"signal": "resume", "action": "continue-curve", "step": 10}, [10]),  # logged steps 11..12
        ({"signal": "loss-spike", "action": "log", "step": 4, "until": 8}, []),  # the LR was not changed
    ],
)
def test_step_windows(tmp_path, event, explained_rows):
    from lrguard.diagnosis.guardevents import apply_guard_events
    from lrguard.model import Session

    run = _step_run(tmp_path, [event])
    findings = [_off_plan(r) for r in (3, 4, 7, 10, 12)]
    sessions = [Session(0, 0, 19, 1, 20, "start", "first row")]
    out = apply_guard_events(run, findings, sessions)
    (g,) = [f for f in out if f.cause.value == "guard-action"]
    assert [e["row"] for e in g.data.get("explains", [])] == explained_rows
    assert g.row == 4 if event["step"] == 4 else g.row == 10  # guard step s is the row logged at s + 1
    left = sorted(f.row for f in out if f.cause.value == "lr-off-plan")
    assert left == sorted({3, 4, 7, 10, 12} - set(explained_rows))
