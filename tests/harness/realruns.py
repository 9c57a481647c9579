"""Generate (once) and locate the real-trainer run directories that the tests and examples use.

``ensure_runs(cache_dir)`` runs every scenario of :data:`SCENARIOS` that is not already complete in
``cache_dir``, each in its own subprocess with the offline environment, and returns scenario name ->
run directory. Layout of ``cache_dir``::

    offline/                 trainer config dirs, fonts, matplotlib cache (harness.offline)
    data/<framework>/        the synthetic dataset, one copy per trainer (each writes its own
                             labels/*.cache into the dataset folder)
    scenarios/<framework>/<scenario>/
        log.txt              everything the scenario and its trainer processes printed
        network.log          what the network guard refused (absent when nothing was)
        .complete            marker written last
        runs/...             the trainer's run directories, weights included
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lrguard
from harness.offline import NETLOG_ENV, prepare_offline
from harness.scenarios import (
    COMPLETE_MARKER,
    RECIPE_VERSION,
    SCENARIO_JSON,
    SCENARIOS,
    ExpectedFinding,
    ScenarioInfo,
    load_scenario_json,
)
from harness.synthetic_data import make_dataset

__all__ = [
    "SCENARIOS",
    "ExpectedFinding",
    "ScenarioError",
    "ScenarioInfo",
    "ensure_runs",
    "load_scenario_json",
    "scenario_dir",
    "trainers_available",
    "trainers_importable",
    "wall_seconds",
]

#: Seconds one scenario subprocess may take before it is considered hung.
SCENARIO_TIMEOUT_S = 600
#: Intra-op threads of each scenario process, unless OMP_NUM_THREADS / MKL_NUM_THREADS are set.
SCENARIO_THREADS = "1"


class ScenarioError(RuntimeError):
    """A scenario subprocess failed; the message ends with the tail of its log."""


def trainers_available() -> bool:
    """Whether both real trainers can be found (without importing them)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("torch", "torchvision", "ultralytics", "yolov5"))


def trainers_importable(cache_dir: Path, names: Iterable[str] | None = None) -> str | None:
    """Check that the scenarios can run; return why not, or ``None`` when they can.

    Nothing is checked when every selected scenario is already complete in ``cache_dir`` (the tests
    then only read files). Otherwise both trainers are imported in a subprocess with the offline
    environment, since a trainer can be installed and still fail at import (e.g. YOLOv5 7.0.14
    next to setuptools >= 81, which has no ``pkg_resources``).

    Args:
        cache_dir: The cache directory :func:`ensure_runs` will use.
        names: The scenarios that will be requested; all when ``None``.

    Returns:
        ``None`` if the scenarios can run or are complete, else a one-line reason.
    """
    cache_dir = Path(cache_dir).resolve()
    selected = list(SCENARIOS) if names is None else list(names)
    if all(_is_complete(cache_dir, name) for name in selected if name in SCENARIOS):
        return None
    if not trainers_available():
        return "torch, torchvision, ultralytics or yolov5 is not installed"
    cache_dir.mkdir(parents=True, exist_ok=True)
    code = (
        "from harness.offline import install_network_guard; install_network_guard(); "
        "import sys; sys.argv = sys.argv[:1]; import torchvision, ultralytics, yolov5.train"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_child_env(cache_dir, cache_dir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"import failed with exit code {result.returncode}"
    return None


def scenario_dir(cache_dir: Path, name: str) -> Path:
    """The directory of scenario ``name`` inside ``cache_dir``."""
    return Path(cache_dir).resolve() / "scenarios" / name


def _is_complete(cache_dir: Path, name: str) -> bool:
    root = scenario_dir(cache_dir, name)
    marker = root / COMPLETE_MARKER
    if not marker.is_file() or marker.read_text(encoding="utf-8").split()[:1] != [str(RECIPE_VERSION)]:
        return False
    return (root / SCENARIOS[name].run_subdir / SCENARIO_JSON).is_file()


def _dataset(cache_dir: Path, framework: str) -> Path:
    data_yaml = Path(cache_dir).resolve() / "data" / framework / "data.yaml"
    if not data_yaml.is_file():
        make_dataset(data_yaml.parent)
    return data_yaml


def _child_env(cache_dir: Path, root: Path) -> dict[str, str]:
    env = {**os.environ, **prepare_offline(cache_dir)}
    # One intra-op thread per scenario unless the caller chose: the models are tiny, and on a busy
    # 2-core machine two spinning OpenMP threads made a YOLOv5 scenario 4-7x slower (measured).
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, SCENARIO_THREADS)
    # So the child imports this lrguard and this harness (tests/harness is not installed).
    src = str(Path(lrguard.__file__).resolve().parent.parent)
    harness_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, harness_parent, env.get("PYTHONPATH", "")) if p)
    env[NETLOG_ENV] = str(root / "network.log")
    return env


def _run_one(cache_dir: Path, name: str) -> float:
    """Run scenario ``name`` in a subprocess; return its wall time in seconds."""
    root = scenario_dir(cache_dir, name)
    (root / COMPLETE_MARKER).unlink(missing_ok=True)
    data_yaml = _dataset(cache_dir, SCENARIOS[name].framework)
    log_path = root.parent / f".{root.name}.log"  # the scenario empties its own dir first
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "harness.run_scenario", name, str(root), str(data_yaml)]
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        result = subprocess.run(
            argv,
            cwd=log_path.parent,
            env=_child_env(cache_dir, root),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=SCENARIO_TIMEOUT_S,
            check=False,
        )
    elapsed = time.perf_counter() - started
    if root.is_dir():
        os.replace(log_path, root / "log.txt")
        log_path = root / "log.txt"
    if result.returncode != 0 or not _is_complete(cache_dir, name):
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        raise ScenarioError(f"scenario {name} failed (exit code {result.returncode}); log {log_path}:\n{tail}")
    with open(root / COMPLETE_MARKER, "a", encoding="utf-8") as marker:
        marker.write(f"wall_seconds {elapsed:.1f}\n")
    return elapsed


def wall_seconds(cache_dir: Path, name: str) -> float | None:
    """Wall time of the subprocess that generated scenario ``name`` (None if not recorded)."""
    marker = scenario_dir(cache_dir, name) / COMPLETE_MARKER
    if not marker.is_file():
        return None
    for line in marker.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(" ")
        if key == "wall_seconds":
            return float(value)
    return None


def ensure_runs(cache_dir: Path, names: Iterable[str] | None = None, jobs: int = 1) -> dict[str, Path]:
    """Generate the scenarios that are not complete in ``cache_dir``; return name -> run directory.

    Args:
        cache_dir: Where the runs, the dataset and the trainers' config directories live. Reused
            across calls: a scenario that completed before is not run again.
        names: Scenario names (keys of :data:`SCENARIOS`); all of them when ``None``.
        jobs: How many scenario subprocesses to run at once. Scenarios of one framework always run
            one after the other (they share a dataset folder, where the trainer writes its label
            cache), so more than one job only overlaps YOLOv5 with Ultralytics scenarios.

    Returns:
        Scenario name -> the run directory that holds its results.csv and scenario.json. For
        scenarios with two run directories this is the new (second) one; ``scenario.json`` names
        the original.

    Raises:
        KeyError: For an unknown scenario name.
        ScenarioError: When a scenario subprocess fails.
    """
    cache_dir = Path(cache_dir).resolve()
    selected = list(SCENARIOS) if names is None else list(dict.fromkeys(names))
    for name in selected:
        if name not in SCENARIOS:
            raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    prepare_offline(cache_dir)
    todo = [name for name in selected if not _is_complete(cache_dir, name)]
    for framework in {SCENARIOS[name].framework for name in todo}:
        _dataset(cache_dir, framework)
    lanes: dict[str, list[str]] = {}
    for name in todo:
        lanes.setdefault(SCENARIOS[name].framework, []).append(name)
    workers = max(1, min(jobs, len(lanes)))

    def run_lane(lane: list[str]) -> None:
        for name in lane:
            _run_one(cache_dir, name)

    if workers == 1:
        for lane in lanes.values():
            run_lane(lane)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(run_lane, lane) for lane in lanes.values()]:
                future.result()
    return {name: scenario_dir(cache_dir, name) / SCENARIOS[name].run_subdir for name in selected}
