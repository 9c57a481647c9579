"""Generate (once) and locate the real-trainer run directories that the tests and examples use.

``ensure_runs(cache_dir)`` runs every scenario of :data:`SCENARIOS` that is not already complete in
``cache_dir``, each in its own subprocess with the offline environment, and returns a
:class:`RealRuns` mapping of scenario name -> run directory. A scenario that fails does not stop the
others: the mapping records why it failed and raises :class:`ScenarioError` only when that scenario
is asked for. Generation holds an exclusive lock on ``cache_dir/.generate.lock``, so several
processes can share one cache; a scenario counts as complete only once its marker exists (written
last, atomically), and a half-written one is generated again. Layout of ``cache_dir``::

    .generate.lock           held (fcntl.flock) while scenarios are being generated
    offline/                 trainer config dirs, fonts, matplotlib cache (harness.offline)
    data/<framework>/        the synthetic dataset, one copy per trainer (each writes its own
                             labels/*.cache into the dataset folder)
    scenarios/<framework>/<scenario>/
        log.txt              everything the scenario and its trainer processes printed
        network.log          what the network guard refused (absent when nothing was)
        .complete            recipe version and wall time; written last (rename), by the parent
        runs/...             the trainer's run directories, weights included
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
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
    "RealRuns",
    "ScenarioError",
    "ScenarioFailure",
    "ScenarioInfo",
    "ensure_runs",
    "generation_lock",
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


#: Lock file (inside the cache directory) held while scenarios are generated.
LOCK_NAME = ".generate.lock"
#: Log lines kept in a failure's message.
TAIL_LINES = 40


class ScenarioError(RuntimeError):
    """A scenario failed; the first line says why and names its log, the rest is the log's tail."""


@dataclass(frozen=True)
class ScenarioFailure:
    """Why one scenario could not be generated.

    Attributes:
        name: The scenario.
        reason: One line: the exit code and the last line the scenario printed, or the exception.
        log: The scenario's log file, or ``None`` when it failed before writing one.
        tail: The last lines of that log (empty without a log).
    """

    name: str
    reason: str
    log: Path | None
    tail: str = ""

    def message(self) -> str:
        """The text of the :class:`ScenarioError` raised for this failure."""
        where = f"; log {self.log}" if self.log is not None else ""
        return f"scenario {self.name} failed: {self.reason}{where}" + (f"\n{self.tail}" if self.tail else "")


class RealRuns(Mapping[str, Path]):
    """Scenario name -> run directory, for every scenario that was asked for.

    Its keys are all the requested scenarios, failed ones included; indexing a failed one raises
    :class:`ScenarioError` with the reason, so a test fails only when the scenario it reads failed.
    ``name in runs`` never raises.
    """

    def __init__(self, dirs: Mapping[str, Path], failures: Mapping[str, ScenarioFailure]) -> None:
        """Build the mapping.

        Args:
            dirs: Name -> run directory of every requested scenario (failed ones included).
            failures: Name -> failure of the scenarios that could not be generated.
        """
        self._dirs = dict(dirs)
        self._failures = dict(failures)

    def __getitem__(self, name: str) -> Path:
        failure = self._failures.get(name)
        if failure is not None:
            raise ScenarioError(failure.message())
        return self._dirs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dirs)

    def __len__(self) -> int:
        return len(self._dirs)

    def __contains__(self, name: object) -> bool:
        return name in self._dirs

    def __repr__(self) -> str:
        return f"RealRuns({len(self._dirs)} scenarios, failed: {sorted(self._failures) or 'none'})"

    @property
    def failures(self) -> dict[str, ScenarioFailure]:
        """Name -> failure of every scenario that could not be generated (empty when all worked)."""
        return dict(self._failures)

    def raise_failures(self) -> None:
        """Raise :class:`ScenarioError` naming every failed scenario; do nothing when none failed.

        Raises:
            ScenarioError: When at least one scenario failed; the message has one line per failure,
                then the log tail of the first.
        """
        if not self._failures:
            return
        failures = [self._failures[name] for name in sorted(self._failures)]
        lines = [f"{len(failures)} of {len(self._dirs)} scenarios failed:"]
        lines += [f"  {f.message().splitlines()[0]}" for f in failures]
        if failures[0].tail:
            lines += [f"log tail of {failures[0].name}:", failures[0].tail]
        raise ScenarioError("\n".join(lines))


@contextmanager
def generation_lock(cache_dir: Path) -> Iterator[None]:
    """Hold the exclusive generation lock of ``cache_dir`` (``fcntl.flock`` on :data:`LOCK_NAME`).

    Blocks while another process (or another open of the same file) holds it. The lock goes away
    with its process, so a killed generator leaves nothing to clean up.

    Args:
        cache_dir: The cache directory; created when missing.
    """
    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / LOCK_NAME, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process generating scenarios in {cache_dir}", file=sys.stderr, flush=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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


def _marker_lines(cache_dir: Path, name: str) -> list[str]:
    marker = scenario_dir(cache_dir, name) / COMPLETE_MARKER
    try:
        return marker.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_complete(cache_dir: Path, name: str) -> bool:
    """Whether scenario ``name`` finished under the current recipe (marker and scenario.json there)."""
    lines = _marker_lines(cache_dir, name)
    if not lines or lines[0].strip() != str(RECIPE_VERSION):
        return False
    return (scenario_dir(cache_dir, name) / SCENARIOS[name].run_subdir / SCENARIO_JSON).is_file()


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


def _scenario_argv(name: str, root: Path, data_yaml: Path) -> list[str]:
    """The command that runs scenario ``name`` into ``root`` (see :mod:`harness.run_scenario`)."""
    return [sys.executable, "-m", "harness.run_scenario", name, str(root), str(data_yaml)]


#: A line that names a raised exception, as a traceback ends (``RuntimeError: ...``).
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::\s.*)?$")
#: Characters of the log kept in a one-line reason.
REASON_CHARS = 300


def _reason_line(text: str) -> str:
    """The last exception line of a log (trainers print notes after a traceback), else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if _EXCEPTION_LINE.match(line)]
    line = errors[-1] if errors else lines[-1] if lines else "(no output)"
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 3] + "..."


def _run_one(cache_dir: Path, name: str) -> float:
    """Run scenario ``name`` in a subprocess and mark it complete; return its wall time in seconds.

    The completion marker is removed first and written last (to a temporary name, then renamed),
    after the log has moved into the scenario directory: a scenario killed half-way has no marker
    and is generated again.

    Raises:
        _Failed: When the subprocess fails, hangs or leaves no scenario.json.
    """
    root = scenario_dir(cache_dir, name)
    (root / COMPLETE_MARKER).unlink(missing_ok=True)
    data_yaml = _dataset(cache_dir, SCENARIOS[name].framework)
    log_path = root.parent / f".{root.name}.log"  # the scenario empties its own dir first
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            result = subprocess.run(
                _scenario_argv(name, root, data_yaml),
                cwd=log_path.parent,
                env=_child_env(cache_dir, root),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=SCENARIO_TIMEOUT_S,
                check=False,
            )
            returncode: int | None = result.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    elapsed = time.perf_counter() - started
    if root.is_dir():
        os.replace(log_path, root / "log.txt")
        log_path = root / "log.txt"
    run_json = root / SCENARIOS[name].run_subdir / SCENARIO_JSON
    if returncode != 0 or not run_json.is_file():
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if returncode is None:
            reason = f"timed out after {SCENARIO_TIMEOUT_S} s; last output: {_reason_line(text)}"
        elif returncode != 0:
            reason = f"exit code {returncode}: {_reason_line(text)}"
        else:
            reason = f"exit code 0 but no {SCENARIOS[name].run_subdir}/{SCENARIO_JSON}"
        tail = "\n".join(text.splitlines()[-TAIL_LINES:])
        raise _Failed(ScenarioFailure(name, reason, log_path, tail))
    partial = root / f"{COMPLETE_MARKER}.part"
    partial.write_text(f"{RECIPE_VERSION}\nwall_seconds {elapsed:.1f}\n", encoding="utf-8")
    os.replace(partial, root / COMPLETE_MARKER)
    return elapsed


class _Failed(Exception):
    """Raised by :func:`_run_one`; carries the :class:`ScenarioFailure`."""

    def __init__(self, failure: ScenarioFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def _failure(name: str, error: Exception) -> ScenarioFailure:
    if isinstance(error, _Failed):
        return error.failure
    return ScenarioFailure(name, f"{type(error).__name__}: {error}".splitlines()[0], None)


def wall_seconds(cache_dir: Path, name: str) -> float | None:
    """Wall time of the subprocess that generated scenario ``name`` (None if not recorded)."""
    for line in _marker_lines(cache_dir, name):
        key, _, value = line.partition(" ")
        if key == "wall_seconds":
            return float(value)
    return None


def ensure_runs(cache_dir: Path, names: Iterable[str] | None = None, jobs: int = 1) -> RealRuns:
    """Generate the scenarios that are not complete in ``cache_dir``; return name -> run directory.

    Every requested scenario is attempted: one that fails is recorded in the result and does not
    stop the others. Generation holds :func:`generation_lock`, so a second process sharing the
    cache waits, then finds the scenarios complete instead of generating them again.

    Args:
        cache_dir: Where the runs, the dataset and the trainers' config directories live. Reused
            across calls: a scenario that completed before is not run again.
        names: Scenario names (keys of :data:`SCENARIOS`); all of them when ``None``.
        jobs: How many scenario subprocesses to run at once. Scenarios of one framework always run
            one after the other (they share a dataset folder, where the trainer writes its label
            cache), so more than one job only overlaps YOLOv5 with Ultralytics scenarios.

    Returns:
        A :class:`RealRuns`: scenario name -> the run directory that holds its results.csv and
        scenario.json (for scenarios with two run directories the new, second one;
        ``scenario.json`` names the original). Indexing a scenario that failed raises
        :class:`ScenarioError`; :meth:`RealRuns.raise_failures` raises if any failed.

    Raises:
        KeyError: For an unknown scenario name (before anything runs).
    """
    cache_dir = Path(cache_dir).resolve()
    selected = list(SCENARIOS) if names is None else list(dict.fromkeys(names))
    for name in selected:
        if name not in SCENARIOS:
            raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    dirs = {name: scenario_dir(cache_dir, name) / SCENARIOS[name].run_subdir for name in selected}
    failures: dict[str, ScenarioFailure] = {}
    if all(_is_complete(cache_dir, name) for name in selected):
        return RealRuns(dirs, failures)
    with generation_lock(cache_dir):
        prepare_offline(cache_dir)
        lanes: dict[str, list[str]] = {}
        for name in selected:  # decided under the lock: another process may have finished some
            if not _is_complete(cache_dir, name):
                lanes.setdefault(SCENARIOS[name].framework, []).append(name)

        def run_lane(lane: list[str]) -> None:
            for name in lane:
                try:
                    _run_one(cache_dir, name)
                except Exception as error:  # recorded; the next scenario still runs
                    failures[name] = _failure(name, error)

        workers = max(1, min(jobs, len(lanes)))
        if workers == 1:
            for lane in lanes.values():
                run_lane(lane)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for future in [pool.submit(run_lane, lane) for lane in lanes.values()]:
                    future.result()
    return RealRuns(dirs, failures)
