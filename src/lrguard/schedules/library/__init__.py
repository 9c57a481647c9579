"""Closed-form schedules of torch, transformers, timm and YOLO behind one interface.

A :class:`~lrguard.schedules.library.base.Schedule` is a frozen configuration with a pure
``lrs(position) -> tuple[float, ...]``: the LR of every param group once the library's scheduler
has been stepped to ``position``. One module per family:

- torch.optim.lr_scheduler: :mod:`.step`, :mod:`.multistep`, :mod:`.exponential`,
  :mod:`.constant`, :mod:`.linear`, :mod:`.polynomial`, :mod:`.cosine`, :mod:`.cosine_restarts`,
  :mod:`.onecycle`, :mod:`.sequential`, :mod:`.chained`;
- transformers ``get_scheduler`` types (LambdaLR): :mod:`.hf`;
- timm ``CosineLRScheduler``: :mod:`.timm_cosine`;
- YOLOv5 / Ultralytics ``lf`` + warmup: :mod:`.yolo`.

:mod:`.registry` maps names to classes and rebuilds a schedule from a saved ``state_dict()``.
Nothing here imports torch, transformers or timm.
"""

from lrguard.schedules.library.base import GroupSchedule, MultiplicativeSchedule, NotRebuildable, Schedule
from lrguard.schedules.library.chained import ChainedScheduler
from lrguard.schedules.library.constant import ConstantLR
from lrguard.schedules.library.cosine import CosineAnnealingLR
from lrguard.schedules.library.cosine_restarts import CosineAnnealingWarmRestarts
from lrguard.schedules.library.exponential import ExponentialLR
from lrguard.schedules.library.hf import (
    HF_TYPES,
    NOT_CLOSED_FORM,
    HFConstant,
    HFConstantWithWarmup,
    HFCosine,
    HFCosineWithMinLR,
    HFCosineWithRestarts,
    HFInverseSqrt,
    HFLinear,
    HFPolynomial,
    HFSchedulerArgs,
    HFWarmupStableDecay,
    hf_warmup_steps,
)
from lrguard.schedules.library.linear import LinearLR
from lrguard.schedules.library.multistep import MultiStepLR
from lrguard.schedules.library.onecycle import OneCycleLR, OneCyclePhase
from lrguard.schedules.library.polynomial import PolynomialLR
from lrguard.schedules.library.registry import (
    NO_CLOSED_FORM,
    REGISTRY,
    TORCH_SCHEDULES,
    from_timm_state_dict,
    from_torch_state_dict,
    infer_torch_class,
)
from lrguard.schedules.library.sequential import SequentialLR
from lrguard.schedules.library.step import StepLR
from lrguard.schedules.library.timm_cosine import TimmCosineLR
from lrguard.schedules.library.yolo import YoloSchedule

__all__ = [
    "HF_TYPES",
    "NOT_CLOSED_FORM",
    "NO_CLOSED_FORM",
    "REGISTRY",
    "TORCH_SCHEDULES",
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "GroupSchedule",
    "HFConstant",
    "HFConstantWithWarmup",
    "HFCosine",
    "HFCosineWithMinLR",
    "HFCosineWithRestarts",
    "HFInverseSqrt",
    "HFLinear",
    "HFPolynomial",
    "HFSchedulerArgs",
    "HFWarmupStableDecay",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeSchedule",
    "NotRebuildable",
    "OneCycleLR",
    "OneCyclePhase",
    "PolynomialLR",
    "Schedule",
    "SequentialLR",
    "StepLR",
    "TimmCosineLR",
    "YoloSchedule",
    "from_timm_state_dict",
    "from_torch_state_dict",
    "hf_warmup_steps",
    "infer_torch_class",
]
