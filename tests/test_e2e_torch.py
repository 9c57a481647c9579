"""Real plain-PyTorch runs (tests/harness/torch_scenarios.py) diagnosed through ``lrguard diagnose --json``."""

from __future__ import annotations

from pathlib import Path

import pytest

from _diagnose_cli import diagnose_json
from _needs import needs

needs("torch")
needs("tensorboard")

from harness import torch_scenarios

pytestmark = pytest.mark.trainers


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | Exception]:
    """Every scenario written once; a failing one is recorded, not raised, so the others still run."""
    root = tmp_path_factory.mktemp("torch_runs")
    out: dict[str, Path | Exception] = {}
    for name, (fn, _, _) in torch_scenarios.SCENARIOS.items():
        d = root / name
        d.mkdir()
        try:
            fn(d)
            out[name] = d
        except Exception as exc:
            out[name] = exc
    return out


@pytest.mark.parametrize("name", list(torch_scenarios.SCENARIOS))
def test_scenario_diagnosed(runs, name):
    got = runs[name]
    if isinstance(got, Exception):
        pytest.fail(f"scenario {name} failed to train: {got!r}")
    _, cause, step = torch_scenarios.SCENARIOS[name]
    report = diagnose_json(got)
    assert report["framework"] == "torch"
    warnings = [f for f in report["findings"] if f["severity"] in ("warning", "error")]
    if cause is None:
        assert warnings == [], warnings
    else:
        hits = [f for f in warnings if f["cause"] == cause]
        assert hits, [f["cause"] for f in warnings]
        assert hits[0]["step"] == step, hits[0]


def _off_by_one(runs, name):
    got = runs[name]
    if isinstance(got, Exception):
        pytest.fail(f"scenario {name} failed to train: {got!r}")
    (f,) = [f for f in diagnose_json(got)["findings"] if f["cause"] == "resume-off-by-one"]
    return f


def test_checkpoint_saved_before_the_scheduler_step_repeats_one_lr(runs):
    """The resumed loop's first step uses the LR of the checkpoint's step again; the fix names the save order."""
    f = _off_by_one(runs, "saved-before-scheduler-step")
    assert f["data"]["lr_after"] == f["data"]["lr_before"] and f["data"]["lr_after"] > 0
    assert "one step behind" in f["title"] and "after scheduler.step()" in f["fix"]


def test_scheduler_rebuilt_with_last_epoch_skips_one_lr(runs):
    """``LambdaLR(..., last_epoch=step)`` steps once in its constructor: the expected LR is skipped."""
    f = _off_by_one(runs, "last-epoch-from-step")
    assert f["data"]["lr_after"] < f["data"]["expected"] < f["data"]["lr_before"]  # a decaying cosine
    assert "skipped" in f["title"] and "last_epoch" in f["fix"]
