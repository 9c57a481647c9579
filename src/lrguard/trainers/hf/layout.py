"""How an HF Trainer ``output_dir`` is recognised: cheap to import, since discovery asks every trainer."""

from __future__ import annotations

import re
from pathlib import Path

from lrguard import constants as C

CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_dirs(root: Path) -> list[Path]:
    """``checkpoint-N`` directories below ``root`` that hold a trainer_state.json, by N."""
    found = []
    for p in root.iterdir() if root.is_dir() else ():
        m = CHECKPOINT_DIR.match(p.name)
        if m and (p / C.HF_TRAINER_STATE).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def recognises(path: Path) -> bool:
    """An output_dir with ``checkpoint-N/trainer_state.json``, or a checkpoint dir itself."""
    try:
        return path.is_dir() and ((path / C.HF_TRAINER_STATE).is_file() or bool(checkpoint_dirs(path)))
    except OSError:
        return False
