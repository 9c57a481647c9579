"""What the YOLO adapters add around :class:`~lrguard.guard.hooks_adapter.StepHooks`: the trainer's own positions and verified checkpoints.

A trainer adapter (``lrguard.trainers.yolov5.guard_adapter``, ``lrguard.trainers.ultralytics.guard_adapter``)
builds one :class:`TrainerSession` per training and feeds it from the trainer's callbacks:

- :meth:`TrainerSession.bind`: the guard numbers its steps from the trainer's own count of optimizer
  steps already done (the EMA's ``updates``, which both trainers save in ``last.pt`` and restore on
  ``--resume``), so a resumed run's events carry the global optimizer step, not the steps of this
  process; with gradient accumulation a step is an optimizer step, not a batch;
- :meth:`TrainerSession.epoch_start`: each epoch's first step, so every event carries the trainer's
  epoch (0-based, as the trainer counts it), also after a resume;
- :meth:`TrainerSession.saved`: after each ``last.pt`` save, a verified copy is published as
  :data:`lrguard.constants.LAST_GOOD_PT` beside it (:class:`lrguard.checkpoint.last_good.LastGood`);
  a copy that does not verify is refused with one ``checkpoint -> warn`` event and the previous
  last-good file stays. The trainer's own files are never written.

- :meth:`TrainerSession.feed_loss`: the trainer's loss of each step goes into the guard's flag and
  spike statistics (both trainers clip the gradient norm to 10 before the step, so on their own the
  hooks' norm is capped and a spike of it is hidden);
- rollback (a ``rollback`` action in the config): :func:`rollback_state` names what a rollback
  restores (the model, the optimizer's state with the trainer's current LR and momentum kept, the
  ``ModelEMA`` with its ``updates``, the GradScaler; the RNGs come with every snapshot), and
  :meth:`TrainerSession.boundary`, called at the start of each batch (``on_train_batch_start``,
  before the forward pass), is the step boundary where :class:`~lrguard.guard.torch_adapter.TorchGuard`
  takes its snapshots and rolls back. The trainer owns its loader: the batches of the undone steps
  were consumed and are not replayed (their updates are discarded), and the trainer's epoch, batch
  index and LR schedule go on; the guard's global step goes back to the last-good one.

Nothing here may stop a training: a failure of the session itself is one ``internal`` event.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch.optim.optimizer import register_optimizer_step_pre_hook

from lrguard import constants as C
from lrguard.checkpoint.last_good import LastGood

if TYPE_CHECKING:
    from lrguard.guard.config import GuardConfig
    from lrguard.guard.hooks_adapter import StepHooks


class EMAState:
    """A ``ModelEMA`` (YOLOv5's, Ultralytics') as a state a rollback restores: its weights and ``updates``.

    Args:
        get: Returns the EMA now (Ultralytics replaces its ``ModelEMA`` when it recovers from a NaN).
    """

    def __init__(self, get: Callable[[], Any]) -> None:
        """Keep the getter."""
        self._get = get

    def state_dict(self) -> dict[str, Any]:
        """The EMA module's state and the update count."""
        ema = self._get()
        return {"ema": ema.ema.state_dict(), "updates": int(ema.updates)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put both back."""
        ema = self._get()
        ema.ema.load_state_dict(state["ema"])
        ema.updates = int(state["updates"])


class OptimizerState:
    """An optimizer whose rollback restores its state (momentum, moments, step counts) but keeps its hyperparameters.

    The trainer sets the LR and momentum from its own position (warmup per batch, schedule per epoch),
    which a rollback does not move back, so the param groups' values stay the trainer's.
    """

    def __init__(self, optimizer: Any) -> None:
        """Wrap ``optimizer``."""
        self.optimizer = optimizer

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's own ``state_dict()``."""
        return dict(self.optimizer.state_dict())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load ``state`` with the current param-group settings (the saved parameter indices kept)."""
        now = self.optimizer.state_dict()["param_groups"]
        groups = [
            {**{k: v for k, v in cur.items() if k != "params"}, "params": saved["params"]}
            for saved, cur in zip(state["param_groups"], now, strict=True)
        ]
        self.optimizer.load_state_dict({**state, "param_groups": groups})


def rollback_state(optimizer: Any, ema: Callable[[], Any] | None, scaler: Any) -> dict[str, Any]:
    """What a rollback in a YOLO trainer restores besides the model (``StepHooks(stateful=...)``)."""
    out: dict[str, Any] = {"optimizer": OptimizerState(optimizer)}
    if ema is not None:
        out["ema"] = EMAState(ema)
    if scaler is not None and hasattr(scaler, "state_dict"):
        out["scaler"] = scaler
    return out


def steps_after_resume(weights_dir: str | Path, epoch: int, updates: int) -> int:
    """The global step a resume from ``epoch`` goes on from.

    The trainer's count (``updates``) leaves out the steps the guard skipped (their EMA update did
    not run). When the last-good manifest in ``weights_dir`` was written at the save being resumed
    (same ``epoch`` and ``updates``), it holds the guard's own count, skips included, and that is
    returned; otherwise ``updates``.
    """
    import json

    try:
        manifest = json.loads((Path(weights_dir) / (C.LAST_GOOD_PT + C.MANIFEST_SUFFIX)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return updates
    if not isinstance(manifest, dict) or manifest.get("epoch") != epoch or manifest.get("updates") != updates:
        return updates
    step = manifest.get("step")
    return step if isinstance(step, int) and step >= updates else updates


class SessionAdapterSettings:
    """What a YOLO trainer adapter keeps from its construction until training starts.

    Args:
        config: The guard configuration (validated here).
        events: Path of the JSON-lines events file, or ``None``.
        console: Stream for the console lines (``None``: silent).
        last_good: Publish a verified copy of each ``last.pt`` save as ``weights/lrguard-last-good.pt``.
    """

    def __init__(
        self,
        config: GuardConfig | None = None,
        events: str | None = None,
        console: Any = sys.stderr,
        last_good: bool = True,
    ) -> None:
        """Keep the settings; the guard attaches when training starts."""
        from lrguard.guard.config import GuardConfig

        self.config = config or GuardConfig()
        self.events = events
        self.console = console
        self.last_good = last_good
        self.hooks: StepHooks | None = None
        self.session: TrainerSession | None = None


class TrainerSession:
    """The trainer's positions and the last-good keeper of one guarded training.

    Args:
        last_good: Publish a verified copy of each ``last.pt`` save (``False``: never write into the
            run directory).
        console: Stream for the one line saying where the verified copies go (``None``: silent).
        epoch_base: What the trainer's log (results.csv, its progress lines) adds to its 0-based epoch
            counter: events carry that numbering, so ``lrguard diagnose`` puts each on its row
            (YOLOv5 0, Ultralytics 1). The manifest keeps the checkpoint's own 0-based ``epoch``.
    """

    def __init__(self, *, last_good: bool = True, console: Any = sys.stderr, epoch_base: int = 0) -> None:
        """Nothing is bound or written yet."""
        self.keeper = LastGood() if last_good else None
        self.epoch_base = epoch_base
        self.console = console
        self.hooks: StepHooks | None = None
        self._starts: list[int] = []  # the first global step of each epoch started, in order
        self._epochs: list[int] = []  # that epoch's number
        #: ``(epoch, published path or None when refused)`` for every save seen.
        self.saves: list[tuple[int | None, Path | None]] = []
        self._loss_hook: Any = None

    def bind(self, hooks: StepHooks, steps_done: int | None = None) -> None:
        """Guard through ``hooks``: number its steps from ``steps_done`` and put epochs into its events.

        Args:
            hooks: The step hooks of the trainer's optimizer (before their first step when
                ``steps_done`` is given).
            steps_done: The trainer's count of optimizer steps before this session (``None``: unknown,
                steps count from where the hooks are).
        """
        self.hooks = hooks
        hooks.session = self  # type: ignore[attr-defined]
        if steps_done is not None:
            hooks.start_at(int(steps_done))
        hooks.guard.core.epoch_of = self.epoch_of

    def feed_loss(self, loss: Callable[[], Any]) -> None:
        """Hand ``loss()`` (the trainer's loss tensor of the step about to run) to the guard before each step.

        A global optimizer step pre-hook (it runs before the guard's own) reads it; nothing is synced.
        """
        hooks = self.hooks
        if hooks is None or self._loss_hook is not None:
            return
        optimizer = hooks.optimizer

        def pre(opt: Any, args: Any, kwargs: Any) -> None:
            if opt is not optimizer:
                return
            try:
                value = loss()
            except Exception:  # the loss is optional: the flag still has the gradient norm
                return
            if value is not None and hasattr(value, "detach"):
                hooks.set_loss(value)

        self._loss_hook = register_optimizer_step_pre_hook(pre)

    def boundary(self) -> None:
        """The start of a batch, before its forward pass: the guard's snapshot and rollback point (``rollback`` only)."""
        hooks = self.hooks
        if hooks is None or not hooks.guard.config.rolls_back:
            return
        guard = hooks.guard
        done = len(guard.skipped_windows)
        guard.boundary()
        guard.batches += 1  # the trainer's batch is fetched already: the data position counts it
        if len(guard.skipped_windows) > done:  # rolled back: the steps after the last-good one are trained again
            step, epoch = guard.global_step, self.epoch
            keep = bisect.bisect_right(self._starts, step)
            del self._starts[keep:], self._epochs[keep:]
            if epoch is not None:
                self.epoch_start(epoch)

    def close(self) -> None:
        """Remove the loss hook (idempotent)."""
        if self._loss_hook is not None:
            self._loss_hook.remove()
            self._loss_hook = None

    def step(self) -> int | None:
        """The global step the next optimizer step will have (``None`` before :meth:`bind`)."""
        return self.hooks.guard.global_step if self.hooks is not None else None

    def epoch_start(self, epoch: int) -> None:
        """The trainer starts ``epoch`` (its 0-based counter; again after its own recovery): the next steps are in it."""
        step = self.step()
        if step is None:
            return
        if self._starts and self._starts[-1] == step:  # no step since the last start
            self._epochs[-1] = int(epoch)
            return
        self._starts.append(step)
        self._epochs.append(int(epoch))

    def epoch_of(self, step: int) -> int | None:
        """The epoch, as the trainer's log numbers it, the step at global ``step`` was in (``None``: before the first)."""
        i = bisect.bisect_right(self._starts, step) - 1
        return self._epochs[i] + self.epoch_base if i >= 0 else None

    @property
    def epoch(self) -> int | None:
        """The epoch now in training (the trainer's 0-based counter)."""
        return self._epochs[-1] if self._epochs else None

    def saved(self, last: str | Path, epoch: int | None, updates: int | None = None) -> Path | None:
        """The trainer has written ``last`` (complete): verify a copy and publish it as the last-good one.

        ``epoch`` is the checkpoint's own (the trainer's 0-based counter). The manifest records ``epoch``, the guard's global ``step`` and the trainer's ``updates`` (its
        count of optimizer steps in the file), which :func:`steps_after_resume` reads back.

        A save made while a rollback is due (a persistent spike found, undone at the next batch) holds
        the steps to be undone: it is not published (one ``checkpoint -> log`` event).

        Returns:
            The last-good path, or ``None`` when refused (one ``checkpoint -> warn`` event), withheld or
            disabled.
        """
        if self.keeper is None:
            return None
        last = Path(last)
        step = self.step()
        hooks = self.hooks
        if hooks is not None and hooks.guard._rollback_due is not None:
            # the guard is about to undo steps this file holds: the previous last-good copy stays
            self._event("log", f"{last.name} not published: it holds steps the guard is rolling back", epoch)
            self.saves.append((epoch, None))
            return None
        meta: dict[str, Any] = {"epoch": epoch, "step": step, "updates": updates}
        try:
            first = self.keeper.published is None and not self.keeper.refused
            path = self.keeper.publish(last, **meta)
        except Exception as exc:  # never the cause of a lost run (a full disk, a vanished file)
            self._event("warn", f"{last.name} not published as the last-good copy: {type(exc).__name__}: {exc}", epoch)
            self.saves.append((epoch, None))
            return None
        self.saves.append((epoch, path))
        if path is None:
            _, problems = self.keeper.refused[-1]
            self._event(
                "warn",
                f"{last} does not verify, not published; {self.keeper.target(last).name} stays the last good "
                f"one: {'; '.join(problems)[:300]}",
                epoch,
            )
        elif first and self.console is not None:
            print(f"lrguard: verified copies of {last.name} go to {path} (with a manifest)", file=self.console)
        return path

    def _event(self, action: str, message: str, epoch: int | None) -> None:
        epoch = epoch + self.epoch_base if epoch is not None else None
        hooks = self.hooks
        if hooks is not None and hooks.guard.core is not None:
            hooks.guard.core._decide(action, hooks.guard.global_step, "checkpoint", message, epoch=epoch)
        elif self.console is not None:
            print(f"lrguard guard: checkpoint -> {action}: {message}", file=self.console)
