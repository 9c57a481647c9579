"""A real guarded plain-PyTorch run (tests/harness/guarded_torch.py) diagnosed through ``lrguard diagnose --json``."""

from __future__ import annotations

import pytest

from _diagnose_cli import diagnose_json
from _needs import needs

needs("torch")
needs("tensorboard")

from harness import guarded_torch as G

pytestmark = pytest.mark.trainers


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    run_dir = tmp_path_factory.mktemp("guarded")
    events = G.guarded_run(run_dir)
    assert events.is_file()
    return diagnose_json(run_dir)


def test_the_guards_events_are_in_the_report(report):
    events = report["guard"]["events"]
    skip = [e for e in events if e["action"] == "skip"]
    assert [(e["signal"], e["step"], e["value"]) for e in skip] == [("nonfinite", G.NAN_STEP, None)]
    lower = [e for e in events if e["action"] == "lower-lr"]
    assert lower and lower[0]["step"] == G.SPIKE_STEP and lower[0]["until"] == G.SPIKE_STEP + G.LOWER_STEPS
    assert all(e["signal"] == "loss-spike" for e in lower)


def test_each_event_is_an_info_finding_on_the_logged_step(report):
    guard = [f for f in report["findings"] if f["cause"] == "guard-action"]
    assert len(guard) == len(report["guard"]["events"])
    assert all(f["severity"] == "info" for f in guard)
    (skip,) = [f for f in guard if f["data"]["action"] == "skip"]
    assert skip["step"] == G.NAN_STEP + 1  # the loop logs optimizer step k as k + 1
    nonfinite = [f for f in report["findings"] if f["cause"] == "nonfinite"]
    assert nonfinite and nonfinite[0]["step"] == skip["step"]  # the NaN the guard skipped, on the same row


def test_the_lowered_rows_of_the_log_lie_in_the_windows_the_events_give(report):
    """Every logged LR the guard lowered (well below the plan rebuilt from the checkpoint) is in an event's window."""
    import numpy as np

    from lrguard.diagnosis import diagnose
    from lrguard.readers import read_run

    assert report["sessions"][1]["first_step"] == G.RESUME_STEP + 1  # the resume is seen
    assert any("rebuilt from" in n for n in report["notes"])  # and the plan rebuilt from step24.pt
    d = diagnose(read_run(report["run"]))
    lowered = np.nonzero(d.run.lr[:, 0] < 0.5 * d.planned[:, 0])[0]
    assert lowered.size >= G.LOWER_STEPS - G.CHECK_EVERY  # the guard did lower the LR in the log
    windows = [f.data["window_rows"] for f in d.findings if f.cause.value == "guard-action" and "window_rows" in f.data]
    assert all(any(lo <= r <= hi for lo, hi in windows) for r in lowered), (lowered, windows)
