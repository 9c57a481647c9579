"""Name -> schedule class, and rebuilding a schedule from a saved ``scheduler.state_dict()``.

:func:`from_torch_state_dict` reads only plain data (numbers, lists, dicts, a ``Counter``) the
way ``torch.load`` returns it; it never imports torch. What it cannot rebuild it refuses with
:class:`~lrguard.schedules.library.base.NotRebuildable`, whose one-line message says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lrguard.schedules.library.base import NotRebuildable, Schedule
from lrguard.schedules.library.chained import ChainedScheduler
from lrguard.schedules.library.constant import ConstantLR
from lrguard.schedules.library.cosine import CosineAnnealingLR
from lrguard.schedules.library.cosine_restarts import CosineAnnealingWarmRestarts
from lrguard.schedules.library.exponential import ExponentialLR
from lrguard.schedules.library.hf import HF_TYPES, HFSchedulerArgs
from lrguard.schedules.library.linear import LinearLR
from lrguard.schedules.library.multistep import MultiStepLR
from lrguard.schedules.library.onecycle import OneCycleLR, phases_from_state
from lrguard.schedules.library.polynomial import PolynomialLR
from lrguard.schedules.library.sequential import SequentialLR
from lrguard.schedules.library.step import StepLR
from lrguard.schedules.library.timm_cosine import TimmCosineLR, timm_cosine_from_state
from lrguard.schedules.library.yolo import YoloSchedule

TORCH_SCHEDULES: dict[str, type] = {
    cls.name: cls
    for cls in (
        StepLR,
        MultiStepLR,
        ExponentialLR,
        ConstantLR,
        LinearLR,
        PolynomialLR,
        CosineAnnealingLR,
        CosineAnnealingWarmRestarts,
        OneCycleLR,
        SequentialLR,
        ChainedScheduler,
    )
}
"""``torch.optim.lr_scheduler`` class name -> schedule class."""

REGISTRY: dict[str, type] = {
    **TORCH_SCHEDULES,
    **HF_TYPES,
    TimmCosineLR.name: TimmCosineLR,
    YoloSchedule.name: YoloSchedule,
}
"""Every schedule by name: torch class names, ``get_scheduler`` types, timm's, ``"yolo"``."""

NO_CLOSED_FORM: dict[str, str] = {
    "ReduceLROnPlateau": "ReduceLROnPlateau follows a metric, not the position: no closed form",
    "MultiplicativeLR": "MultiplicativeLR multiplies by a lambda's value at every step and the lambda is not "
    "saved: no closed form",
    "CyclicLR": "CyclicLR is not covered by lrguard's schedule library",
}

# Keys that tell one scheduler's state dict from another's (for SequentialLR / ChainedScheduler
# children, whose class names are not saved).
_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("OneCycleLR", frozenset({"_schedule_phases", "total_steps"})),
    ("CosineAnnealingWarmRestarts", frozenset({"T_0", "T_mult", "T_i", "T_cur"})),
    ("CosineAnnealingLR", frozenset({"T_max", "eta_min"})),
    ("SequentialLR", frozenset({"_schedulers", "_milestones"})),
    ("ChainedScheduler", frozenset({"_schedulers"})),
    ("LinearLR", frozenset({"start_factor", "end_factor", "total_iters"})),
    ("ConstantLR", frozenset({"factor", "total_iters"})),
    ("PolynomialLR", frozenset({"power", "total_iters"})),
    ("MultiStepLR", frozenset({"milestones", "gamma"})),
    ("StepLR", frozenset({"step_size", "gamma"})),
    ("LambdaLR", frozenset({"lr_lambdas"})),
    ("CyclicLR", frozenset({"max_lrs", "total_size"})),
    ("ReduceLROnPlateau", frozenset({"patience", "mode"})),
    ("ExponentialLR", frozenset({"gamma"})),
)


def infer_torch_class(state_dict: Mapping[str, Any]) -> str:
    """Return the torch scheduler class a state dict belongs to, from the keys it holds.

    Raises:
        NotRebuildable: If no known scheduler matches.
    """
    keys = set(state_dict)
    for name, needed in _SIGNATURES:
        if needed <= keys:
            return name
    raise NotRebuildable(f"unrecognised scheduler state dict (keys: {', '.join(sorted(keys)) or 'none'})")


def _milestones(raw: Any) -> tuple[int, ...]:
    if hasattr(raw, "elements"):  # collections.Counter
        return tuple(sorted(int(m) for m in raw.elements()))
    if isinstance(raw, Mapping):
        return tuple(sorted(int(m) for m, n in raw.items() for _ in range(int(n))))
    return tuple(sorted(int(m) for m in raw))


def _groups_of(optimizer_state_dict: Mapping[str, Any] | None, key: str, what: str) -> tuple[float, ...]:
    if optimizer_state_dict is None:
        raise NotRebuildable(f"{what}: the per-group {key} lives in the optimizer state; pass optimizer_state_dict")
    groups = optimizer_state_dict.get("param_groups")
    if not isinstance(groups, Sequence) or not groups:
        raise NotRebuildable(f"{what}: optimizer_state_dict has no param_groups")
    try:
        return tuple(float(g[key]) for g in groups)
    except (KeyError, TypeError):
        raise NotRebuildable(f"{what}: an optimizer param group has no {key}") from None


def from_torch_state_dict(
    class_name: str | None,
    state_dict: Mapping[str, Any],
    *,
    optimizer_state_dict: Mapping[str, Any] | None = None,
    hf: HFSchedulerArgs | None = None,
) -> Schedule:
    """Rebuild the schedule a ``torch.optim.lr_scheduler`` scheduler saved.

    The rebuilt schedule's ``lrs(state_dict["last_epoch"])`` is the LR the optimizer held when the
    state was saved, and ``lrs(last_epoch + k)`` what ``k`` more ``scheduler.step()`` calls set
    (up to the recursive-form rounding, see docs/schedules.md).

    Args:
        class_name: The scheduler's class name (``type(scheduler).__name__``); ``None`` to infer
            it from the keys.
        state_dict: What ``scheduler.state_dict()`` returned (as loaded from disk).
        optimizer_state_dict: The optimizer's state dict; needed by ``OneCycleLR``, whose
            per-group ``max_lr`` / ``min_lr`` are only there.
        hf: The ``transformers`` scheduler name and arguments, for a ``LambdaLR`` (its lambda is
            not saved).

    Returns:
        The schedule.

    Raises:
        NotRebuildable: For a scheduler without a closed form (``ReduceLROnPlateau``,
            ``MultiplicativeLR``, a ``LambdaLR`` without ``hf``, a chain with a non-multiplicative
            child), a missing field, or an unknown class.
    """
    name = class_name or infer_torch_class(state_dict)
    if name in NO_CLOSED_FORM:
        raise NotRebuildable(NO_CLOSED_FORM[name])
    try:
        return _build(name, state_dict, optimizer_state_dict, hf)
    except KeyError as exc:
        raise NotRebuildable(f"{name}: state dict lacks {exc.args[0]!r}") from None
    except NotRebuildable:
        raise
    except (TypeError, ValueError) as exc:
        raise NotRebuildable(f"{name}: {exc}") from None


def _build(
    name: str,
    sd: Mapping[str, Any],
    opt: Mapping[str, Any] | None,
    hf: HFSchedulerArgs | None,
) -> Schedule:
    if name in ("SequentialLR", "ChainedScheduler"):
        children = [from_torch_state_dict(None, c, optimizer_state_dict=opt, hf=hf) for c in sd["_schedulers"]]
        if name == "SequentialLR":
            return SequentialLR(tuple(children), tuple(int(m) for m in sd["_milestones"]))
        return ChainedScheduler(tuple(children))  # type: ignore[arg-type]  # checked in __post_init__
    bases = tuple(float(b) for b in sd["base_lrs"])
    if name == "LambdaLR":
        if hf is None:
            raise NotRebuildable(
                "LambdaLR: the lambda is not in the state dict; pass hf=HFSchedulerArgs(name, ...) "
                "for a transformers schedule"
            )
        return hf.build(bases)
    if name == "StepLR":
        return StepLR(bases, step_size=int(sd["step_size"]), gamma=float(sd["gamma"]))
    if name == "MultiStepLR":
        return MultiStepLR(bases, milestones=_milestones(sd["milestones"]), gamma=float(sd["gamma"]))
    if name == "ExponentialLR":
        return ExponentialLR(bases, gamma=float(sd["gamma"]))
    if name == "ConstantLR":
        return ConstantLR(bases, factor=float(sd["factor"]), total_iters=int(sd["total_iters"]))
    if name == "LinearLR":
        return LinearLR(
            bases,
            start_factor=float(sd["start_factor"]),
            end_factor=float(sd["end_factor"]),
            total_iters=int(sd["total_iters"]),
        )
    if name == "PolynomialLR":
        return PolynomialLR(bases, total_iters=int(sd["total_iters"]), power=float(sd["power"]))
    if name == "CosineAnnealingLR":
        return CosineAnnealingLR(bases, T_max=int(sd["T_max"]), eta_min=float(sd["eta_min"]))
    if name == "CosineAnnealingWarmRestarts":
        return CosineAnnealingWarmRestarts(
            bases, T_0=int(sd["T_0"]), T_mult=int(sd["T_mult"]), eta_min=float(sd["eta_min"])
        )
    if name == "OneCycleLR":
        strategy = sd.get("_anneal_func_type")
        if strategy is None:
            raise NotRebuildable("OneCycleLR: state dict has no _anneal_func_type (saved by a torch before 2.2?)")
        return OneCycleLR(
            base_lrs=bases,
            max_lrs=_groups_of(opt, "max_lr", name),
            min_lrs=_groups_of(opt, "min_lr", name),
            total_steps=int(sd["total_steps"]),
            phases=phases_from_state(sd["_schedule_phases"]),
            anneal_strategy=str(strategy),
        )
    raise NotRebuildable(f"unknown scheduler class {name!r} (known: {', '.join([*TORCH_SCHEDULES, 'LambdaLR'])})")


def from_timm_state_dict(
    class_name: str,
    state_dict: Mapping[str, Any],
    *,
    optimizer_state_dict: Mapping[str, Any] | None = None,
) -> Schedule:
    """Rebuild a timm scheduler from its ``state_dict()``.

    timm keeps no position: evaluate the result at the epoch (``t_in_epochs``) or update count
    the training loop saved.

    Args:
        class_name: ``"CosineLRScheduler"`` (the only timm scheduler covered).
        state_dict: What ``scheduler.state_dict()`` returned.
        optimizer_state_dict: The optimizer's state dict, read for per-group ``lr_scale``.

    Raises:
        NotRebuildable: For another timm scheduler, LR noise or a missing field.
    """
    if class_name != TimmCosineLR.name:
        raise NotRebuildable(f"timm {class_name}: only CosineLRScheduler is covered")
    scales: tuple[float | None, ...] | None = None
    if optimizer_state_dict is not None:
        groups = optimizer_state_dict.get("param_groups") or []
        if any("lr_scale" in g for g in groups):
            scales = tuple(None if "lr_scale" not in g else float(g["lr_scale"]) for g in groups)
    return timm_cosine_from_state(dict(state_dict), scales)
