"""End to end on real HF Trainer runs: ``lrguard diagnose --json`` names the mechanism and its step.

The runs come from :mod:`harness.hf_scenarios` (the unmodified transformers Trainer, a tiny GPT-2
built from a config, CPU, offline), generated once per test session into the session cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _needs import needs

needs("transformers")
needs("tensorboard")

from harness.hf_scenarios import EXPECTED, MAX_STEPS, SAVE_STEPS, HFRuns, ensure_hf_runs

pytestmark = pytest.mark.trainers
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="session")
def hf_runs(realruns_cache: Path) -> HFRuns:
    return ensure_hf_runs(realruns_cache)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "lrguard", *args], capture_output=True, text=True, env=env, check=False, timeout=120
    )


def _findings(out: Path) -> list[dict]:
    result = _cli("diagnose", "--json", str(out))
    assert result.returncode in (0, 1, 2), result.stderr
    report = json.loads(result.stdout)
    assert report["framework"] == "hf"
    return report["findings"]


def _step(f: dict) -> int | None:
    return f.get("step", (f.get("data") or {}).get("step"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_diagnose_names_the_mechanism(hf_runs: HFRuns, name: str) -> None:
    findings = _findings(hf_runs[name])
    expected = EXPECTED[name]
    warnings = [f for f in findings if f["severity"] in ("warning", "error")]
    if expected.cause is None:
        assert warnings == [], warnings
        return
    hits = [f for f in findings if f["cause"] == expected.cause]
    assert hits, f"{expected.cause} not among {[(f['cause'], _step(f)) for f in findings]}"
    assert _step(hits[0]) == expected.step
    assert hits[0]["severity"] == expected.severity
    if expected.severity == "info":
        assert warnings == [], warnings


def test_an_earlier_train_in_the_same_output_dir_is_the_runs_parent(hf_runs: HFRuns) -> None:
    """The HF reader records the earlier train() as the same typed Run.parent the YOLO reader uses."""
    from lrguard.model import PreviousRunSource
    from lrguard.readers import read_run

    parent = read_run(hf_runs["restart"]).parent
    assert parent is not None and parent.source is PreviousRunSource.EARLIER_LOG
    assert parent.name is not None and parent.name.startswith("runs/") and parent.path is not None
    assert parent.last_step == MAX_STEPS and len(parent.last_lr) == 1 and parent.weights is None
    assert parent.first_loss is not None and parent.last_loss is not None and parent.last_loss < parent.first_loss
    assert read_run(hf_runs["clean"]).parent is None


def test_nan_hidden_behind_a_finite_logged_loss(hf_runs: HFRuns) -> None:
    out = hf_runs["nan"]
    state = json.loads((out / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    rows = [e for e in state["log_history"] if "loss" in e]
    assert all(e["loss"] == e["loss"] for e in rows)  # logging_nan_inf_filter keeps the loss finite
    [f] = [f for f in _findings(out) if f["cause"] == "nonfinite"]
    assert "grad_norm" in f["title"]
    assert any("logging_nan_inf_filter" in line for line in f["evidence"])


@pytest.mark.parametrize("name", ["clean", "max_steps"])
def test_ckpt_show_on_an_hf_checkpoint(hf_runs: HFRuns, name: str) -> None:
    ckpt = hf_runs[name] / f"checkpoint-{2 * SAVE_STEPS}"
    result = _cli("ckpt", "show", str(ckpt))
    assert result.returncode == 0, result.stderr
    assert "resume: SEAMLESS" in result.stdout
    assert "global_step 20" in result.stdout


def test_ckpt_show_warns_on_a_model_only_checkpoint(hf_runs: HFRuns) -> None:
    result = _cli("ckpt", "show", str(hf_runs["save_only_model"] / f"checkpoint-{2 * SAVE_STEPS}"))
    assert result.returncode == 1, result.stderr
    assert "missing for an exact resume: optimizer, scheduler" in result.stdout
    assert "resume: JUMP" in result.stdout
    assert "the LR schedule starts again from step 0" in " ".join(result.stdout.split())


@pytest.mark.parametrize("name", ["clean", "seamless", "max_steps", "lr_changed", "scheduler_type"])
def test_planned_lr_is_the_logged_lr(hf_runs: HFRuns, name: str) -> None:
    import numpy as np

    from lrguard.trainers.hf.plan import planned_lr
    from lrguard.trainers.hf.reader import read_hf_run

    run = read_hf_run(hf_runs[name])
    plan = planned_lr(run)
    assert plan is not None
    np.testing.assert_allclose(run.lr[:, 0], plan[:, 0], rtol=1e-12, atol=0)
