"""The record of an integrity check (:class:`IntegrityReport`), apart from the checks themselves.

``lrguard ckpt show`` reports "data not read" with it without importing :mod:`lrguard.checkpoint.integrity`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Progress = Callable[[int], None]
"""Called with the number of bytes just checked."""


@dataclass
class IntegrityReport:
    """Whether a checkpoint file is intact.

    Attributes:
        ok: No problem found.
        problems: What is wrong, one sentence each (truncation, CRC mismatch, missing storage, ...).
        notes: Harmless observations.
        checked: What was checked, with counts (``entries``, ``storages``, ``bytes``, ``scanned``).
        nonfinite: Tensor name -> count of NaN/Inf values (when scanned).
        manifest: Result of the sidecar manifest check (``None`` when there is no sidecar).
    """

    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    nonfinite: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None

    def fail(self, problem: str) -> None:
        """Record a problem."""
        self.ok = False
        self.problems.append(problem)

    def to_json(self) -> dict[str, Any]:
        """Plain representation for ``--json``."""
        return {
            "ok": self.ok,
            "problems": self.problems,
            "notes": self.notes,
            "checked": self.checked,
            "nonfinite": self.nonfinite,
            "manifest": self.manifest,
        }
