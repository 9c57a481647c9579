"""The live guard: per-step checks during training (LR vs plan, non-finite values, spikes, resume pre-flight).

Importing this package, :mod:`.config`, :mod:`.events` or :mod:`.core` never imports torch; the
framework adapters (:mod:`.torch_adapter`) import it when they are attached. See docs/guard.md.
"""

from lrguard.guard.config import ACTIONS, POLICIES, GuardConfig
from lrguard.guard.core import Decision, GuardCore, PreviousSession
from lrguard.guard.events import Event, EventLog

__all__ = ["ACTIONS", "POLICIES", "Decision", "Event", "EventLog", "GuardConfig", "GuardCore", "PreviousSession"]
