"""Find the run directory a user means: an explicit path, a results.csv, or the run ``--resume`` would pick.

Without an explicit run, YOLOv5's and Ultralytics' ``--resume`` / ``resume=True`` take the most recently
changed ``last*.pt`` anywhere below the search directory (recursively, by inode change time); lrguard
picks the same run, so ``lrguard diagnose`` with no argument explains the run a bare resume would
continue. When no run below holds a ``last*.pt`` it falls back to the most recently written
``results.csv``.
"""

from __future__ import annotations

import os
from pathlib import Path

from lrguard.constants import (
    RESULTS_CSV,
    RUNS_DIR,
    ULTRALYTICS_ARGS_YAML,
    WEIGHTS_DIR,
    YOLOV5_HYP_YAML,
    YOLOV5_OPT_YAML,
)
from lrguard.errors import InputError, NotARunError, RunNotStartedError

MAX_DEPTH = 5
# Files a trainer writes into a run directory before the first results.csv row.
EARLY_RUN_FILES = (YOLOV5_OPT_YAML, YOLOV5_HYP_YAML, ULTRALYTICS_ARGS_YAML, WEIGHTS_DIR)


def _walk(root: Path):
    """``os.walk`` below ``root``, skipping hidden folders and stopping ``MAX_DEPTH`` levels down."""
    root_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - root_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and depth < MAX_DEPTH)
        yield Path(dirpath), filenames


def _stamp(f: Path, ctime: bool) -> float | None:
    try:
        st = f.stat()
    except OSError:
        return None
    return st.st_ctime if ctime else st.st_mtime


def run_dir_of_checkpoint(ckpt: Path) -> Path:
    """The run directory a checkpoint belongs to: ``<run>/weights/last.pt`` -> ``<run>``."""
    return ckpt.parent.parent if ckpt.parent.name == WEIGHTS_DIR else ckpt.parent


def newest_last_checkpoint(root: Path) -> Path | None:
    """The ``last*.pt`` below ``root`` that ``--resume`` without a path would resume (newest ctime)."""
    best: tuple[float, Path] | None = None
    for dirpath, filenames in _walk(root):
        for name in filenames:
            if name.startswith("last") and name.endswith(".pt"):
                f = dirpath / name
                t = _stamp(f, ctime=True)
                if t is not None and (best is None or t > best[0]):
                    best = (t, f)
    return None if best is None else best[1]


def _newest_results(root: Path) -> Path | None:
    best: tuple[float, Path] | None = None
    for dirpath, filenames in _walk(root):
        if RESULTS_CSV in filenames:
            f = dirpath / RESULTS_CSV
            t = _stamp(f, ctime=False)
            if t is not None and (best is None or t > best[0]):
                best = (t, f)
    return None if best is None else best[1].parent


def _pick_below(root: Path) -> tuple[Path, str] | None:
    """The run below ``root`` a bare resume would take, and the sentence that says why."""
    last = newest_last_checkpoint(root)
    if last is not None:
        run = run_dir_of_checkpoint(last)
        if not (run / RESULTS_CSV).is_file():
            raise NotARunError(
                run, f"picked as the run a bare --resume would take (newest {last.name}), but it has no {RESULTS_CSV}"
            )
        return run, f"diagnosing {run}: the run a bare --resume would take (its {last.name} is the newest below {root})"
    found = _newest_results(root)
    if found is not None:
        return found, f"diagnosing {found}: no last*.pt below {root}, so the most recently written {RESULTS_CSV}"
    return None


def find_run_dir(path: Path | None) -> tuple[Path, list[str]]:
    """Resolve what the user pointed at to one run directory.

    Rules: a ``results.csv`` file means its directory; a directory holding ``results.csv`` is the
    run; otherwise the run below ``<path>/runs`` (or below ``path``) that a bare ``--resume`` would
    continue (see the module docstring). ``None`` means the current directory.

    Returns:
        ``(run_dir, notes)``; the notes say when a run was picked automatically, and which.

    Raises:
        RunNotStartedError: ``path`` looks like a run that has not logged its first row yet (empty, or only
            the files a trainer writes before it: opt.yaml, hyp.yaml, args.yaml, weights/).
        NotARunError: Nothing that looks like a run exists there.
        InputError: ``path`` or a folder on the way cannot be read (permissions).
    """
    base = Path.cwd() if path is None else path
    try:
        return _find_run_dir(base)
    except OSError as exc:
        raise InputError.from_os_error(exc) from None


def _find_run_dir(base: Path) -> tuple[Path, list[str]]:
    if not base.exists():
        raise NotARunError(base, "no such file or directory")
    if base.is_file():
        if base.name == RESULTS_CSV or base.suffix == ".csv":
            return base.parent, []
        raise NotARunError(base, "is a file, not a run directory (for checkpoints use 'lrguard ckpt show')")
    os.listdir(base)  # an unreadable directory says so here, not as "no results.csv"
    if (base / RESULTS_CSV).is_file():
        return base, []
    if any((base / name).is_file() for name in (YOLOV5_OPT_YAML, ULTRALYTICS_ARGS_YAML)):
        raise RunNotStartedError(base, f"no {RESULTS_CSV} yet (the run has not logged its first epoch)")
    for root in (base / RUNS_DIR, base):
        if root.is_dir():
            picked = _pick_below(root)
            if picked is not None:
                return picked[0], [picked[1]]
    entries = os.listdir(base)
    if not entries or any(name in EARLY_RUN_FILES for name in entries):
        raise RunNotStartedError(base, f"no {RESULTS_CSV} yet (the run has not logged its first epoch)")
    raise NotARunError(base, f"no {RESULTS_CSV} here or in a run below it; pass a run directory such as runs/train/exp")
