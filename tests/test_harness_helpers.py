"""The helpers behind the real-trainer scenarios that need no trainer: dataset, guard, checkpoint peek."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from harness.ckpt_peek import peek_checkpoint
from harness.offline import offline_env, prepare_offline
from harness.scenarios import SCENARIOS, cosine_lf, linear_lf, planned_lr
from harness.synthetic_data import make_dataset

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: The directory that holds the (uninstalled) harness package.
TESTS = str(Path(__file__).resolve().parent)


def test_dataset_is_yolo_format(tmp_path: Path) -> None:
    data_yaml = make_dataset(tmp_path / "data", n_train=4, n_val=2, size=64)
    spec = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
    assert Path(spec["path"]).is_absolute() and spec["nc"] == 2 and spec["names"] == {0: "red", 1: "blue"}
    images = sorted((tmp_path / "data" / "images" / "train").iterdir())
    labels = sorted((tmp_path / "data" / "labels" / "train").iterdir())
    assert [p.stem for p in images] == [p.stem for p in labels] and len(images) == 4
    for label in labels:
        for line in label.read_text(encoding="utf-8").splitlines():
            cls, *box = line.split()
            assert cls in {"0", "1"} and all(0.0 < float(v) <= 1.0 for v in box)
    again = make_dataset(tmp_path / "again", n_train=4, n_val=2, size=64)
    assert (again.parent / "labels" / "train" / labels[0].name).read_text() == labels[0].read_text()


def test_offline_env_stays_under_the_cache_dir(tmp_path: Path) -> None:
    env = prepare_offline(tmp_path)
    assert env == offline_env(tmp_path)
    assert env["YOLO_OFFLINE"] == "1" and env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"
    for key in ("YOLO_CONFIG_DIR", "YOLOV5_CONFIG_DIR", "MPLCONFIGDIR"):
        assert Path(env[key]).is_relative_to(tmp_path.resolve())
    assert (Path(env["YOLO_CONFIG_DIR"]) / "Ultralytics" / "Arial.ttf").stat().st_size > 10_000
    assert (Path(env["YOLOV5_CONFIG_DIR"]) / "Arial.ttf").stat().st_size > 10_000


def _guarded(code: str) -> subprocess.CompletedProcess[str]:
    prelude = "from harness.offline import install_network_guard; install_network_guard()\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        env={"PYTHONPATH": os.pathsep.join((SRC, TESTS)), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_network_guard_refuses_remote_hosts() -> None:
    result = _guarded("import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=2)")
    assert result.returncode != 0 and "network guard: refused connect" in result.stderr
    result = _guarded("import socket\nsocket.getaddrinfo('example.com', 443)")
    assert result.returncode != 0 and "network guard: refused lookup" in result.stderr


def test_network_guard_allows_loopback() -> None:
    code = (
        "import socket\nserver = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(1)\n"
        "client = socket.create_connection(server.getsockname(), timeout=2); client.close(); print('ok')"
    )
    result = _guarded(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


class Model:
    """Stands in for a pickled trainer class."""


def test_peek_reads_plain_fields_without_running_code(tmp_path: Path) -> None:
    payload = {"epoch": 3, "optimizer": {"param_groups": [{"lr": 0.5, "initial_lr": 1.0}]}, "model": Model()}
    path = tmp_path / "ckpt.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ckpt/data.pkl", pickle.dumps(payload, protocol=2))
    ckpt = peek_checkpoint(path)
    assert ckpt["epoch"] == 3 and ckpt["optimizer"]["param_groups"][0]["lr"] == 0.5
    assert type(ckpt["model"]).__name__ == "Model" and type(ckpt["model"]) is not Model


def test_planned_lr_matches_recorded_trainer_values() -> None:
    # Values logged by YOLOv5 7.0.14 (nb=32, nw=100, E=10) and Ultralytics 8.4.190 (nb=4, nw=4, E=8).
    lf5 = linear_lf(10, 0.01, clamp=False)
    logged5 = [0.0031, 0.0056763, 0.007619, 0.00703, 0.00703, 0.00604]
    for epoch, value in enumerate(logged5):
        assert abs(planned_lr("yolov5", epoch, lr0=0.01, lf=lf5, nb=32, nw=100) - value) < 1e-6
    assert abs(planned_lr("yolov5", 0, lr0=0.01, lf=lf5, nb=32, nw=100, warmup_start=0.1) - 0.0721) < 1e-6
    lfu = linear_lf(8, 0.01, clamp=True)
    logged_u = [0.0075, 0.0087625, 0.007525, 0.0062875]
    for row, value in enumerate(logged_u, start=1):
        assert abs(planned_lr("ultralytics", row, lr0=0.01, lf=lfu, nb=4, nw=4) - value) < 1e-9
    assert abs(cosine_lf(5, 0.01)(10) - 1.0) < 1e-12  # the cosine climbs back to lr0 after 2 * epochs


def test_catalogue_is_consistent() -> None:
    for name, info in SCENARIOS.items():
        assert name == info.name and name.startswith(info.framework + "/")
        assert info.framework in {"yolov5", "ultralytics"}
        assert (info.original_subdir is None) == (info.run_subdir == "runs/exp")


def test_trainers_importable_reports_missing_trainers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import realruns

    monkeypatch.setattr(realruns, "trainers_available", lambda: False)
    assert "not installed" in (realruns.trainers_importable(tmp_path) or "")
    with pytest.raises(KeyError):
        realruns.ensure_runs(tmp_path, ["yolov5/no-such-scenario"])


# ------------------------------------------------------------------ generation mechanics (no trainer)
# These tests exercise ensure_runs itself: subprocesses, failures, the completion marker and the
# lock. The scenario command is replaced by a small script (_STUB) so that no trainer runs; nothing
# here claims anything about the trainers.
_STUB = """
import json, os, sys, time
from pathlib import Path
name, root, run_subdir, mode = sys.argv[1:5]
root = Path(root)
with open(os.environ["STUB_CALLS"], "a", encoding="utf-8") as calls:
    calls.write(name + "\\n")
if mode == "fail":
    print("Traceback (most recent call last):\\n  ...\\nRuntimeError: stub scenario says no", flush=True)
    print("a note printed after the error", flush=True)
    sys.exit(3)
if mode == "hold":
    (root.parent / "started").write_text(name, encoding="utf-8")
    deadline = time.monotonic() + 60
    while not (root.parent / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
root.mkdir(parents=True, exist_ok=True)
if mode != "no-json":
    run = root / run_subdir
    run.mkdir(parents=True, exist_ok=True)
    (run / "scenario.json").write_text(json.dumps({"name": name}), encoding="utf-8")
"""


@pytest.fixture
def stub_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Make ensure_runs run _STUB; return (set_mode, calls) where calls() lists the stub's runs."""
    from harness import realruns

    modes: dict[str, str] = {}
    calls_file = tmp_path / "calls.txt"
    monkeypatch.setenv("STUB_CALLS", str(calls_file))

    def argv(name: str, root: Path, data_yaml: Path) -> list[str]:
        subdir = realruns.SCENARIOS[name].run_subdir
        return [sys.executable, "-c", _STUB, name, str(root), subdir, modes.get(name, "ok")]

    monkeypatch.setattr(realruns, "_scenario_argv", argv)

    def calls() -> list[str]:
        return calls_file.read_text(encoding="utf-8").split() if calls_file.exists() else []

    return modes, calls


def test_failed_scenario_is_recorded_and_the_others_still_run(tmp_path: Path, stub_scenarios) -> None:
    from harness.realruns import RealRuns, ScenarioError, ensure_runs

    modes, calls = stub_scenarios
    modes["yolov5/clean"] = "fail"
    modes["ultralytics/clean"] = "no-json"
    names = ["yolov5/clean", "yolov5/resume", "ultralytics/clean", "ultralytics/resume"]
    runs = ensure_runs(tmp_path / "cache", names, jobs=2)
    assert isinstance(runs, RealRuns)
    assert sorted(calls()) == sorted(names)  # the failing first scenario of each lane did not stop it
    assert list(runs) == names and len(runs) == 4 and "yolov5/clean" in runs
    assert sorted(runs.failures) == ["ultralytics/clean", "yolov5/clean"]
    for name in ("yolov5/resume", "ultralytics/resume"):
        assert (runs[name] / "scenario.json").is_file()
    failure = runs.failures["yolov5/clean"]
    assert failure.reason == "exit code 3: RuntimeError: stub scenario says no"  # not the note after it
    assert failure.log is not None and failure.log.is_file() and "says no" in failure.tail
    with pytest.raises(
        ScenarioError, match=r"^scenario yolov5/clean failed: exit code 3: RuntimeError: stub scenario says no; log "
    ):
        runs["yolov5/clean"]
    with pytest.raises(ScenarioError, match=r"exit code 0 but no runs/exp/scenario\.json"):
        runs["ultralytics/clean"]
    with pytest.raises(ScenarioError, match=r"^2 of 4 scenarios failed:\n  scenario ultralytics/clean failed"):
        runs.raise_failures()
    # The failed scenarios are not marked complete: the next call retries them and only them.
    modes.clear()
    again = ensure_runs(tmp_path / "cache", names)
    again.raise_failures()
    assert sorted(calls()) == sorted([*names, "yolov5/clean", "ultralytics/clean"])
    assert (again["yolov5/clean"] / "scenario.json").is_file()


def test_half_written_scenario_is_generated_again(tmp_path: Path, stub_scenarios) -> None:
    from harness.realruns import ensure_runs, scenario_dir, wall_seconds
    from harness.scenarios import COMPLETE_MARKER, RECIPE_VERSION

    _, calls = stub_scenarios
    cache = tmp_path / "cache"
    name = "yolov5/clean"
    marker = scenario_dir(cache, name) / COMPLETE_MARKER
    run_json = ensure_runs(cache, [name])[name] / "scenario.json"
    assert marker.read_text(encoding="utf-8").splitlines()[0] == str(RECIPE_VERSION)
    assert wall_seconds(cache, name) is not None
    assert (scenario_dir(cache, name) / "log.txt").is_file()
    ensure_runs(cache, [name])
    assert calls() == [name]  # complete: not run again
    marker.unlink()  # killed after scenario.json, before the marker
    ensure_runs(cache, [name])
    assert calls() == [name] * 2 and marker.is_file()
    run_json.unlink()  # a marker without its scenario.json
    ensure_runs(cache, [name])
    assert calls() == [name] * 3 and run_json.is_file()
    marker.write_text(f"{RECIPE_VERSION - 1}\nwall_seconds 1.0\n", encoding="utf-8")  # an older recipe
    ensure_runs(cache, [name])
    assert calls() == [name] * 4


def test_generation_is_locked_across_openers(
    tmp_path: Path, stub_scenarios, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second generator waits on the lock, then reuses the scenario instead of running it again."""
    import fcntl
    import threading
    import time

    from harness.realruns import LOCK_NAME, ensure_runs, scenario_dir

    modes, calls = stub_scenarios
    cache = tmp_path / "cache"
    name = "ultralytics/clean"
    modes[name] = "hold"
    results: dict[str, object] = {}

    def generate(key: str) -> None:
        results[key] = ensure_runs(cache, [name])

    def wait_for(condition, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, f"gave up waiting for {what}"
            time.sleep(0.02)

    first = threading.Thread(target=generate, args=("first",))
    first.start()
    started = scenario_dir(cache, name).parent / "started"
    wait_for(started.exists, "the first generator's scenario to start")
    with open(cache / LOCK_NAME, "rb") as probe, pytest.raises(BlockingIOError):
        fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while the scenario runs
    second = threading.Thread(target=generate, args=("second",))
    second.start()
    seen: list[str] = []
    wait_for(lambda: seen.append(capsys.readouterr().err) or "waiting for another process" in "".join(seen), "the wait")
    (started.parent / "release").write_text("", encoding="utf-8")
    first.join(60)
    second.join(60)
    assert calls() == [name]  # generated once, by the first
    for key in ("first", "second"):
        runs = results[key]
        runs.raise_failures()
        assert (runs[name] / "scenario.json").is_file()
    with open(cache / LOCK_NAME, "rb") as probe:
        fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released afterwards
