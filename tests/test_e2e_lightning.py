"""End to end on real Lightning runs: ``lrguard diagnose --json`` names each scenario's mechanism and step.

The runs come from :mod:`harness.lightning_scenarios` (tiny LightningModule, CPU, seconds each),
generated once per session into the real-runs cache. Each scenario is its own test: one that fails
to generate fails only its own test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _needs import needs

needs("lightning")

from harness.lightning_scenarios import EXPECTED, SCENARIO_NAMES, ensure_lightning_runs

pytestmark = pytest.mark.trainers


@pytest.fixture(scope="module")
def lightning_runs(realruns_cache: Path):
    return ensure_lightning_runs(realruns_cache / "lightning", jobs=int(os.environ.get("LRGUARD_REALRUNS_JOBS", "2")))


def _diagnose(path: Path) -> dict:
    src = Path(__file__).parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_scenario_diagnosis(lightning_runs, scenario: str) -> None:
    got = lightning_runs[scenario]
    if isinstance(got, str):
        pytest.fail(f"scenario did not generate: {got}", pytrace=False)
    report = _diagnose(got)
    entries = report.get("runs", [report])
    assert len(entries) == 1
    entry = entries[0]
    assert entry["framework"] == "lightning"
    findings = [f for f in entry["findings"] if f["severity"] in ("warning", "error")]
    cause, step = EXPECTED[scenario]
    if cause is None:
        assert findings == [], findings
        return
    assert [f["cause"] for f in findings] == [cause], findings
    assert findings[0]["step"] == step


def test_resume_restores_the_scheduler(lightning_runs) -> None:
    """What a resume really does: ckpt_path brings back the saved scheduler, not one sized from max_epochs."""
    from lrguard.trainers.lightning.reader import read_lightning_run

    got = lightning_runs["epochs_changed"]
    if isinstance(got, str):
        pytest.fail(got, pytrace=False)
    run = read_lightning_run(got)
    last = run.config["session_checkpoints"][-1]
    assert last["lr_schedulers"][0]["T_max"] == 24  # sized for max_epochs=3, although the resume asked for 6
    assert run.axis is not None and int(run.axis.values[-1]) == 47
