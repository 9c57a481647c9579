"""The training state a rollback restores, taken and put back bit-exactly (torch side of :mod:`.rollback`).

A :class:`TrainingState` holds deep copies of the ``state_dict()`` of every object the guard was given
(model, optimizer, scheduler, GradScaler, an EMA model, anything else with ``state_dict`` /
``load_state_dict``), the random generators (torch CPU, every initialised CUDA device, Python's
``random``, NumPy's global generator) and the guard's own counters. Copies stay on the device of
their tensors (a snapshot costs device memory, not a host transfer). Restoring loads a fresh deep
copy, so the snapshot survives the training after it and can be restored again.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch


class Stateful(Protocol):
    """Anything with ``state_dict()`` and ``load_state_dict()`` (modules, optimizers, schedulers, scalers)."""

    def state_dict(self) -> Any:
        """The state."""

    def load_state_dict(self, state: Any, /) -> Any:
        """Put a state back."""


def capture_rng() -> dict[str, Any]:
    """Every random generator's state: torch CPU, initialised CUDA devices, ``random``, NumPy's global one."""
    mt, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return {
        "torch": torch.get_rng_state(),
        "cuda": cuda,
        "python": random.getstate(),
        "numpy": (str(mt), torch.from_numpy(np.array(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)),
    }


def restore_rng(rng: Mapping[str, Any]) -> None:
    """Put back a :func:`capture_rng` state."""
    torch.set_rng_state(rng["torch"])
    if rng["cuda"]:
        torch.cuda.set_rng_state_all(rng["cuda"])
    random.setstate(rng["python"])
    mt, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((mt, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def _copy_tree(obj: Any, device: str | torch.device | None) -> Any:
    """A deep copy of nested dicts/lists/tuples whose tensors are copied (onto ``device`` when given)."""
    if device is None:
        return copy.deepcopy(obj)
    if isinstance(obj, torch.Tensor):
        return obj.detach().to(device, copy=True)
    if isinstance(obj, dict):
        return type(obj)((k, _copy_tree(v, device)) for k, v in obj.items())
    if isinstance(obj, list | tuple) and not hasattr(obj, "_fields"):
        return type(obj)(_copy_tree(v, device) for v in obj)
    return copy.deepcopy(obj)


@dataclass
class TrainingState:
    """One moment of training, restorable bit-exactly.

    Attributes:
        step: Global step (optimizer steps done before this moment).
        batches: Data position (batches handed out by ``TorchGuard.data`` before this moment).
        objects: Name -> deep copy of that object's ``state_dict()``.
        rng: :func:`capture_rng`.
        guard: The guard core's judgement state (:meth:`lrguard.guard.core.GuardCore.state`) and flags.
    """

    step: int
    batches: int
    objects: dict[str, Any]
    rng: dict[str, Any]
    guard: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(
        cls,
        objects: Mapping[str, Stateful],
        *,
        step: int,
        batches: int,
        guard: dict[str, Any],
        device: str | torch.device | None = None,
    ) -> TrainingState:
        """Deep-copy the state of ``objects`` and the generators now.

        Args:
            objects: Name -> object with ``state_dict``.
            step: Global step of this moment.
            batches: Data position of this moment.
            guard: The guard's own state.
            device: Where the tensor copies go (``"cpu"``: host memory, one transfer per capture);
                ``None`` keeps each on its own device. ``load_state_dict`` moves them back on restore.
        """
        states = {name: _copy_tree(obj.state_dict(), device) for name, obj in objects.items()}
        return cls(step, batches, states, capture_rng(), copy.deepcopy(guard))

    def restore(self, objects: Mapping[str, Stateful]) -> None:
        """Load a fresh copy of each saved state into its object (same names as captured) and the generators.

        Raises:
            KeyError: An object that was not captured.
        """
        for name, obj in objects.items():
            obj.load_state_dict(copy.deepcopy(self.objects[name]))
        restore_rng(self.rng)

    def to_dict(self) -> dict[str, Any]:
        """Plain containers and tensors (what ``torch.load(weights_only=True)`` reads back)."""
        return {
            "step": self.step,
            "batches": self.batches,
            "objects": self.objects,
            "rng": self.rng,
            "guard": self.guard,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrainingState:
        """The inverse of :meth:`to_dict`."""
        return cls(int(raw["step"]), int(raw["batches"]), dict(raw["objects"]), dict(raw["rng"]), dict(raw["guard"]))
