"""Find the run directory a user means: an explicit path, a results.csv, or the newest run under ./runs."""

from __future__ import annotations

import os
from pathlib import Path

from lrguard.constants import RESULTS_CSV, RUNS_DIR
from lrguard.errors import NotARunError

MAX_DEPTH = 5


def _newest_results(root: Path) -> Path | None:
    best: tuple[float, Path] | None = None
    root_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - root_depth
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and depth < MAX_DEPTH]
        if RESULTS_CSV in filenames:
            f = Path(dirpath) / RESULTS_CSV
            try:
                mtime = f.stat().st_mtime
            except OSError:
                continue
            if best is None or mtime > best[0]:
                best = (mtime, f)
    return None if best is None else best[1].parent


def find_run_dir(path: Path | None) -> tuple[Path, list[str]]:
    """Resolve what the user pointed at to one run directory.

    Rules: a ``results.csv`` file means its directory; a directory holding ``results.csv`` is the
    run; otherwise the most recently modified run below ``<path>/runs`` (or below ``path``), the
    way YOLOv5's ``--resume`` picks the latest run. ``None`` means the current directory.

    Returns:
        ``(run_dir, notes)``; the notes say when a run was picked automatically.

    Raises:
        NotARunError: Nothing that looks like a run exists there.
    """
    base = Path.cwd() if path is None else path
    if not base.exists():
        raise NotARunError(base, "no such file or directory")
    if base.is_file():
        if base.name == RESULTS_CSV or base.suffix == ".csv":
            return base.parent, []
        raise NotARunError(base, "is a file, not a run directory (for checkpoints use 'lrguard ckpt show')")
    if (base / RESULTS_CSV).is_file():
        return base, []
    for root in (base / RUNS_DIR, base):
        if root.is_dir():
            found = _newest_results(root)
            if found is not None:
                return found, [f"picked the most recently written run under {root}: {found}"]
    raise NotARunError(base, f"no {RESULTS_CSV} here or in a run below it; pass a run directory such as runs/train/exp")
