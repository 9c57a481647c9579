"""Zero-code injection of the per-step guard into a training process (what ``lrguard run`` sets up).

``lrguard run`` puts :data:`INJECT_DIR` (a folder holding only a ``sitecustomize.py``) first on the
child's ``PYTHONPATH`` and the guard settings, as JSON, in :data:`SETTINGS_ENV`. Python imports
``sitecustomize`` at start-up in every process of the command (each torchrun rank, a spawned
worker), which calls :func:`activate`:

- nothing happens until torch is imported (the import of torch is not triggered, nor slowed);
- then torch's global optimizer step hooks are installed
  (:func:`lrguard.guard.hooks_adapter.install_global`): every optimizer is guarded from its first
  ``step``, each rank writes its own rank into the events;
- at each new guard, every registered trainer whose library is imported by then gets its
  ``guard_adapter.zero_code()`` applied (YOLOv5's and Ultralytics' ``ModelEMA`` routed through the
  guard; the trainer's global step and epoch in the events; a verified copy of each ``last.pt`` save
  as ``lrguard-last-good.pt`` unless the settings say ``"last_good": false``);
- the settings' ``config`` (``lrguard run --action``/``--guard-config``) is every guard's
  :class:`~lrguard.guard.config.GuardConfig`: the action ladder works through the hooks (``log``,
  ``clip``, ``skip`` of a non-finite step, ``lower-lr``, ``stop``); ``rollback`` needs the trainer's
  model and state, which a trainer addition's ``rollback_kwargs(optimizer)`` hands over at the first
  step (YOLOv5's ``train()``, an Ultralytics trainer); for any other optimizer the first
  ``optimizer.step()`` raises :class:`GuardRefused` before stepping;
- an uncaught :class:`~lrguard.guard.core.GuardStop` (a ``stop`` action) ends the process with one
  ``lrguard:`` line and exit code :data:`EXIT_STOPPED`, an uncaught :class:`GuardRefused` with
  :data:`EXIT_REFUSED` (``sys.excepthook``; other exceptions keep the previous hook);
- at exit the last window is read and its events written; a ``stop`` found by that last read ends
  the process with :data:`EXIT_STOPPED` too (after the events are written, the remaining exit
  handlers skipped).

A failure of the injection prints one ``lrguard:`` line on stderr and leaves the process unguarded.
This module never imports torch itself: :mod:`lrguard.guard.hooks_adapter` is imported once torch is.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

#: Environment variable carrying the guard settings (JSON: ``events``, ``config``) to the training process.
SETTINGS_ENV = "LRGUARD_GUARD"
#: The folder prepended to ``PYTHONPATH`` (it holds only ``sitecustomize.py``).
INJECT_DIR = Path(__file__).resolve().parent / "inject"

#: Exit code of a process a ``stop`` action ended (``lrguard run``'s stop code).
EXIT_STOPPED = 3
#: Exit code of a process whose guard settings cannot be performed there (found at its first step).
EXIT_REFUSED = 2

_state: dict[str, Any] = {}


class GuardRefused(RuntimeError):
    """The injected guard cannot perform its settings for this optimizer (raised before its first step)."""


def check_injectable(config: Any) -> None:
    """Refuse what the injected guard (step hooks, no plan) cannot do, before the command runs.

    Raises:
        ValueError: A non-finite ``log`` (the step hooks always skip a non-finite step), a spike
            ``skip`` (the step hooks skip only a non-finite step) or an
            ``lr-off-plan`` action other than ``log`` (the injected guard has no LR plan).
    """
    if config.action("nonfinite") == "log":
        raise ValueError(
            "guard action 'log' for nonfinite: the injected guard always skips a non-finite step "
            "(a NaN update would corrupt the weights): use skip or stop"
        )
    for signal in ("loss-spike", "grad-spike"):
        if config.action(signal) == "skip":
            raise ValueError(
                f"guard action 'skip' for {signal} is not implemented in the injected guard (it skips "
                "non-finite steps only): use clip, lower-lr, rollback or stop"
            )
    if config.action("lr-off-plan") != "log":
        raise ValueError(
            "guard action for lr-off-plan: the injected guard has no LR plan to check against "
            "(lrguard run checks a resume's LR before training: --policy)"
        )


def settings_json(events: str | None, config: dict[str, Any], last_good: bool = True) -> str:
    """The value of :data:`SETTINGS_ENV` for ``events`` and a :meth:`GuardConfig.from_dict` mapping.

    ``last_good``: the trainer additions publish a verified copy of each ``last.pt`` save.

    Raises:
        ValueError: ``config`` is not a valid guard configuration, or one the injected guard cannot
            perform (:func:`check_injectable`; checked here, before training).
    """
    from lrguard.guard.config import GuardConfig

    check_injectable(GuardConfig.from_dict(config))
    return json.dumps({"events": events, "config": config, "last_good": bool(last_good)})


def child_env(environ: dict[str, str], settings: str) -> dict[str, str]:
    """``environ`` with the injection folder first on ``PYTHONPATH`` and the settings set.

    lrguard's own parent folder is appended too when it is not a ``site-packages`` folder (a source
    checkout), so the child's Python finds lrguard.
    """
    env = dict(environ)
    parts = [str(INJECT_DIR), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    root = Path(__file__).resolve().parents[2]
    if root.name not in ("site-packages", "dist-packages") and str(root) not in parts:
        parts.append(str(root))
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env[SETTINGS_ENV] = settings
    return env


def activate(environ: dict[str, str] | None = None) -> bool:
    """Arm the guard for this process from :data:`SETTINGS_ENV` (called by the injected ``sitecustomize``).

    Returns:
        Whether the settings were present and valid (the hooks go in once torch is imported).
    """
    raw = (environ if environ is not None else os.environ).get(SETTINGS_ENV)
    if not raw or _state:
        return False
    try:
        settings = json.loads(raw)
        from lrguard.guard.config import GuardConfig

        config = GuardConfig.from_dict(settings.get("config") or {})
    except (ValueError, TypeError, AttributeError) as exc:
        print(f"lrguard: guard not injected: bad {SETTINGS_ENV}: {exc}", file=sys.stderr)
        return False
    _state.update(config=config, events=settings.get("events"), last_good=settings.get("last_good", True) is not False)
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        code = _exit_code(exc)
        if code is None:
            previous(kind, exc, tb)
            return
        print(f"lrguard: {'stopped' if code == EXIT_STOPPED else 'refused'}: {exc}", file=sys.stderr)
        sys.exit(code)  # SystemExit from the hook: the interpreter exits with it (exit handlers run)

    sys.excepthook = excepthook
    if "torch" in sys.modules and hasattr(sys.modules["torch"], "optim"):
        _install()
    else:
        sys.meta_path.insert(0, _AfterTorch())
    return True


class _AfterTorch(importlib.abc.MetaPathFinder):
    """Runs :func:`_install` right after the import of torch has finished (then removes itself)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torch":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            _install()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _exit_code(exc: BaseException) -> int | None:
    """:data:`EXIT_STOPPED` for a :class:`GuardStop` (or one it was raised from), :data:`EXIT_REFUSED`, or ``None``."""
    from lrguard.guard.core import GuardStop

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, GuardStop):
            return EXIT_STOPPED
        if isinstance(cur, GuardRefused):
            return EXIT_REFUSED
        cur = cur.__cause__ or cur.__context__
    return None


def _install() -> None:
    try:
        from lrguard.guard.hooks_adapter import install_global

        install_global(_state["config"], _state["events"], on_attach=_on_attach, prepare=_prepare)
        atexit.register(_close_at_exit)
    except Exception as exc:  # never the cause of a lost run
        print(f"lrguard: guard not injected: {type(exc).__name__}: {exc}", file=sys.stderr)


def _close_at_exit() -> None:
    """Read every guard's last window; a ``stop`` it finds ends the process with :data:`EXIT_STOPPED`."""
    from lrguard.guard.core import GuardStop
    from lrguard.guard.hooks_adapter import uninstall_global

    try:
        uninstall_global()
    except GuardStop as exc:
        print(f"lrguard: stopped: {exc}", file=sys.stderr)
        import logging

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(EXIT_STOPPED)  # an exit handler cannot set the exit code otherwise


def _prepare(optimizer: Any) -> dict[str, Any]:
    """More :class:`StepHooks` arguments for a new guard: the trainer's model and state when a signal rolls back.

    Raises:
        GuardRefused: A ``rollback`` action and no registered trainer recognises ``optimizer`` as its own.
    """
    if not _state["config"].rolls_back:
        return {}
    from lrguard.trainers import REGISTRY

    for name, package in REGISTRY.items():
        if name not in sys.modules:
            continue
        module_name = f"{package}.guard_adapter"
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
            found = getattr(importlib.import_module(module_name), "rollback_kwargs", None)
            kwargs = found(optimizer) if found is not None else None
        except Exception as exc:
            raise GuardRefused(
                f"guard action 'rollback': the {name} trainer's model and state were not found "
                f"({type(exc).__name__}: {exc})"
            ) from None
        if kwargs is not None:
            return dict(kwargs)
    raise GuardRefused(
        "guard action 'rollback' needs the training's model and its data boundary, which lrguard run finds "
        "only in YOLOv5's and Ultralytics' trainers: in a plain PyTorch script use "
        "TorchGuard(optimizer, model=model) and iterate guard.data(loader)"
    )


def _on_attach(hooks: Any) -> None:
    """Apply the zero-code additions of each registered trainer whose library is imported by now.

    A trainer's additions are ``lrguard.trainers.<name>.guard_adapter.zero_code(hooks, last_good=...)``
    (the EMA routed through the guard; for the training stepping ``hooks``, the trainer's step and
    epoch in the events and the verified last-good copy of each ``last.pt``); its library is the
    top-level module of the registry name (``yolov5``, ``ultralytics``). Each is applied once,
    except to a guard built with a trainer's model for a rollback (a second training in the same
    process): that one needs its trainer's batch boundary.
    """
    from lrguard.trainers import REGISTRY

    done: set[str] = _state.setdefault("trainers", set())
    guard = getattr(hooks, "guard", None)
    rolls_back = guard is not None and guard.config.rolls_back and guard.model is not None
    for name, package in REGISTRY.items():
        if (name in done and not rolls_back) or name not in sys.modules:
            continue  # not imported (yet): looked at again at the next new guard
        done.add(name)
        module_name = f"{package}.guard_adapter"
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
            importlib.import_module(module_name).zero_code(hooks, last_good=_state.get("last_good", True))
        except Exception as exc:
            print(f"lrguard: {name} guard additions not applied: {type(exc).__name__}: {exc}", file=sys.stderr)
    action = guard.config.action("loss-spike") if guard is not None else "log"
    if action != "log" and getattr(hooks, "session", None) is None:
        print(
            f"lrguard: loss-spike -> {action} cannot fire for this optimizer: no trainer hands its loss to the "
            "injected guard (a plain script); nonfinite and grad-spike are judged",
            file=sys.stderr,
        )
