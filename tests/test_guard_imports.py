"""The guard's torch stays behind its adapters: lrguard, the guard core and the CLI import no torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def test_core_and_guard_core_import_no_torch():
    code = (
        "import sys; import lrguard, lrguard.guard, lrguard.guard.core, lrguard.guard.config, lrguard.guard.events; "
        "import lrguard.guard.trainer_steps; "
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


TRAINER_LIBRARIES = ("lightning", "pytorch_lightning", "transformers", "accelerate", "ultralytics", "yolov5")


def test_trainer_specific_guards_live_in_their_trainer_packages():
    """guard/ holds the framework-level adapters only; each trainer's guard is its package's guard_adapter.py."""
    for path in (SRC / "lrguard" / "guard").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for lib in TRAINER_LIBRARIES:
            assert f"import {lib}" not in text and f"from {lib}" not in text, f"{path.name} imports {lib}"
    for trainer, cls in (
        ("yolov5", "YOLOv5Guard"),
        ("ultralytics", "UltralyticsGuard"),
        ("lightning", "LightningGuard"),
        ("hf", "HFGuard"),
    ):
        adapter = SRC / "lrguard" / "trainers" / trainer / "guard_adapter.py"
        assert re.search(rf"^class {cls}\b", adapter.read_text(encoding="utf-8"), re.M), adapter
    assert not (SRC / "lrguard" / "guard" / "lightning_adapter.py").exists()
    assert not (SRC / "lrguard" / "guard" / "hf_adapter.py").exists()


def test_the_trainer_registry_imports_no_torch():
    """Loading every trainer plug-in (what the diagnosis does) leaves the guard adapters, torch and the trainers alone."""
    code = (
        "import sys; from lrguard.trainers import REGISTRY, get_trainer; [get_trainer(n) for n in REGISTRY]; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'transformers') "
        "or m.endswith('guard_adapter')); print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
