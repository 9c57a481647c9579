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
- at exit the last window is read and its events written.

A failure of the injection prints one ``lrguard:`` line on stderr and leaves the process unguarded.
This module never imports torch itself: :mod:`lrguard.guard.hooks_adapter` is imported once torch is.
"""

from __future__ import annotations

import atexit
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

_state: dict[str, Any] = {}


def settings_json(events: str | None, config: dict[str, Any], last_good: bool = True) -> str:
    """The value of :data:`SETTINGS_ENV` for ``events`` and a :meth:`GuardConfig.from_dict` mapping.

    ``last_good``: the trainer additions publish a verified copy of each ``last.pt`` save.

    Raises:
        ValueError: ``config`` is not a valid guard configuration (checked here, before training).
    """
    from lrguard.guard.config import GuardConfig

    GuardConfig.from_dict(config)
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


def _install() -> None:
    try:
        from lrguard.guard.hooks_adapter import install_global, uninstall_global

        install_global(_state["config"], _state["events"], on_attach=_on_attach)
        atexit.register(uninstall_global)
    except Exception as exc:  # never the cause of a lost run
        print(f"lrguard: guard not injected: {type(exc).__name__}: {exc}", file=sys.stderr)


def _on_attach(hooks: Any) -> None:
    """Apply the zero-code additions of each registered trainer whose library is imported by now.

    A trainer's additions are ``lrguard.trainers.<name>.guard_adapter.zero_code(hooks, last_good=...)``
    (the EMA routed through the guard; for the training stepping ``hooks``, the trainer's step and
    epoch in the events and the verified last-good copy of each ``last.pt``); its library is the
    top-level module of the registry name (``yolov5``, ``ultralytics``). Each is applied once.
    """
    from lrguard.trainers import REGISTRY

    done: set[str] = _state.setdefault("trainers", set())
    for name, package in REGISTRY.items():
        if name in done or name not in sys.modules:
            continue  # not imported (yet): looked at again at the next new guard
        done.add(name)
        module_name = f"{package}.guard_adapter"
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
            importlib.import_module(module_name).zero_code(hooks, last_good=_state.get("last_good", True))
        except Exception as exc:
            print(f"lrguard: {name} guard additions not applied: {type(exc).__name__}: {exc}", file=sys.stderr)
