"""Reuse the total gradient norm that the trainer's own ``clip_grad_norm_`` has just computed.

YOLOv5, Ultralytics, the Hugging Face Trainer and many plain loops call
``torch.nn.utils.clip_grad_norm_`` right before ``optimizer.step()``. That call computes the total
L2 norm of the gradients, which is the same pass the guard would make a moment later (on one CPU
thread, about 0.35 ms of YOLOv5n's step, half of the guard's cost at 64 px). :func:`install` wraps the
function: the wrapper calls the original unchanged and records the gradients it saw with their
in-place version counters (``Tensor._version``). :func:`take` then gives the guard the norm of the
*clipped* gradients, ``total * clamp(max_norm / (total + 1e-6), max=1)`` (the factor the original
multiplied them by), on the condition that the guard's gradients are exactly the recorded tensors
and that none was changed in place since: a different set, a replaced ``.grad``, an ``unscale_``,
another clip or an accumulation in between makes it return ``None`` and the guard takes the norm
itself. Only an L2 clip (``norm_type`` 2) is recorded.

Values: the same computation as the guard's own (per-tensor norms, then the norm of those), over the
gradients in the order the trainer passed them, times the clip factor; it can differ from the
guard's recomputed norm of the clipped gradients in the last bits (float rounding, about 1e-7
relative). A non-finite total gives a non-finite
clipped norm (``inf * 0`` is NaN), so the step is skipped as before.

The record holds weak references to the gradients (a ``zero_grad`` that sets them to ``None`` still
frees them, also after a step a GradScaler skipped) and lasts until :func:`take` reads it, the next
clip replaces it, or the next optimizer step of the process ends (a global step post-hook drops it). Code that imported the function by name
before :func:`install` (``from torch.nn.utils import clip_grad_norm_``) keeps the original: the
guard then computes the norm itself.
"""

from __future__ import annotations

import functools
import operator
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook


class _Record:
    """The gradients one ``clip_grad_norm_`` call saw, their versions after it, its total and max norm."""

    __slots__ = ("max_norm", "refs", "total", "versions")

    def __init__(self, grads: list[torch.Tensor], total: torch.Tensor, max_norm: Any) -> None:
        self.refs = list(map(weakref.ref, grads))  # weak: a zero_grad(set_to_none) still frees them
        self.versions = list(map(_VERSION, grads))
        self.total = total
        self.max_norm = max_norm


_VERSION = operator.attrgetter("_version")  # C-level loops: this runs on every step
_GRAD = operator.attrgetter("grad")
_LAST: list[_Record] = []  # the last call's record, at most one
_ORDER: list[tuple[int, Callable[[list[torch.Tensor]], tuple[torch.Tensor, ...]]]] = []
"""The last match: how many gradients, and a getter putting the guard's list in the clip's order."""
_INSTALLED: list[tuple[Any, Any]] = []  # (original function, optimizer post-hook handle)


def _kept(parameters: Any, into: list[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Yield ``parameters`` and append each one to ``into`` (the original lists its argument once)."""
    for p in parameters:
        into.append(p)
        yield p


def install() -> None:
    """Wrap ``torch.nn.utils.clip_grad_norm_`` to record each call (idempotent, process-wide).

    The wrapper returns the original's result unchanged. A tensor, list or tuple is passed on as
    it is; any other iterable (a module's ``parameters()`` generator) as a generator that keeps what
    the original walks (the original lists it once).
    """
    if _INSTALLED:
        return
    original = torch.nn.utils.clip_grad_norm_

    @functools.wraps(original)
    def clip_grad_norm_(parameters: Any, max_norm: Any, norm_type: Any = 2.0, *args: Any, **kwargs: Any) -> Any:
        _LAST.clear()
        if isinstance(parameters, torch.Tensor | list | tuple):
            params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
            total = original(parameters, max_norm, norm_type, *args, **kwargs)
        else:  # the original walks the iterable once (a module's parameters()); keep what it walks
            params = []
            total = original(_kept(parameters, params), max_norm, norm_type, *args, **kwargs)
        if isinstance(norm_type, int | float) and float(norm_type) == 2.0 and isinstance(total, torch.Tensor):
            _LAST.append(_Record([g for g in map(_GRAD, params) if g is not None], total, max_norm))
        return total

    clip_grad_norm_._lrguard_original = original  # type: ignore[attr-defined]

    def drop(optimizer: Any, args: Any, kwargs: Any) -> None:
        _LAST.clear()

    torch.nn.utils.clip_grad_norm_ = clip_grad_norm_
    _INSTALLED.append((original, register_optimizer_step_post_hook(drop)))


def uninstall() -> None:
    """Put the original function back and drop the record (when :func:`install` ran)."""
    _LAST.clear()
    for original, handle in _INSTALLED:
        if getattr(torch.nn.utils.clip_grad_norm_, "_lrguard_original", None) is original:
            setattr(torch.nn.utils, "clip_grad_norm_", original)  # noqa: B010
        handle.remove()
    _INSTALLED.clear()


def take(grads: list[torch.Tensor]) -> torch.Tensor | None:
    """The total L2 norm of ``grads`` as clipped by the last ``clip_grad_norm_`` call, or ``None``.

    The record is consumed. ``None`` unless ``grads`` are exactly the tensors that call clipped (in
    any order) and none has been modified in place since.

    Returns:
        A float32 scalar on the gradients' device (no host read), or ``None``.
    """
    if not _LAST:
        return None
    rec = _LAST.pop()
    n = len(grads)
    if len(rec.refs) != n or not n:
        return None
    clipped = list(map(operator.call, rec.refs))  # None for a gradient freed since: no match below
    getter = _ORDER[0][1] if _ORDER and _ORDER[0][0] == n else None
    if getter is None or not all(map(operator.is_, getter(grads), clipped)):  # the order changed: match again
        where = {id(g): i for i, g in enumerate(grads)}
        found = [where.get(id(g), -1) for g in clipped]
        if -1 in found or len(set(found)) != n:
            return None
        getter = operator.itemgetter(*found) if n > 1 else (lambda gs, i=found[0]: (gs[i],))
        _ORDER[:] = [(n, getter)]
    if list(map(_VERSION, clipped)) != rec.versions:  # the same tensors: changed in place since the clip?
        return None
    total = rec.total.to(torch.float32)
    return total * torch.clamp(rec.max_norm / (total + 1e-6), max=1.0)
