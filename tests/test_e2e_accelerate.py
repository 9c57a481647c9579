"""Real HF Accelerate runs on two CPU processes (tests/harness/accelerate_scenarios.py) through ``lrguard diagnose --json``."""

from __future__ import annotations

from pathlib import Path

import pytest

from _diagnose_cli import diagnose_json
from _needs import needs

needs("accelerate")
needs("tensorboard")

from harness import accelerate_scenarios

pytestmark = pytest.mark.trainers


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | Exception]:
    """Every scenario launched once; a failing one is recorded, not raised, so the others still run."""
    root = tmp_path_factory.mktemp("accelerate_runs")
    out: dict[str, Path | Exception] = {}
    for name in accelerate_scenarios.SCENARIOS:
        try:
            accelerate_scenarios.generate(name, root / name)
            out[name] = root / name
        except Exception as exc:
            out[name] = exc
    return out


@pytest.mark.parametrize("name", list(accelerate_scenarios.SCENARIOS))
def test_scenario_diagnosed(runs, name):
    got = runs[name]
    if isinstance(got, Exception):
        pytest.fail(f"scenario {name} failed to launch: {got!r} (see {name}.log.txt next to it)")
    assert len(list((got / "checkpoints").glob("checkpoint_*/random_states_*.pkl"))) >= 2, "two processes ran"
    _, cause, step = accelerate_scenarios.SCENARIOS[name]
    report = diagnose_json(got)
    assert report["framework"] == "accelerate"
    warnings = [f for f in report["findings"] if f["severity"] in ("warning", "error")]
    if cause is None:
        assert warnings == [], warnings
    else:
        hits = [f for f in warnings if f["cause"] == cause]
        assert hits, [f["cause"] for f in warnings]
        assert hits[0]["step"] == step, hits[0]
    if name == "resume":
        assert [s["start"] for s in report["sessions"]] == ["start", "resume"]
