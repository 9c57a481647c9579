"""``lrguard diagnose --json`` in a fresh process (what a user runs), for the end-to-end tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def diagnose_json(path: Path) -> dict:
    """The JSON report of one run (``--fail-on never``: the exit code is not the point here)."""
    proc = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", "--json", "--fail-on", "never", str(path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    data = json.loads(proc.stdout)
    return data[0] if isinstance(data, list) else data
