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
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers import REGISTRY, all_trainers, get_profile, get_trainer
from lrguard.trainers.profile import Profile

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
    given = {"hyp": hyp, "opt": opt, "args": args}
    present = {k for k, v in given.items() if v} | ({"kv"} if kv else set())
    if framework is None:
        if profile:
            try:
                framework = get_profile(profile).framework
            except KeyError:
                raise InputError(None, f"unknown profile {profile!r}") from None
        else:
            claims = [t.name for t in all_trainers() if t.plan_inputs & present]
            if len(claims) != 1:
                inputs = ", ".join(sorted("key=value arguments" if k == "kv" else f"--{k}" for k in present))
                names = "|".join(REGISTRY)
                raise InputError(
                    None, f"say which trainer: --framework {names} ({inputs or 'no configuration file'} does not tell)"
                )
            framework = claims[0]
    try:
        trainer = get_trainer(framework)
    except KeyError:
        raise InputError(None, f"unknown framework {framework!r}") from None
    try:
        prof = get_profile(profile) if profile else trainer.default_profile
    except KeyError:
        raise InputError(None, f"unknown profile {profile!r}") from None
    if prof.framework != framework:
        raise InputError(None, f"profile {prof.name} is not a {framework} profile")

    merged, sources, notes = trainer.plan_settings(given, kv or [], _load)
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
    nbs = prof.fixed_nbs or int(_num(merged, "nbs", DEFAULT_NBS, where))
    if trainer.trainer_chooses_lr0({"optimizer": optimizer}):
        warmup_bias_lr = 0.0
        choice = (
            trainer.auto_optimizer(int(images), batch, epochs, int(nc), nbs)
            if images is not None and nc is not None
            else None
        )
        if choice is not None:
            lr0 = choice.lr0
            notes.append(
                f"optimizer=auto resolves to {choice.optimizer} with lr0={lr0:g} (lr0={requested_lr0:g} is ignored)"
            )
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
