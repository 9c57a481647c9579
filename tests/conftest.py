"""Shared helpers for the lrguard test suite.

Runs written by :func:`harness.generated.write_generated_run` are *generated* from lrguard's
own schedule functions, not produced by a real trainer; tests that use them say so in their names.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(SRC))


from harness.generated import write_generated_run
from lrguard.diagnosis import diagnose
from lrguard.readers import read_run
from lrguard.schedules import ScheduleSpec, SessionPlan
from lrguard.trainers import get_profile

if TYPE_CHECKING:
    from harness.realruns import RealRuns


def generated_diagnosis(run_dir: Path, profile: str, sessions, *, read: dict | None = None, **kwargs):
    """Write a generated run and diagnose it."""
    write_generated_run(run_dir, get_profile(profile), sessions, **kwargs)
    return diagnose(read_run(run_dir, **(read or {})))


def causes(d, min_rank: int = 0) -> list[str]:
    return [f.cause.value for f in d.findings if f.severity.rank >= min_rank]


def warnings_or_worse(d):
    return [f for f in d.findings if f.severity.rank >= 1]


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``root`` (directories as '<dir>')."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def v5_spec() -> ScheduleSpec:
    return ScheduleSpec(lr0=0.01, lrf=0.01, epochs=300, nb=100)


@pytest.fixture
def ul_spec() -> ScheduleSpec:
    return ScheduleSpec(lr0=0.01, lrf=0.01, epochs=100, nb=50)


__all__ = ["ScheduleSpec", "SessionPlan", "causes", "generated_diagnosis", "tree_digest", "warnings_or_worse"]


REALRUNS_CACHE_ENV = "LRGUARD_REALRUNS_CACHE"
REALRUNS_JOBS_ENV = "LRGUARD_REALRUNS_JOBS"


def _trainers_required() -> bool:
    return any(os.environ.get(name) for name in ("CI", "LRGUARD_REQUIRE_TRAINERS"))


@pytest.fixture(scope="session")
def realruns_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the real-trainer scenarios are (or get) generated."""
    configured = os.environ.get(REALRUNS_CACHE_ENV)
    return Path(configured).resolve() if configured else tmp_path_factory.mktemp("realruns")


@pytest.fixture(scope="session")
def real_runs(realruns_cache: Path) -> RealRuns:
    """Scenario name -> run directory of every real-trainer scenario (a :class:`harness.realruns.RealRuns`).

    Runs every scenario once per test session (or reuses the runs in ``$LRGUARD_REALRUNS_CACHE``).
    A scenario that fails to generate fails only the tests that index it (``real_runs[name]``
    raises ``ScenarioError`` with the reason and the log path); the others still pass. Without the
    trainers it skips, unless ``$CI`` or ``$LRGUARD_REQUIRE_TRAINERS`` is set: then a missing
    trainer is an error.
    """
    from harness.realruns import ensure_runs, trainers_importable

    problem = trainers_importable(realruns_cache)
    if problem:
        message = f"real trainers unavailable ({problem}); install them: pip install -e '.[trainers]'"
        if _trainers_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return ensure_runs(realruns_cache, jobs=int(os.environ.get(REALRUNS_JOBS_ENV, "2")))


# Hypothesis: CI draws the same examples every run (derandomize), so a red CI always reproduces;
# HYPOTHESIS_PROFILE=thorough explores many more examples locally.
from hypothesis import settings as _hyp_settings

_hyp_settings.register_profile("ci", derandomize=True, print_blob=True)
_hyp_settings.register_profile("thorough", max_examples=400)
if os.environ.get("HYPOTHESIS_PROFILE"):
    _hyp_settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
elif os.environ.get("CI"):
    _hyp_settings.load_profile("ci")
