"""Import an optional library for a test module, or skip the module with the reason.

Where the ``[trainers]`` extra is meant to be installed (``$CI`` or ``$LRGUARD_REQUIRE_TRAINERS``
set) a missing library is an error, not a skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def needs(module: str, extra: str = "trainers") -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if any(os.environ.get(v) for v in ("CI", "LRGUARD_REQUIRE_TRAINERS")):
            raise
        pytest.skip(f"{module} not installed ({exc}); install the [{extra}] extra", allow_module_level=True)
