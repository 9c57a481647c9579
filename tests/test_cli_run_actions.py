"""``lrguard run --action/--guard-config``: the action ladder in the injected guard of real trainings.

A plain torch script (tests/_zero_code_script.py, a NaN input at one step) under ``--action
nonfinite=stop`` ends with exit code 3 and the stop event, whether the guard reads the step during
the run or at its exit; a rollback it cannot do is refused at its first step (exit code 2). A real
Ultralytics training rolls back a persistent loss spike under ``lrguard run --action
loss-spike=rollback`` with the same events and states as its adapter does (tests/test_guard_ultralytics.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _needs import needs

needs("torch")

from lrguard.guard.events import read_events

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"
SCRIPT = TESTS / "_zero_code_script.py"


def _lrguard_run(tmp_path: Path, *options: str, cmd: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    argv = [sys.executable, "-m", "lrguard", "run", *options, "--", *cmd]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("check_every", ["2", "50"])  # read during the run (after step 5) / at its exit
def test_a_nonfinite_stop_ends_a_plain_script_with_exit_code_3(tmp_path, check_every):
    proc = _lrguard_run(
        tmp_path,
        "--action",
        "nonfinite=stop",
        "--check-every",
        check_every,
        cmd=[sys.executable, str(SCRIPT), ".", "4"],
    )
    assert proc.returncode == 3, proc.stderr
    (event,) = read_events(tmp_path / "lrguard-events.jsonl")
    assert (event["step"], event["signal"], event["action"]) == (4, "nonfinite", "stop")
    assert "step skipped" in event["message"]
    assert [line for line in proc.stderr.splitlines() if line.startswith("lrguard: stopped:")] != []
    assert "Traceback" not in proc.stderr
    # stopped at the read after step 5: the script never reached its end; at exit: it had
    assert (tmp_path / "rank0.json").exists() == (check_every == "50")


def test_the_guard_config_file_sets_the_ladder_and_the_command_line_overrides_it(tmp_path):
    (tmp_path / "guard.yaml").write_text("actions: {nonfinite: stop}\ncheck_every: 2\n", encoding="utf-8")
    stopped = _lrguard_run(tmp_path, "--guard-config", "guard.yaml", cmd=[sys.executable, str(SCRIPT), ".", "4"])
    assert stopped.returncode == 3, stopped.stderr
    (tmp_path / "lrguard-events.jsonl").unlink()
    skipped = _lrguard_run(
        tmp_path,
        "--guard-config",
        "guard.yaml",
        "--action",
        "nonfinite=skip",
        cmd=[sys.executable, str(SCRIPT), ".", "4"],
    )
    assert skipped.returncode == 0, skipped.stderr
    (event,) = read_events(tmp_path / "lrguard-events.jsonl")
    assert (event["step"], event["action"]) == (4, "skip")
    assert json.loads((tmp_path / "rank0.json").read_text())["finite"] is True


def test_a_rollback_in_a_plain_script_is_refused_at_its_first_step(tmp_path):
    proc = _lrguard_run(tmp_path, "--action", "loss-spike=rollback", cmd=[sys.executable, str(SCRIPT), ".", "-1"])
    assert proc.returncode == 2, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("lrguard: refused:")]
    assert "TorchGuard(optimizer, model=model)" in line and "guard.data(loader)" in line
    assert "Traceback" not in proc.stderr and not (tmp_path / "rank0.json").exists()


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--action", "loss-spike=skip", "--check-every", "1"], "'skip' for loss-spike is not implemented"),
        (["--action", "lr-off-plan=stop"], "no LR plan"),
        (["--action", "nonfinite=lower-lr"], "does not apply to nonfinite"),
        (["--guard-config", "missing.yaml"], "missing.yaml: file not found"),
    ],
)
def test_a_bad_guard_option_fails_before_the_command_runs(tmp_path, options, problem):
    marker = tmp_path / "ran"
    proc = _lrguard_run(tmp_path, *options, cmd=[sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    assert proc.returncode == 2 and not marker.exists()
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("lrguard: ") and problem in line, line


@pytest.mark.trainers
def test_a_persistent_loss_spike_rolls_back_an_ultralytics_training_under_lrguard_run(tmp_path, realruns_cache):
    """The adapter's rollback scenario (4 epochs of 4 batches, the loss of batches 9-11 x1000), zero-code."""
    needs("ultralytics")
    import _guard_yolo

    (tmp_path / "guard.yaml").write_text("check_every: 2\nsnapshot_every: 4\nrollback_patience: 2\n")
    options = ["--guard-config", str(tmp_path / "guard.yaml"), "--action", "loss-spike=rollback"]
    options += ["--events", str(tmp_path / "events.jsonl")]
    result, output = _guard_yolo.run_child(
        "ultralytics",
        tmp_path,
        realruns_cache,
        -1,
        "env",
        lrguard_run=options,
        extra=["--epochs", "4", "--rollback", "--spike-batches", "9,10,11"],
        n_train=32,
    )
    assert result["outcome"] == "finished" and result["model"] == {"params": True, "buffers": True}
    events = read_events(tmp_path / "events.jsonl")
    assert [(e["signal"], e["action"], e["step"], e["epoch"]) for e in events] == [
        ("loss-spike", "log", 9, 3),
        ("loss-spike", "rollback", 10, 3),
        ("checkpoint", "log", 12, 3),
        ("rollback", "restore", 12, 4),
    ], events
    assert "steps 8-11 undone, data batches 8-11 skipped" in events[-1]["message"]
    digests = result["digests"]  # per batch start, after the guard's boundary
    assert digests[12][:2] == digests[8][:2] and digests[12][2] == 3
    assert len({d[0] for d in digests}) == 15
    # the injection's save callback is registered at the first step, after the test's own: the test reads
    # each manifest one save behind the adapter's [0, 1, 1, 3] (epoch 2's save held spiked steps: withheld)
    assert result["last_good_epochs"] == [None, 0, 1, 1]
    assert result["last_good"]["verifies"] and result["last_good"]["manifest"]["epoch"] == 3
    assert "rollback -> restore" in output


@pytest.mark.trainers
def test_a_persistent_loss_spike_rolls_back_a_yolov5_training_under_lrguard_run(tmp_path, realruns_cache):
    """The YOLOv5 adapter's rollback scenario (4 epochs of 4 batches, the loss of batches 4 and 5 x1000), zero-code."""
    needs("yolov5")
    import _guard_yolo

    (tmp_path / "guard.yaml").write_text("check_every: 2\nsnapshot_every: 4\nrollback_patience: 2\n")
    options = ["--guard-config", str(tmp_path / "guard.yaml"), "--action", "loss-spike=rollback"]
    options += ["--events", str(tmp_path / "events.jsonl")]
    result, output = _guard_yolo.run_child(
        "yolov5",
        tmp_path,
        realruns_cache,
        -1,
        "env",
        lrguard_run=options,
        extra=["--epochs", "4", "--rollback", "--spike-batches", "4,5"],
        n_train=32,
    )
    assert result["outcome"] == "finished" and result["model"] == {"params": True, "buffers": True}
    events = read_events(tmp_path / "events.jsonl")
    assert [(e["signal"], e["action"], e["step"], e["epoch"]) for e in events] == [
        ("loss-spike", "log", 4, 1),
        ("loss-spike", "rollback", 5, 1),
        ("rollback", "restore", 6, 1),
    ], events
    assert "steps 4-5 undone, data batches 4-5 skipped" in events[-1]["message"]
    digests = result["digests"]
    assert digests[6] == digests[4]  # bit-identical to the last-good state of step 4, EMA update count included
    assert len({d[0] for d in digests}) == 15
    assert "rollback -> restore" in output


@pytest.mark.trainers
def test_a_nonfinite_stop_ends_an_ultralytics_training_with_exit_code_3(tmp_path, realruns_cache):
    """A NaN loss at batch 3 of 3 epochs x 2 batches; the guard reads every 2 steps: GuardStop leaves the trainer."""
    needs("ultralytics")
    import _guard_yolo

    options = ["--action", "nonfinite=stop", "--check-every", "2", "--events", str(tmp_path / "events.jsonl")]
    result, output = _guard_yolo.run_child(
        "ultralytics", tmp_path, realruns_cache, 3, "env", lrguard_run=options, extra=["--reraise"], returncode=3
    )
    assert result["outcome"].startswith("raised GuardStop: loss nan")
    # stopped at the read in step 3's post-hook (of 6 steps): the test's own global post-hook, which runs
    # after the guard's, counted steps 0-2 only
    assert result["optimizer_steps"] == 3
    assert result["model"] == {"params": True, "buffers": True}  # the NaN step itself was skipped
    (event,) = read_events(tmp_path / "events.jsonl")
    assert (event["signal"], event["action"], event["step"]) == ("nonfinite", "stop", 3)
    assert "lrguard: stopped: loss nan" in output


def test_a_grad_spike_lowers_the_lr_of_the_next_steps_of_a_plain_script(tmp_path):
    """``--action grad-spike=lower-lr``, read every step: the steps after the spike's read apply 0.1 x the LR."""
    (tmp_path / "guard.json").write_text(json.dumps({"check_every": 1, "lower_lr_steps": 3, "lower_lr_factor": 0.1}))
    proc = _lrguard_run(
        tmp_path,
        "--guard-config",
        "guard.json",
        "--action",
        "grad-spike=lower-lr",
        cmd=[sys.executable, str(TESTS / "_zero_code_spike.py"), ".", "20"],
    )
    assert proc.returncode == 0, proc.stderr
    events = [e for e in read_events(tmp_path / "lrguard-events.jsonl") if e["signal"] == "grad-spike"]
    assert [(e["step"], e["action"]) for e in events] == [(20, "lower-lr")], events
    applied = json.loads((tmp_path / "lr.json").read_text())
    lowered = [step for step, lr in enumerate(applied) if lr == pytest.approx(0.01, rel=1e-3)]
    assert lowered == [21, 22, 23]  # the 3 steps after the read at step 20; the others at the scheduled 0.1
    assert all(lr == pytest.approx(0.1, rel=1e-3) for step, lr in enumerate(applied) if step not in lowered)


def test_a_loss_spike_action_in_a_plain_script_says_it_cannot_fire(tmp_path):
    proc = _lrguard_run(tmp_path, "--action", "loss-spike=stop", cmd=[sys.executable, str(SCRIPT), ".", "-1"])
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if "cannot fire" in x]
    assert line.startswith("lrguard: loss-spike -> stop cannot fire for this optimizer")
