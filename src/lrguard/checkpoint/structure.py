"""Structure report: which trainer wrote a checkpoint, what it holds, what a faithful resume lacks.

Works on the walked top-level object of a checkpoint (:func:`lrguard.checkpoint.archive.load`). The
trainer is recognised from its keys and pickled classes: YOLOv5 (``opt``, ``models.*`` classes; ≤ v6.1
has ``wandb_id`` and no ``opt``), Ultralytics (``train_args``, ``version``), Lightning
(``pytorch-lightning_version``), a bare optimizer state dict, or ``plain``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrguard import constants as C
from lrguard.checkpoint.facts import as_dict, optimizer_state, param_groups
from lrguard.checkpoint.placeholders import Call, StorageRef, TensorRecord
from lrguard.checkpoint.plain import finite_or_none, to_plain
from lrguard.checkpoint.tensors import iter_tensors, storage_summary, summarize

YOLOV5 = "yolov5"
ULTRALYTICS = "ultralytics"
LIGHTNING = "lightning"
HF = "hf"
OPTIMIZER = "optimizer-state"
PLAIN = "plain"

# What a faithful resume needs, per trainer (keys of Structure.has).
RESUME_NEEDS: dict[str, tuple[str, ...]] = {
    YOLOV5: ("model", "ema", "updates", "optimizer", "group_lrs", "train_args", "epoch"),
    ULTRALYTICS: ("ema", "updates", "optimizer", "group_lrs", "train_args", "epoch"),
    LIGHTNING: ("model", "optimizer", "scheduler", "loops", "epoch"),
    PLAIN: ("model", "optimizer", "epoch"),
}
# What the trainer never saves (recomputed or lost on resume by design): reported, not a failure.
NOT_SAVED: dict[str, tuple[str, ...]] = {
    YOLOV5: ("scheduler (rebuilt from epoch)", "GradScaler", "RNG state", "dataloader position"),
    ULTRALYTICS: ("scheduler (rebuilt from epoch)", "RNG state", "dataloader position"),
    LIGHTNING: ("RNG state", "dataloader position (unless a stateful loader)"),
}


@dataclass
class Structure:
    """What a checkpoint holds.

    Attributes:
        framework: ``yolov5``, ``ultralytics``, ``lightning``, ``optimizer-state`` or ``plain``.
        framework_version: Version string when stored (Ultralytics ``version``, YOLOv5 pip version or
            ``"<=v6.1"``/``">=v6.2"``, Lightning version).
        epoch: Stored epoch (0-based last finished; -1 when stripped).
        best_fitness: Stored best fitness as a number.
        stripped: Whether the trainer stripped it at the end of training.
        stripped_reasons: Evidence for ``stripped``.
        has: Component -> present.
        missing: Components a faithful resume needs that are absent.
        not_saved: Components this trainer never saves (by design).
        param_groups: Per group ``lr``, ``initial_lr``, ``momentum``, ``weight_decay``, tag, size.
        model: Tensor summary of the weights a resume would load (``model`` or ``ema``).
        by_dtype: Tensor summary of the whole file.
        keys: Top-level keys.
        model_class: Dotted class name of the pickled model object.
        amp: ``True``/``False`` when the stored GradScaler state says whether AMP was on.
    """

    framework: str
    framework_version: str | None
    epoch: int | None
    best_fitness: float | None
    stripped: bool
    stripped_reasons: list[str]
    has: dict[str, bool]
    missing: list[str]
    not_saved: list[str]
    param_groups: list[dict[str, Any]]
    model: dict[str, Any]
    by_dtype: dict[str, Any]
    keys: list[str] = field(default_factory=list)
    model_class: str | None = None
    amp: bool | None = None


def _type_name(obj: Any) -> str | None:
    return obj.type_name if isinstance(obj, Call) else None


def detect_framework(root: Any) -> tuple[str, str | None]:
    """Return ``(framework, version)`` for a checkpoint's top-level object."""
    d = as_dict(root)
    if d is None:
        return PLAIN, None
    classes = [_type_name(d.get(k)) or "" for k in (C.CKPT_MODEL, C.CKPT_EMA)]
    version = d.get(C.CKPT_VERSION)
    if C.LIGHTNING_VERSION_KEY in d or (C.LIGHTNING_STATE_DICT in d and C.LIGHTNING_LOOPS in d):
        v = d.get(C.LIGHTNING_VERSION_KEY)
        return LIGHTNING, v if isinstance(v, str) else None
    if C.CKPT_ULTRALYTICS_ARGS in d or any(c.startswith("ultralytics.") for c in classes):
        return ULTRALYTICS, version if isinstance(version, str) else None
    if C.CKPT_YOLOV5_OPT in d or "wandb_id" in d or any(c.startswith(("models.", "yolov5.models.")) for c in classes):
        pip = d.get("yolov5pip_version")
        if isinstance(pip, str):
            return YOLOV5, f"pip {pip}"
        return YOLOV5, ">=v6.2" if C.CKPT_YOLOV5_OPT in d and "wandb_id" not in d else "<=v6.1"
    if C.CKPT_PARAM_GROUPS in d and "state" in d:
        return OPTIMIZER, None
    return PLAIN, None


def _momentum(group: dict[Any, Any]) -> Any:
    betas = group.get("betas")
    if "momentum" not in group and isinstance(betas, tuple | list) and betas:
        return betas[0]  # Adam-family: beta1 plays the momentum role
    return group.get("momentum")


def _present(d: dict[Any, Any], key: str) -> bool:
    v = d.get(key)
    return v is not None and not (isinstance(v, dict | list) and not v and key != C.CKPT_SCALER)


def describe(root: Any, storages: dict[str, StorageRef] | None = None) -> Structure:
    """Build the structure report of a checkpoint's top-level object.

    Args:
        root: The walked top-level object.
        storages: The file's storages (:attr:`lrguard.checkpoint.archive.Loaded.storages`); when given,
            the whole-file bytes by dtype come from them instead of a second walk over every tensor.
    """
    d = as_dict(root) or {}
    framework, version = detect_framework(root)
    groups = param_groups(root)
    opt = optimizer_state(root)
    epoch = d.get(C.CKPT_EPOCH)
    epoch = epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None
    model_obj = d.get(C.CKPT_MODEL)
    if model_obj is None:
        model_obj = d.get(C.CKPT_EMA)
    if model_obj is None and C.LIGHTNING_STATE_DICT in d:
        model_obj = d[C.LIGHTNING_STATE_DICT]
    if model_obj is None and framework == PLAIN and isinstance(d.get(C.TORCH_MODEL_STATE_DICT), dict):
        model_obj = d[C.TORCH_MODEL_STATE_DICT]  # the PyTorch tutorial's model_state_dict
    if model_obj is None and framework == PLAIN and any(isinstance(v, TensorRecord) for v in d.values()):
        model_obj = d  # a bare state_dict
    model_summary = summarize(model_obj) if model_obj is not None else summarize(None)
    scaler = d.get(C.CKPT_SCALER)
    has = {
        "model": _present(d, C.CKPT_MODEL)
        or _present(d, C.LIGHTNING_STATE_DICT)
        or model_obj is d
        or (framework == PLAIN and _present(d, C.TORCH_MODEL_STATE_DICT)),
        "ema": _present(d, C.CKPT_EMA),
        "updates": isinstance(d.get(C.CKPT_UPDATES), int),
        "optimizer": opt is not None,
        "group_lrs": bool(groups) and all("lr" in g and "initial_lr" in g for g in groups),
        "momentum_buffers": bool(opt and isinstance(opt.get("state"), dict) and opt["state"]),
        "scaler": scaler is not None or "MixedPrecision" in d or "native_amp_scaling_state" in d,
        "scheduler": bool(d.get(C.LIGHTNING_SCHEDULERS)) or any(k in d for k in C.TORCH_SCHEDULER_KEYS),
        "rng": any(k in d for k in ("rng_state", "rng_states", "random_states")),
        "loops": C.LIGHTNING_LOOPS in d,
        "train_args": bool(
            as_dict(d.get(C.CKPT_ULTRALYTICS_ARGS)) or as_dict(d.get(C.CKPT_YOLOV5_OPT)) or C.LIGHTNING_HPARAMS in d
        ),
        "train_results": isinstance(d.get(C.CKPT_ULTRALYTICS_RESULTS), dict),
        "best_fitness": d.get(C.CKPT_BEST_FITNESS) is not None,
        "epoch": epoch is not None and epoch >= 0,
    }
    reasons = []
    if epoch == -1:
        reasons.append("epoch is -1")
    if C.CKPT_OPTIMIZER in d and d[C.CKPT_OPTIMIZER] is None:
        reasons.append("optimizer is None")
    if framework in (YOLOV5, ULTRALYTICS) and C.CKPT_EMA in d and d[C.CKPT_EMA] is None:
        reasons.append("ema is None")
    by = model_summary["by_dtype"]
    if reasons and by and by.get("float16", {}).get("bytes", 0) * 2 > sum(d["bytes"] for d in by.values()):
        reasons.append("weights are fp16")
    stripped = epoch == -1 or (framework in (YOLOV5, ULTRALYTICS) and not has["optimizer"])
    needs = RESUME_NEEDS.get(framework, RESUME_NEEDS[PLAIN])
    if framework == PLAIN and any(
        isinstance(d.get(k), int) and not isinstance(d.get(k), bool) for k in C.TORCH_STEP_KEYS
    ):
        needs = tuple(k for k in needs if k != "epoch")  # a loop's step counter places the resume instead
    missing = [k for k in needs if not has.get(k)]
    groups_out = []
    for j, g in enumerate(groups):
        params = g.get("params")
        groups_out.append(
            {
                "index": j,
                "tag": g.get("param_group") if isinstance(g.get("param_group"), str) else None,
                "lr": finite_or_none(g.get("lr")),
                "initial_lr": finite_or_none(g.get("initial_lr")),
                "momentum": finite_or_none(_momentum(g)),
                "weight_decay": finite_or_none(g.get("weight_decay")),
                "params": len(params) if isinstance(params, list) else None,
            }
        )
    amp = None
    if isinstance(scaler, dict):
        amp = bool(scaler)
    bf = to_plain(d.get(C.CKPT_BEST_FITNESS))
    model_class = _type_name(d.get(C.CKPT_MODEL)) or _type_name(d.get(C.CKPT_EMA))
    return Structure(
        framework=framework,
        framework_version=version,
        epoch=epoch,
        best_fitness=finite_or_none(bf),
        stripped=stripped,
        stripped_reasons=reasons if stripped else [],
        has=has,
        missing=missing,
        not_saved=list(NOT_SAVED.get(framework, ())),
        param_groups=groups_out,
        model=model_summary,
        by_dtype=summarize(root) if storages is None else storage_summary(storages),
        keys=[str(k) for k in d],
        model_class=model_class,
        amp=amp,
    )


def tensor_paths(root: Any) -> list[tuple[str, TensorRecord]]:
    """All ``(path, tensor)`` pairs of a checkpoint (for listings)."""
    return list(iter_tensors(root))
