"""Read the live guard's JSON-lines events file back into :class:`~lrguard.model.GuardEvent` objects.

The guard (:mod:`lrguard.guard.events`) and ``lrguard run`` append one JSON object per line and
flush each line, so the file can be read while training goes on: its last line may be partly
written. Nothing in the file can stop a diagnosis: a line that is not a JSON object with a
``signal`` and an ``action`` is skipped and said so in a note, and so is a file that cannot be read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.errors import InputError
from lrguard.model import GuardEvent, Run

#: Notes name at most this many bad lines one by one; the rest are counted.
_SHOWN = 3


def default_events_path(run_dir: Path) -> Path:
    """Where the guard and ``lrguard run`` write a run's events by default."""
    return run_dir / C.GUARD_EVENTS_JSONL


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return int(v)
    return None


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):  # the guard writes a non-finite value as "nan" / "inf" / "-inf"
        try:
            x = float(v)
        except ValueError:
            return None
        return x if not math.isfinite(x) else None
    return None


def _event(line: int, obj: Any) -> GuardEvent | None:
    if not isinstance(obj, dict):
        return None
    signal, action = obj.get("signal"), obj.get("action")
    if not isinstance(signal, str) or not isinstance(action, str) or not signal or not action:
        return None
    message = obj.get("message")
    rank = _int(obj.get("rank"))
    t = obj.get("time")
    return GuardEvent(
        line=line,
        signal=signal,
        action=action,
        message=message if isinstance(message, str) else "",
        step=_int(obj.get("step")),
        epoch=_int(obj.get("epoch")),
        until=_int(obj.get("until")),
        value=_float(obj.get("value")),
        expected=_float(obj.get("expected")),
        rank=rank if rank is not None else 0,
        time=float(t) if isinstance(t, int | float) and not isinstance(t, bool) else None,
    )


def read_guard_events(path: Path) -> tuple[list[GuardEvent], list[str]]:
    """Every well-formed event of ``path`` in file order, and notes on what was skipped.

    Never raises: a file that cannot be read gives no events and one note; a partly written last
    line (no newline yet) and lines that are not a guard event are skipped with a note each kind.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [f"guard events not read: {path.name}: {exc.strerror or exc}"]
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    torn = lines[-1] if lines and lines[-1].strip() else None  # no newline after it: still being written
    lines = lines[:-1] if torn is None else lines
    events: list[GuardEvent] = []
    bad: list[int] = []
    torn_ignored = False
    for k, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        ev = _event(k, obj)
        if ev is not None:
            events.append(ev)
        elif torn is not None and k == len(lines):
            torn_ignored = True
        else:
            bad.append(k)
    notes = []
    if torn_ignored:
        notes.append(
            f"{path.name}: the last line (line {len(lines)}) is partly written (still being written?): ignored"
        )
    if bad:
        shown = ", ".join(str(k) for k in bad[:_SHOWN]) + (
            f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        )
        what = "line" if len(bad) == 1 else "lines"
        notes.append(
            f"{path.name}: {what} {shown} not a guard event (not a JSON object with signal and action): ignored"
        )
    return events, notes


def attach_guard_events(run: Run, events: str | Path | None = None) -> None:
    """Read the run's events file into ``run.guard_events`` (and ``run.files["events"]``, ``run.notes``).

    Args:
        run: The run, already read.
        events: An explicit events file; default: :func:`default_events_path` of the run directory,
            read when it exists.

    Raises:
        InputError: ``events`` was given and is not a file.
    """
    if events is not None:
        path = Path(events)
        if not path.is_file():
            raise InputError(path, "no such events file (--events)")
    else:
        base = run.path if run.path.is_dir() else run.path.parent
        path = default_events_path(base)
        if not path.is_file():
            return
    found, notes = read_guard_events(path)
    run.files["events"] = path
    run.guard_events = found
    run.notes.extend(notes)
