"""The bundled example runs (``examples/``, written by the real trainers) get their expected findings.

Fast and torch-free: these are the committed run directories (no weights), diagnosed in process.
Each ``scenario.json`` records what was done to the run and the finding lrguard must report (cause
and epoch); a clean example must get nothing at warning or above. ``EXTRA`` lists the further
warnings an example legitimately earns on top of its scenario's own mechanism.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrguard.diagnosis import diagnose
from lrguard.readers import read_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RUNS = sorted(p.parent for p in EXAMPLES.glob("*/*/scenario.json"))

# A cosine run extended by fine-tuning is also evaluated past its period (M1 on top of M6).
EXTRA = {"yolov5/finetune-cosine": {"schedule-past-end"}}


def test_every_example_is_covered():
    assert len(RUNS) == 20, [p.relative_to(EXAMPLES).as_posix() for p in RUNS]


@pytest.mark.parametrize("run_dir", RUNS, ids=[p.relative_to(EXAMPLES).as_posix() for p in RUNS])
def test_example_findings(run_dir: Path):
    name = run_dir.relative_to(EXAMPLES).as_posix()
    scenario = json.loads((run_dir / "scenario.json").read_text(encoding="utf-8"))
    d = diagnose(read_run(run_dir))
    assert d.run.framework == scenario["framework"]
    problems = [(f.cause.value, f.epoch) for f in d.findings if f.severity.rank >= 1]
    expected = [(e["cause"], e["epoch"]) for e in scenario["expected"]]
    if not expected:
        assert problems == [], f"{name} is clean but got {problems}"
        return
    for exp in expected:
        assert exp in problems, f"{name}: expected {exp}, got {problems}"
    unexpected = {c for c, _ in problems} - {c for c, _ in expected} - EXTRA.get(name, set())
    assert not unexpected, f"{name}: unexpected {sorted(unexpected)} besides {expected}"
    for f in d.findings:
        if f.severity.rank >= 1:
            assert f.fix and f.evidence, f"{name}: {f.cause.value} lacks a fix or evidence"


# HF Trainer examples (examples/hf/*/expected.json): step-counted, so the finding is named by step.
HF_RUNS = sorted(p.parent for p in EXAMPLES.glob("hf/*/expected.json"))


def test_every_hf_example_is_covered():
    assert [p.name for p in HF_RUNS] == ["clean", "max-steps"]


@pytest.mark.parametrize("run_dir", HF_RUNS, ids=[p.name for p in HF_RUNS])
def test_hf_example_findings(run_dir: Path):
    expected = json.loads((run_dir / "expected.json").read_text(encoding="utf-8"))
    d = diagnose(read_run(run_dir))
    assert d.run.framework == "hf"
    problems = [(f.cause.value, f.data.get("step")) for f in d.findings if f.severity.rank >= 1]
    if expected["cause"] is None:
        assert problems == []
    else:
        assert problems == [(expected["cause"], expected["step"])]
