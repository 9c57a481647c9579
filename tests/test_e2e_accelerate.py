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


def test_ckpt_show_verdicts_on_the_real_save_state_dirs(runs):
    """``lrguard ckpt show`` of every checkpoint_N the real runs wrote, against what the runs logged."""
    from lrguard.checkpoint.inspect import inspect_path
    from lrguard.readers import read_run

    for name in accelerate_scenarios.SCENARIOS:
        got = runs[name]
        if isinstance(got, Exception):
            pytest.fail(f"scenario {name} failed to launch: {got!r}")
        ckpts = sorted((got / "checkpoints").glob("checkpoint_*"), key=lambda p: int(p.name.split("_")[1]))
        recs = [inspect_path(c) for c in ckpts]
        for rec in recs:
            assert rec["format"] == "accelerate-state-dir" and rec["security"]["verdict"] == "safe", rec["path"]
            assert rec["resume"]["schedule"]["num_processes"] == 2
        past = [any("past its end" in p for p in r["resume"]["problems"]) for r in recs]
        assert past == [name == "stepped-per-process"] * len(recs), name
        if name == "resume":
            first = recs[0]["resume"]
            step = first["schedule"]["step"]
            run = read_run(got)
            logged = dict(zip(run.axis.values.tolist(), run.lr[:, 0].tolist(), strict=True))
            # the resumed process's first step trains at the restored LR; the next at the rebuilt schedule's
            assert logged[step + 1] == pytest.approx(first["schedule"]["lrs"][0], rel=1e-6)
            assert logged[step + 2] == pytest.approx(first["schedule"]["next_lr"][0], rel=1e-6)
            assert first["verdict"] == "seamless"
