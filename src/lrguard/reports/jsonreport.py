"""The ``--json`` contract of ``lrguard diagnose`` (documented in the README)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from lrguard import __version__
from lrguard.diagnosis.result import Diagnosis
from lrguard.model import Finding


def plain(value: Any) -> Any:
    """Convert ``value`` to JSON-ready values: numpy scalars to Python, non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def finding_dict(f: Finding, line_numbers: np.ndarray, steps: np.ndarray | None = None) -> dict[str, Any]:
    """One finding as in the ``findings`` list of the JSON report.

    ``line`` is 1-based in the log file (results.csv; ``line_numbers`` holds -1 for a row without a
    line, as in a JSON or event log); ``step`` is the run's own optimizer step
    when its rows are counted in steps, else ``None``.
    """
    return {
        "cause": f.cause.value,
        "severity": f.severity.value,
        "epoch": f.epoch,
        "step": int(steps[f.row]) if steps is not None and f.row is not None else None,
        "line": int(line_numbers[f.row]) if f.row is not None and line_numbers[f.row] >= 0 else None,
        "title": f.title,
        "evidence": f.evidence,
        "fix": f.fix,
        "data": f.data,
    }


def diagnosis_dict(d: Diagnosis) -> dict[str, Any]:
    """Return the JSON-ready dict of one diagnosis.

    Keys: ``lrguard_version``, ``run``, ``framework``, ``framework_version``, ``profile``,
    ``version_inference`` (how the profile was chosen: ``profile``, ``recorded``, ``evidence``,
    ``candidates_tested``, ``summary``), ``schedule``, ``sessions`` (``first_epoch``, ``last_epoch``, ``start``, ``first_line``,
    ``last_line``, ``evidence``), ``axis`` (``unit``, ``steps_per_epoch``), ``session_evidence``
    (``line``, ``kind``, ``detail``), ``findings`` (``cause``, ``severity``, ``epoch``, ``step``,
    ``line``, ``title``, ``evidence``, ``fix``, ``data``), ``notes`` and ``worst_severity``; plus
    ``guard`` only when the run has a live-guard events file (:func:`guard_dict`).
    """
    run = d.run
    axis = run.axis
    prov = run.provenance
    steps = axis.values if axis is not None and axis.unit == "step" else None
    if prov is not None and prov.kind != "line":  # a JSON or event log: no line numbers to give
        lines = np.full(run.n_rows, -1, dtype=np.int64)
    else:
        lines = run.table.line_numbers

    def line(row: int) -> int | None:
        return int(lines[row]) if 0 <= row < len(lines) and lines[row] >= 0 else None

    def epoch(row: int, value: int) -> int | None:
        return axis.whole_epoch(row) if axis is not None and steps is not None else value

    out = plain(
        {
            "lrguard_version": __version__,
            "run": str(run.path),
            "framework": run.framework,
            "framework_version": run.framework_version,
            "profile": d.profile.name,
            "version_inference": d.version or None,
            "schedule": d.schedule_dict(),
            "lr_columns": run.lr_columns,
            "reference_column": run.lr_columns[d.reference_group],
            "rows": run.n_rows,
            "axis": {
                "unit": run.unit.value,
                "steps_per_epoch": axis.steps_per_epoch if axis is not None else None,
            },
            "session_evidence": [
                {
                    "line": line(e.row),
                    "step": int(steps[e.row]) if steps is not None and e.row < len(steps) else None,
                    "kind": e.kind.value,
                    "detail": e.detail,
                }
                for e in run.evidence
            ],
            "sessions": [
                {
                    "first_epoch": epoch(s.first_row, s.first_epoch),
                    "last_epoch": epoch(s.last_row, s.last_epoch),
                    "first_step": s.first_epoch if steps is not None else None,
                    "last_step": s.last_epoch if steps is not None else None,
                    "start": s.start,
                    "first_line": line(s.first_row),
                    "last_line": line(s.last_row),
                    "evidence": s.evidence,
                }
                for s in d.sessions
            ],
            "findings": [finding_dict(f, lines, steps) for f in d.findings],
            "notes": d.notes,
            "worst_severity": d.worst.value if d.worst else None,
        }
    )
    guard = guard_dict(d, lines, steps)
    if guard is not None:
        out["guard"] = guard
    return out


def guard_dict(d: Diagnosis, lines: np.ndarray, steps: np.ndarray | None) -> dict[str, Any] | None:
    """The ``guard`` section: the events file, every event read, and the findings its LR changes explain.

    Keys: ``events_file``, ``events`` (``line``, ``step``, ``epoch``, ``rank``, ``signal``,
    ``action``, ``message``, ``value``, ``expected``, ``until``, ``time``, ``row_line``: the log line
    it falls on, when there is one) and ``explained`` (``cause``, ``line``, ``step``, ``title``,
    ``by_line``: the events-file line that explains it). ``None`` when the run has no events file.
    """
    run = d.run
    path = run.files.get("events")
    if path is None:
        return None
    by_line = {f.data.get("line"): f for f in d.findings if f.cause.value == "guard-action"}
    events = []
    for ev in run.guard_events:
        f = by_line.get(ev.line)
        row = f.row if f is not None else None
        events.append(
            {
                "line": ev.line,
                "step": ev.step,
                "epoch": ev.epoch,
                "rank": ev.rank,
                "signal": ev.signal,
                "action": ev.action,
                "message": ev.message,
                "value": ev.value,
                "expected": ev.expected,
                "until": ev.until,
                "time": ev.time,
                "row_line": int(lines[row]) if row is not None and 0 <= row < len(lines) and lines[row] >= 0 else None,
            }
        )
    explained = [
        {
            "cause": e["cause"],
            "line": int(lines[e["row"]]) if e["row"] is not None and lines[e["row"]] >= 0 else None,
            "step": int(steps[e["row"]]) if steps is not None and e["row"] is not None else None,
            "title": e["title"],
            "by_line": line_no,
        }
        for line_no, f in by_line.items()
        for e in f.data.get("explains", [])
    ]
    return plain({"events_file": str(path), "events": events, "explained": explained})


def error_dict(run: str, error: str) -> dict[str, Any]:
    """The entry of a run that could not be read, in a report of several runs: ``{run, error}``."""
    return {"lrguard_version": __version__, "run": run, "error": error}


def render_json(diagnoses: list[Diagnosis | dict[str, Any]]) -> str:
    """One JSON object for one run, a JSON array of them for several (a dict is an :func:`error_dict`)."""
    items = [d if isinstance(d, dict) else diagnosis_dict(d) for d in diagnoses]
    return json.dumps(items[0] if len(items) == 1 else items, indent=2)
