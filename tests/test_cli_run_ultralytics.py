"""``lrguard run`` around a real Ultralytics 8.4.190 resume (``yolo train resume model=last.pt``).

The run is the interrupted Ultralytics scenario (8 epochs planned, stopped after epoch 4). 8.4.190
takes every argument of a resume from the checkpoint's ``train_args``: ``epochs=`` on the command
line is dropped ("Resume ignores ['epochs']"), so the edit of ``epochs`` a resume honours is one
inside last.pt (``train_args['epochs']`` 8 -> 12, as users are told to do in Ultralytics' issues).
Each test copies the run, makes its edit and runs the real ``yolo`` through ``lrguard run``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lrguard
from _needs import needs
from lrguard import constants as C

needs("ultralytics")
torch = needs("torch")

pytestmark = [pytest.mark.trainers, pytest.mark.slow]

SRC = str(Path(lrguard.__file__).resolve().parent.parent)
SCENARIO = "ultralytics/interrupted"
PLANNED, DONE, EDITED = 8, 4, 12  # 8 -> 12: the LR rises at the resume (8 -> 10 only slows the decay)
YOLO = Path(sys.executable).with_name("yolo")


@pytest.fixture(scope="module")
def interrupted(realruns_cache: Path) -> Path:
    """The interrupted run (generated once into the cache; only this scenario)."""
    from harness.realruns import ensure_runs, trainers_importable

    problem = trainers_importable(realruns_cache, [SCENARIO])
    if problem:
        pytest.skip(f"real trainers unavailable ({problem})")
    if not YOLO.is_file():
        pytest.skip(f"no yolo command beside {sys.executable}")
    return ensure_runs(realruns_cache, [SCENARIO])[SCENARIO]


def _copy(interrupted: Path, tmp_path: Path, realruns_cache: Path, epochs: int | None) -> tuple[Path, Path, dict]:
    """A copy of the run whose last.pt resumes into the copy, with train_args' epochs set to ``epochs``."""
    from harness.offline import prepare_offline

    work = tmp_path / "work"
    run_dir = work / "runs" / "exp"
    shutil.copytree(interrupted, run_dir)
    last = run_dir / C.WEIGHTS_DIR / C.LAST_PT
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert ckpt["train_args"]["epochs"] == PLANNED and ckpt["epoch"] == DONE - 1
    # a resume trains into train_args' save_dir: a copy must name itself (as a moved run does not)
    ckpt["train_args"]["save_dir"] = str(run_dir)
    if epochs is not None:
        ckpt["train_args"]["epochs"] = epochs
    torch.save(ckpt, last)
    env = {**os.environ, **prepare_offline(realruns_cache), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH", "")) if p)
    return work, run_dir, env


def _lrguard_run(work: Path, env: dict, policy: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "lrguard", "run", "--policy", policy, "--"]
    cmd += [str(YOLO), "train", "resume", "model=runs/exp/weights/last.pt", "workers=0", *extra]
    # one stream, so that the order of lrguard's lines and the trainer's log can be checked
    return subprocess.run(
        cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600
    )


def _rows(run_dir: Path) -> int:
    return len((run_dir / C.RESULTS_CSV).read_text().strip().splitlines()) - 1


def _diagnose(run_dir: Path, env: dict) -> dict:
    d = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", "--json", "--fail-on", "never", str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(d.stdout)


def test_stop_exits_3_before_training_with_the_fix(interrupted, tmp_path, realruns_cache):
    work, run_dir, env = _copy(interrupted, tmp_path, realruns_cache, EDITED)
    res = _lrguard_run(work, env, "stop")
    assert res.returncode == 3, res.stdout[-3000:]
    out = res.stdout
    assert "[stop]" in out and f"epochs: args.yaml {PLANNED} -> train_args {EDITED}" in out and "fix:" in out
    assert "Resuming training" not in out and _rows(run_dir) == DONE  # nothing trained
    (event,) = [json.loads(x) for x in (run_dir / C.GUARD_EVENTS_JSONL).read_text().splitlines()]
    assert event["action"] == "stop" and event["verdict"] == "jump" and event["value"] > event["expected"]


@pytest.mark.parametrize("edited", [EDITED, 10])  # 10: the LR only decays more slowly, it never steps up
def test_warn_prints_the_finding_before_the_first_resumed_batch(interrupted, tmp_path, realruns_cache, edited):
    work, run_dir, env = _copy(interrupted, tmp_path, realruns_cache, edited)
    res = _lrguard_run(work, env, "warn")
    out = res.stdout
    assert res.returncode == 0, out[-3000:]
    assert "[warn]" in out and out.index("[warn]") < out.index("Resuming training")
    assert _rows(run_dir) == edited  # the patched train_args were honoured: trained on to the edited total
    report = _diagnose(run_dir, env)
    causes = [(f["cause"], f["epoch"]) for f in report["findings"] if f["severity"] != "info"]
    assert causes == [("epochs-changed-on-resume", DONE + 1)], causes  # the jump warn let through
    (warned,) = [f for f in report["findings"] if f["cause"] == "guard-action" and f["data"]["action"] == "warn"]
    assert warned["epoch"] == DONE + 1  # the event names the jumped row in the run's own (1-based) numbering


def test_continue_curve_trains_a_new_run_that_diagnose_finds_clean(interrupted, tmp_path, realruns_cache):
    work, run_dir, env = _copy(interrupted, tmp_path, realruns_cache, EDITED)
    res = _lrguard_run(work, env, "continue-curve")
    out = res.stdout
    assert res.returncode == 0, out[-3000:]
    assert "[continue-curve]" in out and "wrote" in out
    assert (work / "runs" / "exp-args-continue.yaml").is_file()  # beside the run directory, not inside it
    new = work / "runs" / "exp-continue"
    assert _rows(new) == EDITED - DONE  # the epochs left to the edited total
    assert _rows(run_dir) == DONE  # the original run is left as it was
    report = _diagnose(new, env)
    lr_warnings = [
        f["cause"]
        for f in report["findings"]
        if f["severity"] != "info" and f["cause"] not in ("nonfinite", "loss-spike", "close-mosaic")
    ]
    assert lr_warnings == [], json.dumps(report["findings"], indent=1)[-3000:]


def test_epochs_on_the_resume_command_line_is_ignored_and_said_so(interrupted, tmp_path, realruns_cache):
    work, run_dir, env = _copy(interrupted, tmp_path, realruns_cache, None)
    res = _lrguard_run(work, env, "stop", f"epochs={EDITED}")
    out = res.stdout
    assert res.returncode == 0, out[-3000:]  # no jump: nothing to stop
    assert "seamless" in out and f"Ultralytics ignores epochs={EDITED} on resume" in out
    assert "Resume ignores" in out  # what Ultralytics itself prints
    assert _rows(run_dir) == PLANNED  # trained to the checkpoint's 8 epochs, not 10
