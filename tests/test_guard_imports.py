"""The guard's torch stays behind its adapters: lrguard, the guard core and the CLI import no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def test_core_and_guard_core_import_no_torch():
    code = (
        "import sys; import lrguard, lrguard.guard, lrguard.guard.core, lrguard.guard.config, lrguard.guard.events; "
        "import lrguard.cli.main, lrguard.diagnosis, lrguard.plan, lrguard.checkpoint; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'transformers')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_adapters_import_torch():
    for path in (SRC / "lrguard" / "guard").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if not path.stem.endswith("_adapter"):
            assert "import torch" not in text, path.name
