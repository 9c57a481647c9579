"""Terminal and JSON rendering (reports.terminal, reports.jsonreport) of generated runs."""

from __future__ import annotations

import io
import json
import math

import numpy as np
from rich.console import Console

from conftest import generated_diagnosis
from lrguard.model import Severity
from lrguard.reports.jsonreport import diagnosis_dict, plain, render_json
from lrguard.reports.terminal import render_terminal, sparkline
from lrguard.schedules import ScheduleSpec, SessionPlan

V5 = ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)


def render(d, verbose=False) -> str:
    buf = io.StringIO()
    render_terminal(d, console=Console(file=buf, width=200, color_system=None, highlight=False), verbose=verbose)
    return buf.getvalue()


def test_sparkline_edge_cases():
    assert sparkline(np.array([])) == ""
    assert sparkline(np.array([np.nan, np.nan])) == "  "
    assert sparkline(np.array([1.0, 1.0, 1.0])) == "▁▁▁"
    line = sparkline(np.linspace(0, 1, 500), width=64)
    assert len(line) == 64 and line[0] == "▁" and line[-1] == "█"
    assert sparkline(np.array([0.0, np.nan, 1.0])) == "▁ █"


def test_plain_turns_nonfinite_and_numpy_into_json_values():
    got = plain({"a": np.float64(1.5), "b": float("nan"), "c": (np.int64(3), math.inf), 4: None, "p": object})
    assert got["a"] == 1.5 and got["b"] is None and got["c"] == [3, None] and got["4"] is None
    assert isinstance(got["p"], str)


def test_terminal_report_of_the_generated_seed_case(tmp_path):
    a, b = V5.with_(epochs=3000), V5.with_(epochs=5000)
    d = generated_diagnosis(
        tmp_path / "exp", "yolov5", [SessionPlan(0, 1739, a), SessionPlan(1739, 1760, b, resumed=True)]
    )
    out = render(d)
    assert "WARNING" in out and "epochs-changed-on-resume at epoch 1740" in out
    assert "fix:" in out and "epochs: 3000" in out
    assert "1 problem(s) found" in out
    assert "linear lr0 0.01" in out


def test_terminal_report_clean_and_verbose(tmp_path):
    d = generated_diagnosis(
        tmp_path / "exp", "ultralytics-8.4", [SessionPlan(0, 40, V5), SessionPlan(40, 80, V5, resumed=True)]
    )
    out = render(d)
    assert "OK" in out and "session" in out  # several sessions: the table is shown
    assert "ERROR" not in out and "WARNING" not in out
    assert "warmup" in render(d, verbose=True)


def test_json_dict_matches_the_diagnosis(tmp_path):
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 80, V5), SessionPlan(0, 30, V5)])
    obj = diagnosis_dict(d)
    assert obj["worst_severity"] == "warning"
    assert obj["rows"] == 110 and obj["reference_column"] == "x/lr1"
    assert obj["schedule"]["batches_per_epoch"] == 100
    assert [s["start"] for s in obj["sessions"]] == ["start", "restart"]
    assert obj["sessions"][1]["first_line"] == 82
    assert [f["cause"] for f in obj["findings"]] == [f.cause.value for f in d.findings]
    json.loads(render_json([d, d]))  # array of two
    assert json.loads(render_json([d]))["run"] == str(d.run.path)


def test_failing_thresholds(tmp_path):
    d = generated_diagnosis(tmp_path / "exp", "yolov5", [SessionPlan(0, 60, V5)])
    assert d.worst is Severity.INFO
    assert d.failing(Severity.INFO) and not d.failing(Severity.WARNING) and not d.failing(None)
