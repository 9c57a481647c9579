"""The guard attached through torch's optimizer step hooks: no change to the training loop.

Usage (one optimizer)::

    from lrguard.guard.hooks_adapter import attach

    hooks = attach(optimizer, events="runs/exp/lrguard-events.jsonl")
    hooks.guard_ema(ema)        # optional: a ModelEMA updated after each step (YOLOv5, Ultralytics)
    ...                         # the loop is unchanged: optimizer.step() / scaler.step(optimizer)
    hooks.close()               # reads the last window, writes its events, removes the hooks

Every optimizer of the process, without naming one: :func:`install_global` (what ``lrguard run``
injects).

How it works: the optimizer's step pre-hook runs :meth:`TorchGuard.before_step` (the finite flag
of the total gradient norm and, when :meth:`StepHooks.set_loss` was called for this step, the
loss; the copy of the state a skip restores) and its post-hook runs
:meth:`TorchGuard.after_step` (``torch.where`` back on device, no host sync). Under a GradScaler
(``scaler.step(optimizer)``) the hooks fire inside ``scaler.step``, after it unscaled the
gradients, so the norm is the true one; a step the scaler itself skips (inf gradients under AMP)
never calls ``optimizer.step`` and the guard neither sees nor counts it. A closure-based
``optimizer.step(closure)`` computes its gradients inside the step, after the pre-hook: such steps
are not guarded here (one ``internal`` event says so; Lightning has its own adapter).

EMA (:meth:`StepHooks.guard_ema`): YOLOv5's and Ultralytics' ``ModelEMA.update(model)`` runs
after the optimizer step. Wrapped, it copies the EMA's floating tensors before the update and writes
back ``torch.where(ok, updated, before)``, so the EMA weights and buffers are bit-identical across a
skipped step. Its ``updates`` counter (a host int, the input of the decay ramp) is taken back at the
next host read, so between a skip and that read (at most ``check_every`` steps) the EMA decays with
the counter one ahead: ``d(n + 1)`` instead of ``d(n)``, a relative difference of ``exp(-n / tau)``
times ``1 / tau`` (tau = 2000 in both trainers).
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from lrguard.guard.config import GuardConfig
from lrguard.guard.core import PreviousSession
from lrguard.guard.torch_adapter import Plan, TorchGuard, guarded_optimizers

_ATTACHED: weakref.WeakKeyDictionary[torch.optim.Optimizer, StepHooks] = weakref.WeakKeyDictionary()
_GLOBAL: list[Any] = []  # the handle of install_global, at most one
_LAST: list[StepHooks] = []  # the guard whose optimizer stepped last (the EMA patches consult it)


def _env_rank() -> int | None:
    """The rank torchrun gives this process (``RANK``), when there is one."""
    value = os.environ.get("RANK")
    return int(value) if value is not None and value.isdigit() else None


class StepHooks:
    """A :class:`TorchGuard` driven by one optimizer's step hooks.

    Args:
        optimizer: The optimizer to guard (its ``step`` is not replaced; hooks are registered).
        config: The guard configuration (validated here).
        plan: ``step -> planned LR per param group`` (``None``: no LR check).
        previous: Where the previous session left off (resume pre-flight at the first step).
        events: Path of the JSON-lines events file, or ``None``.
        console: Stream for the console lines (``None``: silent).
        step: Global step of the first guarded step.
        rank: Rank written into events (default: the ``torch.distributed`` rank, else ``$RANK``, else 0).
        read_cpu_flag: See :class:`TorchGuard` (CPU training: a clean step copies nothing, a skipped
            step's EMA update is not run at all).
        model: The model, for the ``rollback`` action (see :class:`TorchGuard`; the caller then calls
            ``hooks.guard.boundary()`` before each batch).
        stateful: More state a rollback restores, by name (see :class:`TorchGuard`).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        config: GuardConfig | None = None,
        plan: Plan | None = None,
        previous: PreviousSession | None = None,
        events: str | None = None,
        console: Any = sys.stderr,
        step: int = 0,
        rank: int | None = None,
        read_cpu_flag: bool = True,
        model: torch.nn.Module | None = None,
        stateful: Mapping[str, Any] | None = None,
    ) -> None:
        """Build the guard and register the two hooks on ``optimizer``."""
        if optimizer in _ATTACHED:
            raise ValueError("this optimizer already has lrguard step hooks attached")
        self.optimizer = optimizer
        self.guard = TorchGuard(
            optimizer,
            config=config,
            plan=plan,
            previous=previous,
            events=events,
            console=console,
            step=step,
            read_cpu_flag=read_cpu_flag,
            model=model,
            stateful=stateful,
        )
        if rank is None and not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            rank = _env_rank()
        if rank is not None:
            self.guard.core.rank = rank
        self._loss: torch.Tensor | None = None
        self._ok: torch.Tensor | None = None  # the flag of the last guarded step, until an EMA update uses it
        self._host_ok: bool | None = None  # that flag read on the host (CPU training), else None
        self._step_of_ok = -1
        self._emas: list[Any] = []
        self._ema_snaps: dict[int, list[torch.Tensor]] = {}
        self._ema_updated: dict[int, list[Any]] = {}  # step -> EMAs updated under its flag, until it is read
        self._known_skipped: set[int] = set()  # skipped steps read before their EMA update ran
        self._seen_skips = 0
        self._closure_reported = False
        self._handles = [
            optimizer.register_step_pre_hook(self._pre),
            optimizer.register_step_post_hook(self._post),
        ]
        _ATTACHED[optimizer] = self

    # -- public --------------------------------------------------------------------------------------
    @property
    def skipped_steps(self) -> list[int]:
        """Steps skipped so far (known at each host read)."""
        return self.guard.skipped_steps

    def set_loss(self, loss: torch.Tensor) -> None:
        """Include ``loss`` in the next step's finite flag and spike statistics (optional; no host sync)."""
        self._loss = loss

    def guard_ema(self, ema: Any) -> None:
        """Make ``ema.update`` a no-op on device after a skipped step (bit-exact weights; see the module doc).

        Args:
            ema: An object with an ``ema`` module, an ``update(model)`` method and an ``updates``
                counter (YOLOv5's and Ultralytics' ``ModelEMA``).
        """
        if any(e is ema for e in self._emas):
            return
        original = ema.update

        def update(*args: Any, **kwargs: Any) -> Any:
            return self._ema_update(ema, original, args, kwargs)

        ema.update = update
        self._emas.append(ema)

    def close(self) -> None:
        """Read the last flags, write their events, take back EMA counters, remove the hooks (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        if _ATTACHED.get(self.optimizer) is self:
            del _ATTACHED[self.optimizer]
        if _LAST and _LAST[0] is self:
            _LAST.clear()
        self.guard.close()
        self._settle_ema_counters(current=None)

    def start_at(self, step: int) -> None:
        """Number the guarded steps from ``step``: a trainer's own count of the optimizer steps already done.

        For adapters that learn the count only once the hooks exist (a resumed run). Only before the
        first guarded step.

        Raises:
            ValueError: A step was already guarded.
        """
        guard = self.guard
        if guard.global_step == step:
            return
        if guard._began or guard._values is not None or guard.events or guard.global_step != guard._window_start:
            raise ValueError("StepHooks.start_at: steps were already guarded")
        guard.global_step = guard._window_start = guard._judged_until = step

    # -- hooks ---------------------------------------------------------------------------------------
    def _pre(self, optimizer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)  # args[0] is the optimizer
        if closure is not None:
            if not self._closure_reported and self.guard.enabled:
                self._closure_reported = True
                self.guard.core._decide(
                    "log",
                    self.guard.global_step,
                    "internal",
                    "optimizer.step(closure) computes its gradients inside the step: not guarded by the step hooks",
                )
            return
        loss, self._loss = self._loss, None
        self.guard.before_step(loss)

    def _post(self, optimizer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        armed = self.guard._armed
        step = self.guard.global_step
        self.guard.after_step()
        self._ok, self._step_of_ok = (armed[0], step) if armed is not None else (None, -1)
        self._host_ok = self.guard.host_ok if armed is not None else None
        _LAST[:] = [self]
        self._settle_ema_counters(current=step)

    # -- EMA -----------------------------------------------------------------------------------------
    def _ema_update(self, ema: Any, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ok, step = self._ok, self._step_of_ok
        self._ok = None  # one EMA update per guarded step; a later one (no step between) is the trainer's own
        if ok is None or not self.guard.enabled or not getattr(ema, "enabled", True) or self._host_ok is True:
            return original(*args, **kwargs)
        if self._host_ok is False:  # known on the host: no update at all, the counter stays exact too
            self._known_skipped.discard(step)
            return None
        try:
            tensors = [v for v in ema.ema.state_dict().values() if v.dtype.is_floating_point]
            snaps = self._ema_snaps.get(id(ema))
            if (
                snaps is None
                or len(snaps) != len(tensors)
                or any(s.shape != t.shape for s, t in zip(snaps, tensors, strict=True))
            ):
                snaps = self._ema_snaps[id(ema)] = [torch.empty_like(t) for t in tensors]
            with torch.no_grad():
                torch._foreach_copy_(snaps, tensors)
        except Exception as exc:  # never the cause of a lost run
            self.guard._disable(exc)
            return original(*args, **kwargs)
        result = original(*args, **kwargs)
        with torch.no_grad():
            for t, s in zip(tensors, snaps, strict=True):
                torch.where(ok, t, s, out=t)
        if step in self._known_skipped:  # the host read at this step's post-hook found it skipped
            self._known_skipped.discard(step)
            ema.updates -= 1
        else:
            self._ema_updated.setdefault(step, []).append(ema)
        return result

    def _settle_ema_counters(self, current: int | None) -> None:
        """Take back the ``updates`` count of every EMA updated under a skipped step's flag (read by now).

        Args:
            current: The step whose post-hook runs (its EMA update is still to come); ``None`` at close.
        """
        new = self.guard.skipped_steps[self._seen_skips :]
        self._seen_skips = len(self.guard.skipped_steps)
        for step in new:
            if step in self._ema_updated:
                for ema in self._ema_updated.pop(step):
                    ema.updates -= 1
            elif step == current:
                self._known_skipped.add(step)
        self._known_skipped = {s for s in self._known_skipped if current is not None and s >= current}
        # steps read by now are settled (a CUDA window is read one window late)
        horizon = self.guard._window_start - self.guard.config.check_every
        for step in [s for s in self._ema_updated if current is None or s < horizon]:
            del self._ema_updated[step]


def attach(
    optimizer: torch.optim.Optimizer,
    *,
    config: GuardConfig | None = None,
    events: str | None = None,
    console: Any = sys.stderr,
    step: int = 0,
    ema: Any = None,
    **kwargs: Any,
) -> StepHooks:
    """Guard ``optimizer`` through its step hooks (and ``ema``, when given); see :class:`StepHooks`."""
    hooks = StepHooks(optimizer, config=config, events=events, console=console, step=step, **kwargs)
    if ema is not None:
        hooks.guard_ema(ema)
    return hooks


def attached(optimizer: Any) -> StepHooks | None:
    """The :class:`StepHooks` attached to ``optimizer``, if any."""
    try:
        return _ATTACHED.get(optimizer)
    except TypeError:
        return None


def all_attached() -> list[StepHooks]:
    """Every :class:`StepHooks` attached in this process."""
    return list(_ATTACHED.values())


def install_global(
    config: GuardConfig | None = None,
    events: str | None = None,
    console: Any = sys.stderr,
    on_attach: Callable[[StepHooks], None] | None = None,
    prepare: Callable[[Any], Mapping[str, Any]] | None = None,
) -> None:
    """Guard every optimizer of the process at its first ``step`` (torch's global step hooks).

    An optimizer already guarded (an adapter's :class:`TorchGuard` or :class:`StepHooks`) is left
    alone. Each new guard gets ``config`` and ``events``; ``on_attach`` runs once per new guard (the
    trainer adapters use it to guard their EMA). ``prepare(optimizer)``, called before each new
    guard is built, returns more :class:`StepHooks` arguments for it (``model`` and ``stateful`` for
    a rollback); an exception it raises propagates out of that first ``optimizer.step()``, before
    the step. Idempotent.
    """
    if _GLOBAL:
        return

    def pre(optimizer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # instance hooks registered here still fire for this step: torch runs them after the global ones
        if optimizer in _ATTACHED or _guarded_elsewhere(optimizer):
            return
        extra = dict(prepare(optimizer)) if prepare is not None else {}
        hooks = StepHooks(optimizer, config=config, events=events, console=console, **extra)
        if on_attach is not None:
            on_attach(hooks)

    _GLOBAL.append(register_optimizer_step_pre_hook(pre))


def uninstall_global() -> None:
    """Remove the global hooks and close every guard they attached."""
    for handle in _GLOBAL:
        handle.remove()
    _GLOBAL.clear()
    for hooks in all_attached():
        hooks.close()


def _guarded_elsewhere(optimizer: Any) -> bool:
    """Whether an adapter's own :class:`TorchGuard` already guards this optimizer."""
    return optimizer in guarded_optimizers()


def last_stepped() -> StepHooks | None:
    """The :class:`StepHooks` whose optimizer stepped last in this process (``None`` before any)."""
    return _LAST[0] if _LAST else None


def attach_next(
    on_attach: Callable[[StepHooks], None],
    *,
    config: GuardConfig | None = None,
    events: str | None = None,
    console: Any = sys.stderr,
) -> Callable[[], None]:
    """Guard the next optimizer of the process that steps (for trainers whose callbacks do not hand it over).

    When that optimizer already has step hooks (the zero-code injection came first), ``on_attach``
    gets those. An optimizer guarded by an adapter's own :class:`TorchGuard` is passed over.

    Returns:
        A function that removes the one-shot hook if no optimizer has stepped yet.
    """
    handle: list[Any] = []

    def pre(optimizer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        existing = _ATTACHED.get(optimizer)
        if existing is None and _guarded_elsewhere(optimizer):
            return
        for h in handle:
            h.remove()
        handle.clear()
        on_attach(existing or StepHooks(optimizer, config=config, events=events, console=console))

    handle.append(register_optimizer_step_pre_hook(pre))

    def cancel() -> None:
        for h in handle:
            h.remove()
        handle.clear()

    return cancel


def patch_ema_class(cls: type) -> Callable[[], None]:
    """Route every ``cls.update(model)`` (a ModelEMA class) through the guard of the last optimizer step.

    An EMA update after a skipped step leaves the EMA bit-identical (see the module doc); without a
    guarded step before it, the update is the class's own. Idempotent per class.

    Returns:
        A function that puts the class's own ``update`` back.
    """
    current = cls.__dict__["update"]
    if getattr(current, "_lrguard_original", None) is not None:
        return lambda: None
    original = current

    def update(ema: Any, *args: Any, **kwargs: Any) -> Any:
        hooks = last_stepped()
        if hooks is None:
            return original(ema, *args, **kwargs)
        return hooks._ema_update(ema, lambda *a, **k: original(ema, *a, **k), args, kwargs)

    update._lrguard_original = original  # type: ignore[attr-defined]
    update.__doc__ = original.__doc__
    cls.update = update  # type: ignore[attr-defined]

    def undo() -> None:
        if cls.__dict__.get("update") is update:
            cls.update = original  # type: ignore[attr-defined]

    return undo
