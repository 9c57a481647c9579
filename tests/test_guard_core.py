"""GuardCore: the per-step decisions over host values, the same judgements as the diagnosis."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from lrguard.guard.config import GuardConfig
from lrguard.guard.core import GuardCore, PreviousSession
from lrguard.guard.events import EventLog, read_events
from lrguard.signals.spike import scan


def test_nonfinite_default_is_skip():
    core = GuardCore()
    (d,) = core.observe(3, loss=math.nan, grad_norm=1.0)
    assert d.action == "skip" and d.event.signal == "nonfinite" and d.event.step == 3
    assert core.observe(4, loss=1.0, grad_norm=1.0) == []


def test_skip_on_another_rank_is_reported():
    (d,) = GuardCore().observe(5, loss=1.0, grad_norm=1.0, skipped=True)
    assert d.action == "skip" and "another rank" in d.event.message


def test_spikes_match_the_diagnosis_scan():
    rng = np.random.default_rng(0)
    losses = 2.0 + 0.05 * rng.standard_normal(200)
    losses[[50, 120]] *= [3.0, 20.0]
    core = GuardCore()
    found = [d.event.step for i, x in enumerate(losses) for d in core.observe(i, loss=float(x))]
    assert found == sorted(scan(losses)) == [50, 120]
    assert all(e.action == "log" for e in core.events)


def test_lower_lr_lasts_its_steps():
    core = GuardCore(GuardConfig(actions={"loss-spike": "lower-lr"}, lower_lr_steps=3, lower_lr_factor=0.5))
    for i in range(10):
        core.observe(i, loss=1.0)
    (d,) = core.observe(10, loss=50.0)
    assert d.action == "lower-lr"
    assert [core.lr_factor(s) for s in (10, 12, 13)] == [0.5, 0.5, 1.0]


def test_lr_off_plan():
    core = GuardCore(GuardConfig(lr_rel_tol=0.01))
    assert core.check_lr(0, [0.1, 0.01], [0.1, 0.01]) == []
    (d,) = core.check_lr(1, [0.1, 0.02], [0.1, 0.01])
    assert d.event.signal == "lr-off-plan" and d.event.value == 0.02 and d.event.expected == 0.01


@pytest.mark.parametrize("policy", ["warn", "stop", "continue-curve"])
def test_preflight_policies(policy):
    core = GuardCore(GuardConfig(policy=policy))
    prev = PreviousSession.from_scheduler_state({"last_epoch": 40, "_last_lr": [0.03]})
    assert core.preflight(40, [0.0301], prev) is None
    d = core.preflight(40, [0.1], prev)
    assert d is not None and d.action == policy and "scheduler.load_state_dict" in d.event.message


def test_event_log_json_lines_and_console(tmp_path):
    out = io.StringIO()
    log = EventLog(tmp_path / "ev" / "events.jsonl", console=out)
    core = GuardCore(log=log, rank=1)
    core.observe(7, loss=math.inf)
    log.close()
    (row,) = read_events(tmp_path / "ev" / "events.jsonl")
    assert {"time", "step", "epoch", "rank", "signal", "value", "expected", "action", "message"} <= set(row)
    assert row["value"] == "inf" and row["rank"] == 1 and row["step"] == 7
    json.dumps(row)
    assert out.getvalue().count("\n") == 1 and "step 7 (rank 1): nonfinite -> skip" in out.getvalue()


@pytest.mark.parametrize(("configured", "expected"), [("skip", "skip"), ("stop", "stop")])
def test_a_step_the_adapter_skipped_is_reported_skipped_and_a_nonfinite_stop_still_stops(configured, expected):
    core = GuardCore(GuardConfig(actions={"nonfinite": configured}), EventLog(None, console=None))
    (decision,) = core.observe(7, math.nan, 3.0, skipped=True)
    assert decision.action == expected and decision.event.step == 7
    assert decision.event.message.startswith("loss nan: step skipped (weights, optimizer state unchanged)")
    assert decision.event.message.endswith("run stopped") == (configured == "stop")
