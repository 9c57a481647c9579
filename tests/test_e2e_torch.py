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
