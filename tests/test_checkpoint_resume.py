"""Resume-check maths and verdicts on constructed facts (real-trainer cases: test_checkpoint_real)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrguard.checkpoint.resume import JUMP, REFUSE, SEAMLESS, check_resume, implied_epochs, lf
from lrguard.checkpoint.structure import describe
from lrguard.model import CheckpointFacts


@settings(max_examples=200, deadline=None)
@given(
    epochs=st.integers(min_value=2, max_value=3000),
    frac=st.floats(min_value=0.01, max_value=0.99),
    lrf=st.floats(min_value=0.001, max_value=0.5),
    cos=st.booleans(),
)
def test_implied_epochs_inverts_lf(epochs, frac, lrf, cos):
    x = max(1, int(frac * epochs))
    if x >= epochs:
        return
    got = implied_epochs(lf(x, epochs, lrf, cos, False), x, lrf, cos)
    assert got == pytest.approx(epochs, rel=1e-6)


def test_lf_clamp_only_for_ultralytics():
    assert lf(12, 10, 0.01, False, False) < 0  # YOLOv5: no clamp, goes negative past E
    assert lf(12, 10, 0.01, False, True) == pytest.approx(0.01)


def _v5(epoch, epochs, ratio, *, cos=False, lrf=0.01, tmp=None, opt_yaml=None):
    root = {
        "epoch": epoch,
        "model": None,
        "ema": None,
        "updates": 100 * (epoch + 1),
        "optimizer": {
            "state": {0: {}},
            "param_groups": [{"lr": 0.01 * ratio, "initial_lr": 0.01, "params": [0]} for _ in range(3)],
        },
        "opt": {
            "epochs": epochs,
            "cos_lr": cos,
            "batch_size": 16,
            "hyp": {"lr0": 0.01, "lrf": lrf, "warmup_epochs": 3.0},
        },
    }
    facts = CheckpointFacts(
        path=Path("last.pt"),
        epoch=epoch,
        has_optimizer=True,
        lrs=(0.01 * ratio,) * 3,
        initial_lrs=(0.01,) * 3,
        group_tags=(None,) * 3,
        updates=root["updates"],
        train_args=root["opt"],
    )
    path = None
    if tmp is not None:
        (tmp / "weights").mkdir(parents=True, exist_ok=True)
        path = tmp / "weights" / "last.pt"
        if opt_yaml is not None:
            (tmp / "opt.yaml").write_text(opt_yaml)
    return facts, describe(root), path


def test_consistent_checkpoint_is_seamless():
    facts, s, _ = _v5(49, 100, lf(49, 100, 0.01, False, False))
    rep = check_resume(facts, s)
    assert rep.verdict == SEAMLESS and not rep.problems
    assert any("batches per epoch" in d for d in rep.details)


def test_ratio_from_another_schedule_reports_implied_epochs():
    facts, s, _ = _v5(49, 100, lf(49, 300, 0.01, False, False))
    rep = check_resume(facts, s)
    assert rep.problems and rep.schedule["implied_epochs"][0] == pytest.approx(300, rel=1e-6)


def test_cosine_schedule_position():
    facts, s, _ = _v5(30, 100, lf(30, 100, 0.1, True, False), cos=True, lrf=0.1)
    assert check_resume(facts, s).verdict == SEAMLESS


def test_finished_run_refused():
    facts, s, _ = _v5(99, 100, lf(99, 100, 0.01, False, False))
    assert check_resume(facts, s).verdict == REFUSE


def test_opt_yaml_edit_to_fewer_epochs_is_a_finetune_extension(tmp_path):
    yaml_text = "epochs: 20\ncos_lr: false\nhyp:\n  lr0: 0.01\n  lrf: 0.01\n"
    facts, s, path = _v5(49, 100, lf(49, 100, 0.01, False, False), tmp=tmp_path, opt_yaml=yaml_text)
    rep = check_resume(facts, s, path)
    assert rep.verdict == JUMP
    assert "fine-tunes" in rep.summary
    # linear lf is late-bound: the new schedule runs over 20 + 49 epochs
    assert rep.jump["lr_after"] == pytest.approx(0.01 * lf(50, 69, 0.01, False, False))


def test_ultralytics_args_yaml_edits_are_ignored(tmp_path):
    root = {
        "epoch": 4,
        "ema": None,
        "updates": 50,
        "optimizer": {
            "state": {},
            "param_groups": [
                {
                    "lr": 0.01 * lf(4, 10, 0.01, False, True),
                    "initial_lr": 0.01,
                    "param_group": "weight",
                    "params": [],
                }
            ],
        },
        "train_args": {"epochs": 10, "lr0": 0.01, "lrf": 0.01, "warmup_epochs": 0.0, "batch": 16},
        "version": "8.4.190",
    }
    facts = CheckpointFacts(
        path=Path("x"),
        epoch=4,
        has_optimizer=True,
        lrs=(root["optimizer"]["param_groups"][0]["lr"],),
        initial_lrs=(0.01,),
        group_tags=("weight",),
        updates=50,
        train_args=root["train_args"],
    )
    (tmp_path / "weights").mkdir()
    (tmp_path / "args.yaml").write_text("epochs: 50\nlr0: 0.01\nlrf: 0.01\n")
    rep = check_resume(facts, describe(root), tmp_path / "weights" / "last.pt")
    assert rep.verdict == SEAMLESS
    assert any("ignored" in d for d in rep.details)
