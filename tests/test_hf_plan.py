"""The HF planned LR: get_scheduler's closed forms from each checkpoint's training arguments."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from lrguard.diagnosis.steps.run import diagnose_steps
from lrguard.model import Cause, CheckpointFacts
from lrguard.schedules.library.base import NotRebuildable
from lrguard.trainers.hf.plan import planned_lr, scheduler_args
from lrguard.trainers.hf.reader import read_hf_run

ARGS = {
    "lr_scheduler_type": "linear",
    "warmup_steps": 4,
    "warmup_ratio": 0.0,
    "max_steps": 40,
    "learning_rate": 1e-3,
    "lr_scheduler_kwargs": {},
}


def _linear(s: int, warm: int = 4, total: int = 40, base: float = 1e-3) -> float:
    return base * (s / warm if s < warm else max(0.0, (total - s) / (total - warm)))


def _run(tmp_path: Path, lrs: list[float], ckpts: dict[int, dict]) -> object:
    """An output_dir whose newest checkpoint logs ``lrs``; each checkpoint records its ``ckpts`` settings."""
    hist = [{"step": i + 1, "epoch": (i + 1) / 10, "learning_rate": lr, "loss": 1.0} for i, lr in enumerate(lrs)]
    for step in ckpts:
        d = tmp_path / f"checkpoint-{step}"
        d.mkdir()
        rows = hist if step == max(ckpts) else hist[:step]
        (d / "trainer_state.json").write_text(json.dumps({"log_history": rows, "max_steps": 40}))
    facts = [CheckpointFacts(path=tmp_path / f"checkpoint-{s}", step=s, train_args=a) for s, a in ckpts.items()]
    return dataclasses.replace(read_hf_run(tmp_path), checkpoints=facts)


def test_plan_is_the_closed_form_of_the_saved_settings(tmp_path: Path) -> None:
    lrs = [_linear(s) for s in range(1, 41)]
    run = _run(tmp_path, lrs, {20: ARGS, 40: ARGS})
    plan = planned_lr(run)
    assert plan is not None
    np.testing.assert_allclose(plan[:, 0], lrs, rtol=1e-12)
    assert [f.cause for f in diagnose_steps(run).findings] == []


def test_lr_off_plan_is_found(tmp_path: Path) -> None:
    lrs = [_linear(s) for s in range(1, 41)]
    lrs[29:] = [v * 3 for v in lrs[29:]]  # something edits the param groups at step 30
    run = _run(tmp_path, lrs, {20: ARGS, 40: ARGS})
    [f] = [f for f in diagnose_steps(run).findings if f.cause is Cause.LR_OFF_PLAN]
    assert f.data["step"] == 30


def test_new_learning_rate_on_resume_keeps_the_old_base(tmp_path: Path) -> None:
    lrs = [_linear(s) for s in range(1, 41)]
    run = _run(tmp_path, lrs, {20: ARGS, 40: {**ARGS, "learning_rate": 2e-3}})
    np.testing.assert_allclose(planned_lr(run)[:, 0], lrs, rtol=1e-12)


def test_new_length_on_resume_plans_the_new_curve(tmp_path: Path) -> None:
    lrs = [_linear(s) for s in range(1, 21)] + [_linear(s, total=80) for s in range(21, 41)]
    run = _run(tmp_path, lrs, {20: ARGS, 40: {**ARGS, "max_steps": 80}})
    np.testing.assert_allclose(planned_lr(run)[:, 0], lrs, rtol=1e-12)


def test_warmup_ratio_epochs_and_kwargs() -> None:
    args = {**ARGS, "max_steps": -1, "warmup_steps": 0, "warmup_ratio": 0.1, "lr_scheduler_type": "cosine_with_min_lr"}
    sa = scheduler_args({**args, "lr_scheduler_kwargs": {"min_lr": 1e-5}}, total_steps=96)
    assert (sa.num_training_steps, sa.num_warmup_steps) == (96, math.ceil(9.6))
    sched = sa.build((1e-3,))
    assert sched.multiplier(96) == pytest.approx(0.01)
    with pytest.raises(NotRebuildable):
        scheduler_args(args, total_steps=None)
