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

import numpy as np
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


def _got(lightning_runs, name: str) -> Path:
    got = lightning_runs[name]
    if isinstance(got, str):
        pytest.fail(got, pytrace=False)
    return got


def test_two_optimizers_one_lr_tag_each_and_both_planned(lightning_runs) -> None:
    """Manual optimization, SGD + cosine and Adam + linear: global_step counts both optimizers' steps."""
    from lrguard.checkpoint.inspect import inspect_path
    from lrguard.trainers.lightning.plugin import TRAINER
    from lrguard.trainers.lightning.reader import read_lightning_run

    got = _got(lightning_runs, "two_optimizers")
    run = read_lightning_run(got)
    assert run.lr_columns == ["lr-Adam", "lr-SGD"]
    last = run.checkpoints[-1]
    # the checkpoint's global_step is 96 (two optimizer.step() per batch), the loggers' step 48
    assert last.train_args["global_step"] == 96 and last.step == 48 and run.axis.steps_per_epoch == 8
    planned = TRAINER.planned_lr(run)
    assert planned is not None and np.isfinite(planned).all()
    assert np.allclose(planned, run.lr, rtol=1e-6)  # each tag matched to its own scheduler
    res = inspect_path(got / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt")["resume"]
    assert res["verdict"] == "seamless" and [s["optimizer"] for s in res["schedule"]["schedulers"]] == [0, 1]


def test_reduce_on_plateau_halves_the_lr_without_an_alarm(lightning_runs) -> None:
    from lrguard.checkpoint.inspect import inspect_path
    from lrguard.trainers.lightning.reader import read_lightning_run

    for name in ("plateau", "plateau_resume"):
        got = _got(lightning_runs, name)
        run = read_lightning_run(got)
        levels = sorted({round(float(x), 12) for x in run.lr[:, 0]}, reverse=True)
        assert levels[:2] == [0.1, 0.05] and len(levels) >= 2, levels  # the plateau scheduler did reduce
        ckpt = sorted((got / "lightning_logs").glob("version_*/checkpoints/last.ckpt"))[-1]
        res = inspect_path(ckpt)["resume"]
        assert res["verdict"] == "seamless", res
    from lrguard.diagnosis import diagnose

    assert [s.start for s in diagnose(run).sessions] == ["start", "resume"]  # plateau_resume's two Trainers
