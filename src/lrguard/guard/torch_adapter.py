"""The plain-PyTorch guard: an object around an optimizer (+ scheduler, GradScaler) that replaces ``optimizer.step()``.

Usage::

    guard = TorchGuard(optimizer, scheduler)       # scheduler optional
    for batch in data:
        loss = model(batch).mean()
        loss.backward()
        guard.step(loss)                           # optimizer.step() + scheduler.step(), guarded
        optimizer.zero_grad()
    guard.close()                                  # reads the last flags, writes their events

How a non-finite step is skipped without a host sync: the guard computes one finite flag on the
device (the loss and the total gradient norm, reduced across ranks with ``all_reduce(MIN)`` when
``torch.distributed`` is initialised), copies the parameters and every optimizer-state tensor
into buffers kept between steps, lets the optimizer step, then writes back
``torch.where(ok, new, old)``. Weights, moments and the optimizer's step counters are bit-identical
to before a skipped step. Optimizer state created by the skipped step itself (the first step of a
lazily initialised optimizer) is put back to zeros (Adam's and SGD-momentum's initial values).
The flags, losses and gradient norms of the window go into device buffers that the host copies
every ``check_every`` steps (``non_blocking`` on CUDA, read one window later) to write events and
feed the spike statistics. Under ``torch.distributed`` the window is first reduced across ranks
(:func:`agree_across_ranks`, one ``all_reduce`` per host read), so every rank takes every decision
at the same global step.
When the trainer's own ``torch.nn.utils.clip_grad_norm_`` clipped exactly
these gradients just before the step (YOLOv5, Ultralytics, many loops), the guard takes the norm of
the clipped gradients from that call instead of a second pass over them (:mod:`.clipnorm_adapter`).

Rollback (a signal's action ``rollback``; needs ``model=`` and ``guard.data(loader)`` or
``guard.boundary()`` at the top of each step): snapshots of the whole training state
(:mod:`.state_adapter`) are taken at step boundaries and promoted to last-good once judged clean;
a persistent spike (:mod:`.rollback`) restores the last-good one at the next boundary, and the
batches of the undone steps are not replayed. Under ``torch.distributed`` each rank keeps and
restores its own snapshots; the ranks agree on when (the reduced window), so they all roll back at
the same boundary to the same global step and skip the same data positions of their own loaders.
:meth:`TorchGuard.save` / :meth:`TorchGuard.load` write and read the same state as a verified checkpoint.

Scheduler position: the scheduler steps on a skipped step too. The LR stays a function of the
global step (the plan, the logs and a resume all count steps the same way; the skipped batch is
consumed), and no host sync is needed to decide whether to step it.

Not exact yet: a ``step`` counter kept on the CPU while the flag lives on a GPU (non-capturable
Adam) is corrected at the next host read, so between a skip and that read the bias correction is
one step ahead. A GradScaler keeps its own behaviour (it skips inf gradients and lowers its scale).
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from lrguard.guard import clipnorm_adapter
from lrguard.guard.config import GuardConfig
from lrguard.guard.core import Decision, GuardCore, GuardStop, PreviousSession
from lrguard.guard.events import EventLog
from lrguard.guard.rollback import SkipWindow
from lrguard.guard.state_adapter import Stateful, TrainingState

T = TypeVar("T")

Plan = Callable[[int], Sequence[float]]
_GUARDED: weakref.WeakSet[torch.optim.Optimizer] = weakref.WeakSet()


def guarded_optimizers() -> weakref.WeakSet[torch.optim.Optimizer]:
    """The optimizers a :class:`TorchGuard` was built on (the zero-code hooks leave them alone)."""
    return _GUARDED


def _rank() -> int:
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def agree_across_ranks(window: torch.Tensor) -> torch.Tensor:
    """The window every rank judges: per step the maximum over ranks of the loss and of the gradient norm.

    One ``all_reduce(MAX)`` of the whole window (``check_every`` rows of loss, gradient norm, flag)
    per host read, issued on the window's device before it is copied to the host (no collective per
    step; on CUDA meant to need no host sync, not yet run on a GPU); without an initialised ``torch.distributed`` the window is returned as is.
    Every rank then feeds the same numbers to the same spike statistic, so every decision (log, clip,
    lower-lr, rollback, stop) and every event's step, value and message are the same on all ranks, and
    each rank acts at the same host read, i.e. at the same global step.

    Why the maximum: the spike statistic is a ratio to the median of the last values, scaled by their
    median absolute deviation, on a log scale. A spike of ``k`` times on one rank of ``W`` shows in the
    maximum as ``k`` times that rank's usual value, against a median of maxima that is only the
    ranks' usual spread above one rank's median, so it is judged as on one process; the mean would
    dilute it to ``(k + W - 1) / W`` (a 10x spike on one of 8 ranks reads as 2.1x) and the median
    over ranks would hide it altogether. In data-parallel training one rank's spike reaches every
    rank through the averaged gradients, so the rank that saw it is the one to judge. Under
    ``DistributedDataParallel`` the gradient norm is already the same on every rank (the maximum is
    that value). The price: a per-step outlier of any rank counts, so the false-alarm rate can be up
    to ``W`` times the single-process one (measured on one process only, see the guide).

    Non-finite values: ``MAX`` over a NaN is not defined the same way by every backend, so each value
    is sent as its finite part (``-inf`` when not finite) and a code (0 finite, 1 ``-inf``,
    2 ``+inf``, 3 NaN) whose maximum wins: a non-finite value on any rank wins over the finite ones,
    and a NaN on any rank is NaN on all. The flag column (already
    the same everywhere: it was reduced with ``MIN`` at its step) is sent as ``1 - ok`` so that ``MAX``
    keeps ``MIN``'s meaning.

    Args:
        window: ``(steps, 3)`` float tensor: loss, gradient norm, finite flag (1.0 or 0.0) per step.

    Returns:
        A tensor of the same shape and device, the same on every rank.
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return window
    inf = float("inf")
    values = window[:, :2]
    finite = torch.isfinite(values)
    code = torch.where(finite, 0.0, torch.where(torch.isnan(values), 3.0, torch.where(values > 0, 2.0, 1.0)))
    packed = torch.cat([torch.where(finite, values, -inf), code, 1.0 - window[:, 2:]], dim=1)
    dist.all_reduce(packed, op=dist.ReduceOp.MAX)
    top, code = packed[:, :2], packed[:, 2:4]
    special = torch.where(code == 3.0, float("nan"), torch.where(code == 2.0, inf, -inf))
    return torch.cat([torch.where(code == 0.0, top, special), 1.0 - packed[:, 4:]], dim=1)


class TorchGuard:
    """Guards ``optimizer.step()``: skips non-finite steps on device, checks the LR, logs events.

    Args:
        optimizer: The optimizer.
        scheduler: An LR scheduler stepped after every optimizer step (``None``: the caller steps it).
        scaler: A ``torch.amp.GradScaler``: gradients are unscaled before the norm is taken and
            the scaler steps the optimizer.
        config: The guard configuration (validated when built).
        plan: ``step -> planned LR per param group`` for the LR-vs-plan check (``None``: no check).
        previous: Where the previous session left off; checked before the first step (resume pre-flight).
        events: Path of the JSON-lines events file (``None``: none), or an :class:`EventLog`.
        console: Stream for the one-line-per-event console output (``None``: silent).
        step: Global step of the first :meth:`step` call (a resume passes the steps already done).
        model: The model (needed by the ``rollback`` action and :meth:`save`: its buffers are not
            in the optimizer).
        ema: An EMA model (or anything with ``state_dict``/``load_state_dict``) kept with the state.
        stateful: More objects with ``state_dict``/``load_state_dict`` kept with the state, by name.
        read_cpu_flag: When the flag is a CPU tensor (CPU training), read it on the host at each step
            (no device to wait for) and copy the state only for a step that is then skipped; a clean
            step costs the gradient norm alone. ``False``: the device path on CPU too (a copy every
            step, ``torch.where`` back, no read between checks), as always on a GPU.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        scheduler: Any = None,
        scaler: Any = None,
        *,
        config: GuardConfig | None = None,
        plan: Plan | None = None,
        previous: PreviousSession | None = None,
        events: str | EventLog | None = None,
        console: Any = sys.stderr,
        step: int = 0,
        model: torch.nn.Module | None = None,
        ema: Stateful | None = None,
        stateful: Mapping[str, Stateful] | None = None,
        read_cpu_flag: bool = True,
    ) -> None:
        """Validate the configuration and prepare the device buffers lazily (at the first step).

        Raises:
            ValueError: A configuration this adapter cannot perform (spike ``skip``; ``rollback``
                without the model).
        """
        self.optimizer = optimizer
        _GUARDED.add(optimizer)
        clipnorm_adapter.install()  # the norm of a clip_grad_norm_ just before the step is not taken twice
        self.scheduler = scheduler
        self.scaler = scaler
        self.config = config or GuardConfig()
        for signal in ("loss-spike", "grad-spike"):
            if self.config.action(signal) == "skip":
                raise ValueError(f"guard action 'skip' for {signal} is not implemented in the torch adapter yet")
        self.model = model
        named: dict[str, Any] = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
        named.update({"ema": ema, **(stateful or {})})
        self._stateful: dict[str, Stateful] = {k: v for k, v in named.items() if v is not None}
        if self.config.rolls_back and model is None:
            raise ValueError("guard action 'rollback' needs the model: TorchGuard(optimizer, ..., model=model)")
        self.plan = plan
        self.previous = previous
        log = events if isinstance(events, EventLog) else EventLog(events, console=console)
        self.core = GuardCore(self.config, log, rank=_rank())
        self.global_step = step
        self.enabled = True
        self.skipped_steps: list[int] = []
        self._window_start = step
        self._flags: torch.Tensor | None = None
        self._values: torch.Tensor | None = None
        self._pending: tuple[int, int, torch.Tensor, Any] | None = None
        self._device: torch.device | None = None
        self._snap_keys: list[tuple[int, str]] = []
        self._snaps: list[torch.Tensor] = []
        self._snap_devices: list[str] = []
        self._zero: torch.Tensor | None = None  # the loss value of a step without a loss (never written to)
        self._preflight_done = previous is None
        self._lr_scaled = False
        self._armed: tuple[torch.Tensor, torch.Tensor] | None = None
        self._began = False
        #: Data position: batches handed out by :meth:`data` (never set back by a rollback).
        self.batches = 0
        self.last_good: TrainingState | None = None
        self._candidate: TrainingState | None = None
        self._judged_until = step
        self._rollback_due: Decision | None = None
        self._skip_left = 0
        self._stepped = True  # the first boundary takes the initial last-good state
        self._boundaries = False
        self.read_cpu_flag = read_cpu_flag
        self.host_ok: bool | None = None  # this step's flag when read on the host (a CPU flag), else None

    # -- public --------------------------------------------------------------------------------------
    @property
    def events(self) -> list[Any]:
        """Every event written so far."""
        return self.core.events

    @property
    def skipped_windows(self) -> list[SkipWindow]:
        """Every rollback done: the steps undone and the data skipped, in global steps and data positions."""
        return self.core.rollbacks.windows

    def data(self, batches: Iterable[T]) -> Iterator[T]:
        """Iterate ``batches`` (a DataLoader, any iterable) through the guard: ``for batch in guard.data(loader)``.

        Before each batch it calls :meth:`boundary`; after a rollback it drops ``rollback_skip``
        batches. The batches of the undone steps are not replayed (they were consumed before the
        rollback), so the training after a rollback never sees the window that caused it. Counts
        :attr:`batches` (under ``torch.distributed`` per rank: aligned across ranks when each takes
        the same number of batches per step).
        """
        it = iter(batches)
        while True:
            self.boundary()
            try:
                batch = next(it)
            except StopIteration:
                return
            self.batches += 1
            if self._skip_left > 0:
                self._skip_left -= 1
                continue
            yield batch

    def boundary(self) -> None:
        """Mark the point between two steps (after ``scheduler.step()``, an EMA update and ``zero_grad``).

        Call it at the top of each step before the batch is fetched when not iterating through
        :meth:`data`. Here the guard takes its snapshots (every ``snapshot_every`` steps; one becomes
        the last-good state once every step before it was judged and no counted spike precedes it)
        and performs a rollback decided at the last host read. Without a ``rollback`` action it does
        nothing. Between the batches of an accumulated step it does nothing.
        """
        self._boundaries = True
        if not (self.enabled and self.config.rolls_back and self._stepped):
            return
        self._stepped = False
        try:
            if self._rollback_due is not None:
                self._rollback()
                return
            book = self.core.rollbacks
            if self.last_good is None:
                self.last_good = self._snapshot_state()
            newest = self._candidate or self.last_good
            if self._candidate is None and self.global_step - newest.step >= self.config.snapshot_every:
                self._candidate = self._snapshot_state()
            cand = self._candidate
            if cand is not None and self._judged_until >= cand.step and book.may_promote(cand.step):
                self.last_good, self._candidate = cand, None
        except GuardStop:
            raise
        except Exception as exc:
            self._disable(exc)

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Save the training state (model, optimizer, scheduler, scaler, EMA, RNG, counters) as a verified checkpoint.

        The file is written by :func:`lrguard.checkpoint.atomic.save_atomic`; the temporary file is
        checked by :func:`lrguard.checkpoint.integrity.verify` before it replaces ``path``, so
        ``path`` is always a complete, verified checkpoint and its sidecar manifest says so. Call it
        at a step boundary. :meth:`load` reads it back.

        Args:
            path: Target file.
            extra: More plain values or tensors saved beside the state (``load`` returns them).

        Returns:
            The sidecar manifest path.

        Raises:
            OSError: The file could not be written or did not verify (``path`` is then unchanged).
        """
        from lrguard.checkpoint.atomic import save_atomic
        from lrguard.checkpoint.integrity import verify

        state = self._capture("cpu")
        windows = [w.to_json() for w in self.skipped_windows]
        payload = {"lrguard": state.to_dict(), "rollbacks": windows, "extra": dict(extra or {})}

        def check(tmp: Path) -> None:
            report = verify(tmp)
            if not report.ok:
                raise OSError(f"{path}: the written checkpoint does not verify: {'; '.join(report.problems)}")

        meta = {"step": state.step, "batches": state.batches, "verified": True}
        return save_atomic(lambda f: torch.save(payload, f), path, check=check, meta=meta)

    def load(self, path: str | Path, map_location: Any = None) -> dict[str, Any]:
        """Restore a :meth:`save` checkpoint into the guarded objects (``torch.load(weights_only=True)``).

        The global step and the data position (:attr:`batches`) go back to the saved ones (a
        resume: the caller skips that many batches of its data, or builds the loader at that point),
        :attr:`skipped_windows` to the rollbacks done before the save; the restored state becomes the
        last-good one.

        Returns:
            Its ``extra`` values.
        """
        raw = torch.load(path, map_location=map_location, weights_only=True)
        state = TrainingState.from_dict(raw["lrguard"])
        self._restore(state)
        self.batches = state.batches
        self.core.rollbacks.windows = [SkipWindow(**w) for w in raw.get("rollbacks", [])]
        self.last_good, self._candidate = state, None
        return dict(raw["extra"])

    def step(self, loss: torch.Tensor | None = None) -> None:
        """One guarded optimizer step (and scheduler step).

        Args:
            loss: The step's loss (a tensor on any device); ``None`` checks the gradients only.

        Raises:
            GuardStop: A ``stop`` action or the ``stop`` resume policy fired.
        """
        self.before_step(loss)
        self._optimizer_step()
        self.after_step()
        if self.scheduler is not None:
            self.scheduler.step()

    def before_step(self, loss: torch.Tensor | None = None) -> None:
        """The guard's work before the optimizer steps (for trainers that step it themselves: Lightning, HF).

        Takes the finite flag on device and copies the state a skip restores. Pair every call with
        :meth:`after_step` once the optimizer has stepped.

        Raises:
            GuardStop: A ``stop`` action or the ``stop`` resume policy fired.
        """
        self._armed = None
        self._began = True
        if not self.enabled:
            return
        if self.config.rolls_back and not self._boundaries:
            raise ValueError("guard action 'rollback' needs guard.boundary() before each step or guard.data(loader)")
        try:
            self._armed = self._before(loss)
        except GuardStop:
            raise
        except Exception as exc:
            self._disable(exc)

    def after_step(self) -> None:
        """The guard's work after the optimizer stepped: undo a non-finite step on device, count the step.

        A call without a :meth:`before_step` since the last one (a batch that accumulated gradients
        without stepping) does nothing.
        """
        if not self._began:
            return
        self._began = False
        armed, self._armed = self._armed, None
        if armed is not None:
            try:
                self._after(*armed)
            except GuardStop:
                raise
            except Exception as exc:
                self._disable(exc)
        self.global_step += 1
        self._stepped = True
        if not self.enabled:
            return
        try:
            if self.global_step - self._window_start >= self.config.check_every:
                self._flush()
        except GuardStop:
            raise
        except Exception as exc:
            self._disable(exc)

    def close(self) -> None:
        """Read the flags still on the device, write their events, close the events file.

        A rollback decided by this last read is performed here, so the run ends on the last-good state.
        Under ``torch.distributed`` the last window is reduced across ranks like every other (one
        collective): call it on every rank, before the process group is destroyed (after that, each
        rank judges its last window alone).
        """
        try:
            if self.enabled:
                self._flush()
                self._flush()  # a CUDA window copied non-blocking is read here
                if self._rollback_due is not None and self.last_good is not None:
                    self._rollback()  # found by the last read: the run ends on the last-good state
        except GuardStop:
            raise
        except Exception as exc:
            self._disable(exc)
        finally:
            if self.core.log is not None:
                self.core.log.close()

    # -- internals -----------------------------------------------------------------------------------
    def _capture(self, device: str | None = None) -> TrainingState:
        guard = {"core": self.core.state(), "lr_scaled": self._lr_scaled}
        return TrainingState.capture(
            self._stateful, step=self.global_step, batches=self.batches, guard=guard, device=device
        )

    def _snapshot_state(self) -> TrainingState:
        return self._capture(self.config.snapshot_device)

    def _restore(self, state: TrainingState) -> None:
        state.restore(self._stateful)
        self.core.load_state(state.guard["core"])
        self._lr_scaled = bool(state.guard["lr_scaled"])
        self.global_step = self._window_start = self._judged_until = state.step
        self._values = None
        self._pending = None

    def _rollback(self) -> None:
        """Go back to the last-good state; the batches since it are skipped (plus ``rollback_skip``)."""
        decision, self._rollback_due = self._rollback_due, None
        good = self.last_good
        assert decision is not None and good is not None
        window = SkipWindow(
            from_step=good.step,
            to_step=self.global_step,
            trigger_step=decision.event.step,
            first_batch=good.batches,
            end_batch=self.batches + self.config.rollback_skip,
            signal=decision.event.signal,
        )
        self._restore(good)
        self._candidate = None
        self._skip_left = self.config.rollback_skip
        self.core.rollbacks.rolled_back(window)
        self.core._decide(
            "restore",
            window.to_step,
            "rollback",
            f"restored the last verified state of step {window.from_step} (model, optimizer, scheduler, scaler, "
            f"EMA, RNG); steps {window.from_step}-{window.to_step - 1} undone, data batches "
            f"{window.first_batch}-{window.end_batch - 1} skipped",
            value=float(window.from_step),
        )

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def _optimizer_step(self) -> None:
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def _disable(self, exc: Exception) -> None:
        if self.config.strict:
            raise exc
        self.enabled = False
        self.core.internal_error(self.global_step, exc)
        self._restore_lr()

    def _lrs(self) -> list[float]:
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def preflight(self) -> None:
        """Run the resume pre-flight now (else the first :meth:`step` runs it); a no-op once done or without ``previous``.

        Raises:
            GuardStop: The ``stop`` policy and a finding.
        """
        if self._preflight_done:
            return
        self._preflight_done = True
        assert self.previous is not None
        position = getattr(self.scheduler, "last_epoch", None)
        decision = self.core.preflight(
            self.global_step, self._lrs(), self.previous, position if isinstance(position, int) else None
        )
        if decision is None:
            return
        if decision.action == "stop":
            raise GuardStop(decision.event.message)
        if decision.action == "continue-curve":
            self._continue_curve()

    def _continue_curve(self) -> None:
        """Put a fresh scheduler back where the previous session was (step it forward to that position)."""
        prev = self.previous
        assert prev is not None
        sched = self.scheduler
        last = getattr(sched, "last_epoch", None)
        if sched is None or not isinstance(last, int) or last >= prev.step:
            self.core._decide(
                "warn",
                self.global_step,
                "resume",
                "continue-curve: no scheduler behind the previous session to move; LR left as is",
            )
            return
        import warnings

        for group, base in zip(self.optimizer.param_groups, getattr(sched, "base_lrs", []), strict=False):
            group["lr"] = base  # replay from position 0: a chainable scheduler builds on the LR it finds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()"
            for _ in range(prev.step - last):
                sched.step()
        lrs = self._lrs()
        off = self.core.preflight(self.global_step, lrs, PreviousSession(prev.step, prev.lrs, prev.source))
        if off is not None:  # the scheduler is not the previous session's: say so, do not pretend
            self.core._decide(
                "warn",
                self.global_step,
                "resume",
                "continue-curve: the replayed scheduler does not reach the previous LR",
            )
            return
        self.core._decide(
            "continue-curve",
            self.global_step,
            "resume",
            f"scheduler replayed from position {last} to {prev.step}: LR now {', '.join(f'{x:.6g}' for x in lrs)}",
            value=lrs[0],
            expected=prev.lrs[0],
        )

    def _restore_lr(self) -> None:
        if self._lr_scaled:
            for g in self.optimizer.param_groups:
                g["lr"] = g.pop("_lrguard_lr", g["lr"])
            self._lr_scaled = False

    def _state_tensors(self) -> list[tuple[int, str, torch.Tensor]]:
        out = []
        for i, p in enumerate(self._params()):
            out.append((i, "", p))
            for k, v in self.optimizer.state.get(p, {}).items():
                if isinstance(v, torch.Tensor):
                    out.append((i, k, v))
        return out

    def _before(self, loss: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._preflight_done:
            self.preflight()
        if self.plan is not None:
            for d in self.core.check_lr(self.global_step, self._lrs(), self.plan(self.global_step)):
                if d.action == "stop":
                    raise GuardStop(d.event.message)
        factor = self.core.lr_factor(self.global_step)
        if factor != 1.0 and not self._lr_scaled:  # this step only: put back in _after, before the scheduler steps
            for g in self.optimizer.param_groups:
                g["_lrguard_lr"] = g["lr"]
                g["lr"] = g["lr"] * factor
            self._lr_scaled = True
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        params = self._params()
        grads = [p.grad for p in params if p.grad is not None]
        device = grads[0].device if grads else (loss.device if loss is not None else torch.device("cpu"))
        known = clipnorm_adapter.take(grads)  # the trainer's clip_grad_norm_ of exactly these gradients, if any
        if known is not None:
            gnorm = known
        elif grads:
            # one norm per tensor (one foreach call: 0.36 ms for YOLOv5n's 177 gradients on one CPU thread,
            # 0.45 ms as a loop of norms), then the norm of those
            gnorm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2, dtype=torch.float32)))
        else:
            gnorm = torch.zeros((), device=device)
        if loss is not None:
            lval = loss.detach().to(device=device, dtype=torch.float32).reshape(())
            ok = torch.isfinite(gnorm) & torch.isfinite(lval)
        else:  # the loss row of the window reads 0
            if self._zero is None or self._zero.device != device:
                self._zero = torch.zeros((), device=device)
            lval = self._zero
            ok = torch.isfinite(gnorm)
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            flag = ok.to(torch.int32)
            dist.all_reduce(flag, op=dist.ReduceOp.MIN)
            ok = flag.bool()
        if self.config.action("grad-spike") == "clip" or self.config.action("loss-spike") == "clip":
            coef = torch.clamp(self.config.clip_norm / (gnorm + 1e-6), max=1.0)
            for grad in grads:
                grad.mul_(coef.to(grad.dtype))
        self.host_ok = bool(ok) if self.read_cpu_flag and ok.device.type == "cpu" else None
        if self.host_ok is not True:
            self._snapshot()
        return ok, torch.stack([lval, gnorm, ok.to(torch.float32)])

    def _snapshot(self) -> None:
        tensors = self._state_tensors()
        keys = [(i, k) for i, k, _ in tensors]
        live = [t for _, _, t in tensors]
        if keys != self._snap_keys or any(
            s.shape != t.shape or s.dtype != t.dtype or s.device != t.device
            for s, t in zip(self._snaps, live, strict=True)
        ):
            self._snap_keys = keys
            self._snaps = [torch.empty_like(t) for t in live]
            self._snap_devices = sorted({str(t.device) for t in live})
        with torch.no_grad():
            if len(self._snap_devices) == 1:  # one call (a few kernels on a GPU), not one copy per tensor
                torch._foreach_copy_(self._snaps, live)
            else:  # CPU step counters beside GPU tensors: one call per device
                for device in self._snap_devices:
                    pairs = [(s, t) for s, t in zip(self._snaps, live, strict=True) if str(t.device) == device]
                    torch._foreach_copy_([s for s, _ in pairs], [t for _, t in pairs])

    def _after(self, ok: torch.Tensor, values: torch.Tensor) -> None:
        if self.host_ok is not True:  # True: a clean step read on the host, nothing to undo
            tensors = self._state_tensors()
            pairs: list[tuple[torch.Tensor, torch.Tensor | None]]
            if [(i, k) for i, k, _ in tensors] == self._snap_keys:  # the usual case: no state created by this step
                pairs = [(t, s) for (_, _, t), s in zip(tensors, self._snaps, strict=True)]
            else:
                old = dict(zip(self._snap_keys, self._snaps, strict=True))
                pairs = [(t, old.get((i, k))) for i, k, t in tensors]
            with torch.no_grad():
                for t, s in pairs:
                    if t.device != ok.device and t.device.type == "cpu":
                        continue  # a CPU step counter beside a GPU flag: corrected at the host read
                    if s is None:
                        torch.where(ok, t, torch.zeros_like(t), out=t)
                    else:
                        torch.where(ok, t, s, out=t)  # elementwise: in place is safe
        n = self.config.check_every
        self._device = values.device
        if self._values is None or self._values.device != values.device:
            self._values = torch.zeros((n, 3), device=values.device)
        self._values[(self.global_step - self._window_start) % n].copy_(values)
        self._restore_lr()  # the scheduler (chainable or not) only ever sees its own LR

    def _flush(self) -> None:
        """Read the window's values on the host (a CUDA window is copied non-blocking and read at the next flush)."""
        if self._pending is not None:
            pstart, pcount, host, event = self._pending
            self._pending = None
            event.synchronize()
            self._judge(pstart, pcount, host)
        start, count = self._window_start, self.global_step - self._window_start
        if count <= 0 or self._values is None:
            return
        window = agree_across_ranks(self._values[:count])
        self._window_start = self.global_step
        if window.device.type == "cuda":
            host = torch.empty(window.shape, dtype=window.dtype, pin_memory=True)
            host.copy_(window, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self._pending = (start, count, host, event)
            self._values = None  # a fresh buffer for the next window: the copy may still read this one
        else:
            self._judge(start, count, window)

    def _judge(self, start: int, count: int, host: torch.Tensor) -> None:
        if self._rollback_due is not None:
            return  # these steps are undone at the next boundary
        for j, (loss, gnorm, ok) in enumerate(host.tolist()[:count]):
            step = start + j
            skipped = ok < 0.5
            if skipped:
                self.skipped_steps.append(step)
                self._fix_cpu_counters()
            decisions: list[Decision] = self.core.observe(step, loss, gnorm, skipped=skipped or None)
            for d in decisions:
                if d.action == "stop":
                    raise GuardStop(d.event.message)
                if d.action == "rollback":
                    self._rollback_due = d
                if d.action == "lower-lr":  # known at this read: the next lower_lr_steps steps run lowered
                    self.core.lower_until = max(self.core.lower_until, self.global_step + self.config.lower_lr_steps)
            if self._rollback_due is not None:
                return
        self._judged_until = max(self._judged_until, start + count)

    def _fix_cpu_counters(self) -> None:
        """Take back the step a CPU counter counted for a step skipped on a GPU."""
        if self._device is None or self._device.type == "cpu":
            return
        for p in self._params():
            step = self.optimizer.state.get(p, {}).get("step")
            if isinstance(step, torch.Tensor) and step.device.type == "cpu":
                step -= 1


class CallbackSettings:
    """What a trainer-callback adapter keeps until its trainer has built the optimizer.

    Args:
        config: The guard configuration (validated here, at construction).
        events: Path of the JSON-lines events file, or ``None``.
        previous: Where the previous session left off (resume pre-flight at the first step).
        console: Stream for the console lines (``None``: silent).
    """

    def __init__(
        self,
        config: GuardConfig | None = None,
        events: str | None = None,
        previous: PreviousSession | None = None,
        console: Any = sys.stderr,
    ) -> None:
        """Keep the settings; the adapter builds its :class:`TorchGuard` once the optimizer exists."""
        self.config = config or GuardConfig()
        self._events = events
        self._previous = previous
        self._console = console
        self.guard: TorchGuard | None = None
