"""The README's sample output is what the command prints today (at 100 columns)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sample_diagnose_output_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n\$ lrguard diagnose (\S+)\n(.*?)```", text, re.S)
    assert block, "the README starts with a sample `lrguard diagnose` block"
    run, shown = block.group(1), block.group(2)
    env = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "lrguard", "diagnose", run], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 1  # the sample has a warning: exit 1 with the default --fail-on warning
    assert out.stdout == shown
