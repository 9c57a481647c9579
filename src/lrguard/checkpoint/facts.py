"""Fill :class:`lrguard.model.CheckpointFacts` from a walked checkpoint.

Works on the top-level dict of YOLOv5 / Ultralytics checkpoints (``epoch``, ``optimizer``,
``updates``, ``opt``/``train_args``, ``train_results``, ``version``, ``date``) and, for the optimizer,
also on Lightning's ``optimizer_states[0]`` and a bare ``optimizer.state_dict()`` (HF ``optimizer.pt``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.placeholders import Call
from lrguard.checkpoint.plain import finite_or_none, to_plain
from lrguard.checkpoint_facts import CheckpointFacts


def as_dict(obj: Any) -> dict[Any, Any] | None:
    """``obj`` if it is a dict, the attribute dict of a placeholder object, else ``None``."""
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, Call):
        attrs = obj.attrs()
        return attrs if attrs else (dict(obj.items) if obj.items else None)
    return None


def optimizer_state(root: Any) -> dict[Any, Any] | None:
    """The optimizer ``state_dict()`` of a checkpoint, or ``None`` when absent or stripped."""
    d = as_dict(root)
    if d is None:
        return None
    opt = d.get(C.CKPT_OPTIMIZER)
    if opt is None:  # a plain loop's other names for it (the PyTorch tutorial's optimizer_state_dict)
        opt = next((d[k] for k in C.TORCH_OPTIMIZER_KEYS[1:] if isinstance(d.get(k), dict)), None)
    if opt is None and isinstance(d.get(C.LIGHTNING_OPTIMIZERS), list) and d[C.LIGHTNING_OPTIMIZERS]:
        opt = d[C.LIGHTNING_OPTIMIZERS][0]  # Lightning
    if opt is None and C.CKPT_PARAM_GROUPS in d and "state" in d:
        opt = d  # a bare optimizer.state_dict() (HF optimizer.pt)
    opt_d = as_dict(opt)
    if opt_d is None or not isinstance(opt_d.get(C.CKPT_PARAM_GROUPS), list):
        return None
    return opt_d


def param_groups(root: Any) -> list[dict[Any, Any]]:
    """The optimizer's param groups (empty when there is no optimizer state)."""
    opt = optimizer_state(root)
    if opt is None:
        return []
    return [g for g in opt[C.CKPT_PARAM_GROUPS] if isinstance(g, dict)]


def train_args(root: Any) -> dict[str, Any]:
    """YOLOv5 ``opt`` or Ultralytics ``train_args`` as plain values (``{}`` when absent)."""
    d = as_dict(root) or {}
    for key in (C.CKPT_ULTRALYTICS_ARGS, C.CKPT_YOLOV5_OPT):
        args = as_dict(d.get(key))
        if args:
            plain = to_plain(args)
            return plain if isinstance(plain, dict) else {}
    return {}


def train_results(root: Any) -> dict[str, list[Any]] | None:
    """Ultralytics' embedded ``train_results`` (results.csv snapshot) as column -> values."""
    d = as_dict(root) or {}
    tr = d.get(C.CKPT_ULTRALYTICS_RESULTS)
    if not isinstance(tr, dict) or not tr:
        return None
    out: dict[str, list[Any]] = {}
    for k, v in tr.items():
        plain = to_plain(v)
        out[str(k).strip()] = plain if isinstance(plain, list) else [plain]
    return out


def _int_or_none(x: Any) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    f = finite_or_none(x)
    return int(f) if f is not None and f == int(f) else None


def facts_from_root(path: str | Path, root: Any) -> CheckpointFacts:
    """Build :class:`CheckpointFacts` from a checkpoint's top-level object.

    Args:
        path: The checkpoint file (recorded as is).
        root: The walked top-level object (usually a dict).

    Returns:
        The facts; fields the checkpoint lacks stay at their defaults.
    """
    d = as_dict(root) or {}
    groups = param_groups(root)
    lrs = tuple(finite_or_none(g.get("lr")) or 0.0 for g in groups)
    initial = tuple(finite_or_none(g.get("initial_lr")) for g in groups)
    tags = tuple(g.get("param_group") if isinstance(g.get("param_group"), str) else None for g in groups)
    version = d.get(C.CKPT_VERSION)
    date = d.get(C.CKPT_DATE)
    return CheckpointFacts(
        path=Path(path),
        epoch=_int_or_none(d.get(C.CKPT_EPOCH)),
        has_optimizer=optimizer_state(root) is not None,
        lrs=lrs,
        initial_lrs=initial,
        group_tags=tags,
        updates=_int_or_none(d.get(C.CKPT_UPDATES)),
        version=version if isinstance(version, str) else None,
        date=date if isinstance(date, str) else None,
        train_args=train_args(root),
        train_results=train_results(root),
    )
