"""The resume verdict of plain PyTorch loops and Accelerate save_state dirs (torch-free).

On files written by real torch / accelerate and committed: ``tests/fixtures/ckpt/torch-loop/``
(``scripts/make_ckpt_fixtures.py``), ``examples/torch`` and ``examples/accelerate`` (the harness
scenarios); and on constructed state dicts for the checks no real run reaches. The expected LRs are
written out from torch's documented formulas, not taken from lrguard's schedule library.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lrguard.checkpoint.inspect import inspect_path
from lrguard.checkpoint.scheduler_resume import ResumeWords, scheduler_verdict
from lrguard.cli.main import main
from lrguard.errors import InputError
from lrguard.readers import read_run

ROOT = Path(__file__).resolve().parents[1]
LOOP = ROOT / "tests" / "fixtures" / "ckpt" / "torch-loop"
TORCH = ROOT / "examples" / "torch"
ACC = ROOT / "examples" / "accelerate"
WORDS = ResumeWords(resume="the resume", no_scheduler_fix="load the scheduler")


def _cos(base: float, t: float, t_max: float) -> float:
    return base * (1 + math.cos(math.pi * t / t_max)) / 2


def test_a_loop_without_any_scheduler_restores_its_constant_lr():
    rec = inspect_path(LOOP / "constant.pt")
    res = rec["resume"]
    assert rec["framework"] == "plain" and res["verdict"] == "seamless" and res["problems"] == []
    assert "no LR scheduler drove it" in res["summary"] and rec["missing"] == []


def test_an_unsaved_scheduler_restarts_the_schedule_jump_with_the_fix():
    res = inspect_path(LOOP / "no_scheduler.pt")["resume"]
    assert res["verdict"] == "jump" and res["problems"] == ["no scheduler state"]
    # StepLR(step_size=5, gamma=0.5) stepped 12 times: 0.1 * 0.5**2; the restarted one begins at base 0.1
    assert res["jump"]["lr_before"] == pytest.approx(0.025) and res["jump"]["step"] == 13
    assert res["schedule"]["initial_lrs"] == [0.1]
    assert "scheduler.load_state_dict" in res["summary"] and "at step 12" in res["summary"]


def test_onecycle_stepped_to_total_steps_cannot_step_again():
    res = inspect_path(LOOP / "onecycle_end.pt")["resume"]
    assert res["verdict"] == "refuse"
    assert res["schedule"]["schedule_end"] == 10 and "raises on the next scheduler.step()" in res["summary"]


def test_sequential_under_the_tutorial_keys_continues_with_the_next_lr():
    rec = inspect_path(LOOP / "sequential.pt")
    res = rec["resume"]
    assert rec["has"]["model"] and rec["has"]["optimizer"] and rec["missing"] == []
    assert res["verdict"] == "seamless" and res["schedule"]["scheduler"] == "SequentialLR"
    # LinearLR warmup for 5, then CosineAnnealingLR(T_max=20) from position 0: position 12 is the cosine's 7
    assert res["schedule"]["_last_lr"][0] == pytest.approx(_cos(0.1, 7, 20), rel=1e-9)
    assert res["schedule"]["next_lr"][0] == pytest.approx(_cos(0.1, 8, 20), rel=1e-9)
    assert any("scheduler_state_dict" in d for d in res["details"])


def test_cosine_past_t_max_is_said_and_the_next_lr_climbs_back():
    res = inspect_path(TORCH / "past-end-cosine" / "checkpoints" / "last.pt")["resume"]
    assert res["verdict"] == "seamless" and "past its end" in res["summary"]
    assert res["schedule"]["schedule_end"] == 40
    assert res["schedule"]["next_lr"][0] == pytest.approx(_cos(0.1, 71, 40), rel=1e-9)
    assert res["schedule"]["next_lr"][0] > res["schedule"]["_last_lr"][0]  # climbing back
    assert any("past its end" in p for p in res["problems"])


def test_a_scheduler_restarted_during_the_run_is_caught_in_the_later_checkpoint():
    first = inspect_path(TORCH / "scheduler-built-after-load" / "checkpoints" / "step30.pt")
    assert first["resume"]["verdict"] == "seamless" and first["missing"] == []
    assert any("LambdaLR" in d and "not rebuilt" in d for d in first["resume"]["details"])
    last = inspect_path(TORCH / "scheduler-built-after-load" / "checkpoints" / "last.pt")["resume"]
    assert last["verdict"] == "unknown"
    assert any("position 30 != 60 optimizer steps" in p and "restarted" in p for p in last["problems"])


def test_cli_exit_codes_follow_the_verdicts(capsys):
    assert main(["ckpt", "show", str(LOOP / "constant.pt")]) == 0
    assert main(["ckpt", "show", str(LOOP / "no_scheduler.pt")]) == 1
    out = capsys.readouterr().out
    assert "SEAMLESS" in out and "JUMP" in out


def test_accelerate_save_state_dir_is_inspected():
    rec = inspect_path(ACC / "resume" / "checkpoints" / "checkpoint_0")
    assert (rec["format"], rec["framework"], rec["global_step"]) == ("accelerate-state-dir", "accelerate", 20)
    assert rec["security"]["verdict"] == "safe" and rec["integrity"]["ok"] and rec["missing"] == []
    assert {g["file"] for g in rec["security"]["globals"]} >= {"random_states_0.pkl", "random_states_1.pkl"}
    res = rec["resume"]
    assert res["verdict"] == "seamless" and res["problems"] == []
    assert res["schedule"]["num_processes"] == 2 and res["schedule"]["last_epoch"] == 40
    # CosineAnnealingLR(T_max=80) sized in scheduler steps: 2 per optimizer step, at 40 it is halfway
    assert res["schedule"]["next_lr"][0] == pytest.approx(_cos(0.1, 42, 80), rel=1e-9)
    assert any("steps 2 times per optimizer step" in d for d in res["details"])


def test_accelerate_verdict_is_what_the_real_resumed_run_logged():
    """examples/accelerate/resume resumed from checkpoint_0 (step 20): its log shows the LR steps 21 and 22 used."""
    res = inspect_path(ACC / "resume" / "checkpoints" / "checkpoint_0")["resume"]
    run = read_run(ACC / "resume")
    logged = dict(zip(run.axis.values.tolist(), run.lr[:, 0].tolist(), strict=True))
    assert logged[21] == pytest.approx(res["schedule"]["lrs"][0], rel=1e-6)
    assert logged[22] == pytest.approx(res["schedule"]["next_lr"][0], rel=1e-6)


def test_accelerate_checkpoint_at_the_schedules_end_says_so():
    res = inspect_path(ACC / "resume" / "checkpoints" / "checkpoint_1")["resume"]
    assert res["verdict"] == "seamless"
    assert any("reached its end (T_max=80)" in d for d in res["details"])


def test_accelerate_scheduler_stepped_per_process_past_its_end(capsys):
    path = ACC / "stepped-per-process" / "checkpoints" / "checkpoint_0"
    assert main(["ckpt", "show", "--json", str(path)]) == 1
    res = json.loads(capsys.readouterr().out)["resume"]
    assert res["schedule"]["T_max"] == 40 and res["schedule"]["last_epoch"] == 80
    (problem,) = res["problems"]
    assert "ended after 20 optimizer steps" in problem and "step_scheduler_with_optimizer" in problem


def test_a_directory_of_no_known_trainer_is_refused_in_one_line(tmp_path):
    with pytest.raises(InputError, match="Accelerate save_state"):
        inspect_path(tmp_path)


def _opt(lr: float, initial: float | None = 0.1) -> dict:
    group = {"lr": lr, "params": [0]}
    if initial is not None:
        group["initial_lr"] = initial
    return {"state": {}, "param_groups": [group]}


def test_last_lr_disagreeing_with_the_optimizer_is_a_problem():
    sd = {"T_max": 10, "eta_min": 0.0, "base_lrs": [0.1], "last_epoch": 5, "_step_count": 6, "_last_lr": [0.05]}
    rep = scheduler_verdict(_opt(0.02), sd, WORDS, step=5)
    assert rep.verdict == "unknown" and any("differs from the optimizer's lr" in p for p in rep.problems)


def test_a_state_that_does_not_reproduce_its_own_lr_is_a_problem():
    sd = {"T_max": 10, "eta_min": 0.0, "base_lrs": [0.1], "last_epoch": 2, "_last_lr": [0.05]}
    rep = scheduler_verdict(_opt(0.05), sd, WORDS)
    assert rep.verdict == "unknown" and any("rebuilt from the saved state gives" in p for p in rep.problems)


def test_reduce_on_plateau_has_no_closed_form_but_resumes():
    sd = {"mode": "min", "patience": 3, "factor": 0.1, "best": 0.5, "num_bad_epochs": 1, "last_epoch": 7,
          "_last_lr": [0.01]}  # fmt: skip
    rep = scheduler_verdict(_opt(0.01), sd, WORDS)
    assert rep.verdict == "seamless" and rep.schedule["scheduler"] == "ReduceLROnPlateau"
    assert any("follows a metric" in d for d in rep.details)


def test_no_optimizer_state_is_a_problem():
    rep = scheduler_verdict(None, None, WORDS)
    assert rep.verdict == "unknown" and rep.problems == ["no optimizer state"]
