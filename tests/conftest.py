"""Shared fixtures.

``real_runs`` runs every real-trainer scenario once per test session (or reuses the runs in
``$LRGUARD_REALRUNS_CACHE``) and returns scenario name -> run directory. Without the trainers it
skips, unless ``$CI`` or ``$LRGUARD_REQUIRE_TRAINERS`` is set: then a missing trainer is an error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

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
def real_runs(realruns_cache: Path) -> dict[str, Path]:
    """Scenario name -> run directory of every real-trainer scenario."""
    from lrguard.testing.realruns import ensure_runs, trainers_importable

    problem = trainers_importable(realruns_cache)
    if problem:
        message = f"real trainers unavailable ({problem}); install them: pip install -e '.[trainers]'"
        if _trainers_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return ensure_runs(realruns_cache, jobs=int(os.environ.get(REALRUNS_JOBS_ENV, "2")))
