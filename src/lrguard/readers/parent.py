"""The run a new run started from: recognised from the configured weights, located and read by the reader.

Diagnosis does no I/O: when a run was started from a previous run's weights (``--weights
runs/train/exp/weights/last.pt`` without ``--resume``), the reader finds that previous run on disk
and records where its LR ended (:class:`~lrguard.model.PreviousRun`), so the ``restart-from-weights``
rule can compare the new run's climb with it.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from lrguard import constants as C
from lrguard.errors import LrguardError
from lrguard.model import PreviousRun, PreviousRunSource, Run
from lrguard.trainers import get_trainer

_RUN_CHECKPOINT = re.compile(r"^(last|best|epoch\d+)\.pt$", re.IGNORECASE)
# Stock pretrained weights the trainers download by name (yolov5s.pt, yolov5s6.pt, yolov8n-seg.pt,
# yolo11n-pose.pt, yolo26n-obb.pt, yolov3-tinyu.pt, yolov9c.pt, rtdetr-l.pt, yoloe-11s-seg.pt, ...).
_STOCK_WEIGHTS = re.compile(
    r"^(yolo(e-)?v?\d+(-tiny|-spp)?[a-z]?\d?u?(-[a-z0-9]+)*|rtdetr-[a-z]+)\.pt$",
    re.IGNORECASE,
)


def _as_path(value: str) -> PurePath:
    """``value`` as a path, read as a Windows path when it looks like one (backslashes, ``C:``)."""
    if "\\" in value or re.match(r"^[A-Za-z]:[\\/]", value):
        return PureWindowsPath(value)
    return PurePosixPath(value)


def previous_run_weights(value: object, base: Path | None = None) -> str | None:
    """Why ``value`` (a ``--weights`` / ``model=`` setting) names a previous run's weights, or ``None``.

    A previous run's weights are recognised by what they are: a ``last.pt`` / ``best.pt`` /
    ``epochN.pt`` in any folder (Windows paths too), or a file or directory that sits in a run
    directory on this machine (one holding results.csv). Stock pretrained weights (``yolov5s.pt``,
    ``yolov8n-seg.pt``, ``yolo11n.pt``, ...) start an ordinary fine-tune, so they give ``None``.

    Args:
        value: The configured weights.
        base: Directory that relative paths are resolved against (the run directory).
    """
    if not isinstance(value, str) or not value.strip():
        return None
    p = _as_path(value.strip())
    name = p.name
    if _STOCK_WEIGHTS.match(name):
        return None
    if _RUN_CHECKPOINT.match(name):
        return f"{name} is the checkpoint name a training run writes"
    local = Path(*p.parts) if p.parts else None
    if local is None or base is None:
        return None
    target = local if local.is_absolute() else base / local
    for run_dir in (target, target.parent, target.parent.parent):
        try:
            if (run_dir / C.RESULTS_CSV).is_file() and run_dir.resolve() != base.resolve():
                return f"{value} lies in the run directory {run_dir}"
        except OSError:
            continue
    return None


def find_previous_run(run_path: Path, weights: str) -> Path | None:
    """The run directory (one holding results.csv, not ``run_path``) that ``weights`` lies in, if any."""
    p = _as_path(weights)
    local = Path(*p.parts) if p.parts else Path(".")
    candidates = [local] if local.is_absolute() else [run_path / local, Path.cwd() / local]
    for anc in run_path.parents:
        if not local.is_absolute():
            candidates.append(anc / local)
    for c in candidates[:12]:
        for run_dir in (c.parent.parent, c.parent) if c.parent.name == C.WEIGHTS_DIR else (c.parent,):
            try:
                if (run_dir / C.RESULTS_CSV).is_file() and run_dir.resolve() != run_path.resolve():
                    return run_dir
            except OSError:
                continue
    return None


def read_parent(run: Run) -> PreviousRun | None:
    """The previous run ``run`` started from, when its configured weights are a previous run's.

    Returns ``None`` for a resume or for stock / unrelated weights. The previous run is read without
    its checkpoints; when it cannot be found or read, the result says so instead of failing.
    """
    if run.config.get("resume"):
        return None
    weights = get_trainer(run.framework).starting_weights(run.config)
    why = previous_run_weights(weights, run.path)
    if not why:
        return None
    prev_dir = find_previous_run(run.path, str(weights))
    if prev_dir is None:
        return PreviousRun(PreviousRunSource.WEIGHTS, why, weights=str(weights))
    from lrguard.readers.run import read_run

    try:
        prev = read_run(prev_dir, checkpoints=False, parent=False)
    except LrguardError as exc:
        return PreviousRun(PreviousRunSource.WEIGHTS, why, path=prev_dir, weights=str(weights), error=exc.one_line())
    return PreviousRun(
        PreviousRunSource.WEIGHTS,
        why,
        path=prev_dir,
        weights=str(weights),
        lr_columns=tuple(prev.lr_columns),
        last_lr=tuple(float(x) for x in prev.lr[-1]),
        last_epoch=int(prev.epochs[-1]),
    )
