"""Guard events: one JSON line per action in a file, one line per event on the console."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO


@dataclass(frozen=True)
class Event:
    """One thing the guard saw and what it did.

    Attributes:
        step: Global optimizer step (0-based: the number of steps before it).
        signal: ``nonfinite``, ``loss-spike``, ``grad-spike``, ``lr-off-plan``, ``resume``, ``rollback``
            (the restore that a spike's ``rollback`` decision led to) or ``internal``.
        action: What the guard did (``log``, ``skip``, ``clip``, ``lower-lr``, ``rollback``, ``restore``,
            ``stop``, ``warn``, ``continue-curve``, ``disable``).
        message: One line for a person.
        value: The observed value (loss, grad norm, LR), when there is one.
        expected: What it was judged against (history median, planned LR).
        epoch: Epoch, when the adapter knows it.
        rank: Distributed rank (0 when not distributed).
        time: Unix time the event was written.
        until: For ``lower-lr``: the first step the LR is back on its schedule (the action covers
            ``step`` .. ``until - 1``); written only when set, so ``lrguard diagnose`` knows the window.
    """

    step: int
    signal: str
    action: str
    message: str
    value: float | None = None
    expected: float | None = None
    epoch: int | None = None
    rank: int = 0
    time: float = field(default_factory=time.time)
    until: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain values (``until`` only when set); a non-finite number is written as its string (``"nan"``, ``"inf"``), JSON has none."""
        out = asdict(self)
        if out["until"] is None:
            del out["until"]
        for key in ("value", "expected"):
            v = out[key]
            if isinstance(v, float) and not math.isfinite(v):
                out[key] = str(v)
        return out

    def console_line(self) -> str:
        """``lrguard guard: step 12 (rank 1): nonfinite -> skip: ...``."""
        where = f"step {self.step}" + (f" (rank {self.rank})" if self.rank else "")
        return f"lrguard guard: {where}: {self.signal} -> {self.action}: {self.message}"


class EventLog:
    """Writes events: appended as JSON lines to ``path`` (when given) and printed one line each.

    Every line is flushed as written, so a killed run keeps the events before the kill.
    """

    def __init__(self, path: str | Path | None = None, console: TextIO | None = sys.stderr) -> None:
        """Open ``path`` for appending (created with its parent folder) and print to ``console`` (None: silent)."""
        self.path = Path(path) if path is not None else None
        self.console = console
        self.events: list[Event] = []
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: Event) -> None:
        """Record, append and print one event."""
        self.events.append(event)
        if self._file is not None:
            self._file.write(json.dumps(event.to_json(), sort_keys=True) + "\n")
            self._file.flush()
        if self.console is not None:
            print(event.console_line(), file=self.console, flush=True)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Every event of a JSON-lines file as a dict (a partly written last line is ignored)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
