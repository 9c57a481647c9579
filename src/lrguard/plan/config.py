"""The inputs of ``lrguard plan``: a training configuration read from files and command-line options.

YOLOv5 reads ``hyp.yaml`` (+ ``--epochs``/``--batch-size``/``--cos-lr``/``--optimizer``) or a run's
``opt.yaml`` (which embeds the hyp); Ultralytics reads ``args.yaml`` or ``key=value`` arguments.
Everything ends up in one :class:`PlanConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lrguard.errors import InputError
from lrguard.frameworks import get_profile, ultralytics, yolov5
from lrguard.frameworks.profile import Profile
from lrguard.schedules.spec import ScheduleSpec

DEFAULT_BATCH = 16
DEFAULT_NBS = 64


@dataclass(frozen=True)
class PlanConfig:
    """One planned training run.

    Attributes:
        framework: ``"yolov5"`` or ``"ultralytics"``.
        profile: Trainer-version rules.
        spec: Schedule inputs (``nb`` may be ``None`` when neither ``--nb`` nor the dataset size is given).
        batch: Batch size (total, as ``--batch-size``/``batch=``).
        images: Training images (``None`` when unknown).
        nbs: Nominal batch size.
        weight_decay: Configured weight decay (before the trainer's batch scaling).
        optimizer: Requested optimizer (``auto`` for Ultralytics' default).
        requested_lr0: ``lr0`` as configured (differs from ``spec.lr0`` when ``optimizer=auto`` overrides it).
        nc: Number of classes (``optimizer=auto`` uses it).
        time: Ultralytics ``time=`` budget in hours, or ``None``.
        sources: Files the configuration came from.
        notes: Assumptions made while reading it.
    """

    framework: str
    profile: Profile
    spec: ScheduleSpec
    batch: int = DEFAULT_BATCH
    images: int | None = None
    nbs: int = DEFAULT_NBS
    weight_decay: float = 0.0005
    optimizer: str = "SGD"
    requested_lr0: float = 0.01
    nc: int | None = None
    time: float | None = None
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def with_(self, **changes: Any) -> PlanConfig:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)


def _load(path: str | Path) -> dict[str, Any]:
    from lrguard.readers.yamlfile import load_yaml_mapping

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    return load_yaml_mapping(p)


def _num(d: dict[str, Any], key: str, default: float, where: str) -> float:
    v = d.get(key, default)
    if v is None:
        return default
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise InputError(where, f"{key}: {v!r} is not a number") from None
    if not math.isfinite(f):
        raise InputError(where, f"{key}: {v!r} is not a finite number")
    return f


def parse_kv(items: list[str]) -> dict[str, Any]:
    """Parse Ultralytics-style ``key=value`` arguments (values as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(None, f"argument {item!r} is not key=value")
        k, v = item.split("=", 1)
        try:
            out[k.strip().replace("-", "_")] = yaml.safe_load(v) if v != "" else None
        except yaml.YAMLError:
            out[k.strip()] = v
    return out


def build_config(
    *,
    framework: str | None = None,
    profile: str | None = None,
    hyp: str | None = None,
    opt: str | None = None,
    args: str | None = None,
    kv: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> PlanConfig:
    """Merge framework defaults, configuration files, ``key=value`` arguments and CLI overrides.

    Args:
        framework: ``yolov5`` or ``ultralytics``; inferred from the files when omitted.
        profile: A profile name (trainer version) instead of the framework's current one.
        hyp: YOLOv5 hyp.yaml.
        opt: YOLOv5 opt.yaml (embeds the hyp, epochs, batch_size, cos_lr, optimizer).
        args: Ultralytics args.yaml.
        kv: Ultralytics ``key=value`` arguments.
        overrides: Values from the command line (``None`` entries are ignored): ``epochs``, ``lr0``,
            ``lrf``, ``cos_lr``, ``warmup_epochs``, ``warmup_bias_lr``, ``batch``, ``images``, ``nb``,
            ``optimizer``, ``nc``, ``time``, ``weight_decay``, ``nbs``.

    Raises:
        InputError: Unreadable files, values that are not numbers, or conflicting inputs.
    """
    sources: list[str] = []
    notes: list[str] = []
    if framework is None:
        if profile:
            framework = get_profile(profile).framework
        elif args or kv:
            framework = "ultralytics"
        elif hyp or opt:
            framework = "yolov5"
        else:
            raise InputError(None, "say which trainer: --framework yolov5|ultralytics (or give --hyp/--opt/--args)")
    if framework not in ("yolov5", "ultralytics"):
        raise InputError(None, f"unknown framework {framework!r}")
    try:
        prof = get_profile(profile) if profile else (yolov5.CURRENT if framework == "yolov5" else ultralytics.V8_4)
    except KeyError:
        raise InputError(None, f"unknown profile {profile!r}") from None
    if prof.framework != framework:
        raise InputError(None, f"profile {prof.name} is not a {framework} profile")

    merged: dict[str, Any] = {}
    if framework == "yolov5":
        opt_d = _load(opt) if opt else {}
        hyp_d = _load(hyp) if hyp else None
        sources += [s for s in (opt, hyp) if s]
        merged = yolov5.hyp_from_config(opt_d, hyp_d)
        merged["batch"] = opt_d.get("batch_size", DEFAULT_BATCH)
        merged["optimizer"] = opt_d.get("optimizer", "SGD")
        merged["nbs"] = DEFAULT_NBS
        if hyp_d and opt_d.get("hyp"):
            notes.append("opt.yaml embeds a hyp: its values win over --hyp (that is what --resume uses)")
    else:
        args_d = _load(args) if args else {}
        if args:
            sources.append(args)
        args_d.update(parse_kv(kv or []))
        merged = dict(ultralytics.DEFAULTS)
        merged.update({k: v for k, v in args_d.items() if v is not None})
        merged.setdefault("batch", DEFAULT_BATCH)
    for k, v in (overrides or {}).items():
        if v is not None:
            merged[k] = v

    where = sources[0] if sources else "options"
    epochs = int(_num(merged, "epochs", 100, where))
    if epochs < 1:
        raise InputError(None, f"epochs must be at least 1, got {epochs}")
    batch = int(_num(merged, "batch", DEFAULT_BATCH, where))
    if batch < 1:
        raise InputError(None, "batch must be a positive number of images (auto-batch -1 is not modelled)")
    images = merged.get("images")
    nb = merged.get("nb")
    if nb is None and images is not None:
        nb = math.ceil(int(images) / batch)
    if nb is not None and int(nb) < 1:
        raise InputError(None, f"batches per epoch must be at least 1, got {nb}")
    if nb is None:
        notes.append("batches per epoch unknown (give --nb or --images): warmup length not modelled")
    requested_lr0 = _num(merged, "lr0", 0.01, where)
    lr0 = requested_lr0
    optimizer = str(merged.get("optimizer") or "SGD")
    warmup_bias_lr = _num(merged, "warmup_bias_lr", 0.1, where)
    nc = merged.get("nc")
    nbs = int(_num(merged, "nbs", DEFAULT_NBS, where)) if framework == "ultralytics" else DEFAULT_NBS
    if framework == "ultralytics" and optimizer.lower() == "auto":
        warmup_bias_lr = 0.0
        if images is not None and nc is not None:
            name, lr0 = ultralytics.auto_optimizer(int(images), batch, epochs, int(nc), nbs)
            notes.append(f"optimizer=auto resolves to {name} with lr0={lr0:g} (lr0={requested_lr0:g} is ignored)")
        else:
            notes.append("optimizer=auto: give --images and --nc to model the optimizer and lr0 it will choose")
    time_h = merged.get("time")
    spec = ScheduleSpec(
        lr0=lr0,
        lrf=_num(merged, "lrf", 0.01, where),
        epochs=epochs,
        cos_lr=bool(merged.get("cos_lr", False)),
        warmup_epochs=_num(merged, "warmup_epochs", 3.0, where),
        warmup_bias_lr=warmup_bias_lr,
        nb=None if nb is None else int(nb),
    )
    return PlanConfig(
        framework=framework,
        profile=prof,
        spec=spec,
        batch=batch,
        images=None if images is None else int(images),
        nbs=nbs,
        weight_decay=_num(merged, "weight_decay", 0.0005, where),
        optimizer=optimizer,
        requested_lr0=requested_lr0,
        nc=None if nc is None else int(nc),
        time=None if time_h in (None, 0, 0.0) else float(time_h),
        sources=sources,
        notes=notes,
    )
