"""Reading the live guard's events file back: well-formed lines, and files being written or broken."""

from __future__ import annotations

import json
import math

import pytest

from lrguard import constants as C
from lrguard.errors import InputError
from lrguard.readers.guardevents import attach_guard_events, read_guard_events


def _line(**fields) -> str:
    base = {"time": 1.0, "step": 3, "epoch": None, "rank": 0, "signal": "nonfinite", "action": "skip", "message": "m"}
    return json.dumps({**base, **fields}) + "\n"


def test_events_are_read_in_order_with_their_fields(tmp_path):
    p = tmp_path / C.GUARD_EVENTS_JSONL
    p.write_text(
        _line(value="nan") + _line(step=9, signal="loss-spike", action="lower-lr", until=19, value=4.5, rank=1)
    )
    events, notes = read_guard_events(p)
    assert notes == []
    a, b = events
    assert (a.line, a.step, a.action, a.until) == (1, 3, "skip", None) and math.isnan(a.value)
    assert (b.line, b.step, b.until, b.value, b.rank, b.changes_lr) == (2, 9, 19, 4.5, 1, True)
    assert not a.changes_lr


def test_a_partly_written_last_line_is_a_note_and_the_rest_is_kept(tmp_path):
    p = tmp_path / "ev.jsonl"
    p.write_text(_line() + _line(step=4)[:25])  # the guard was killed (or is still writing) mid-line
    events, notes = read_guard_events(p)
    assert [e.step for e in events] == [3]
    assert len(notes) == 1 and "line 2" in notes[0] and "partly written" in notes[0]


def test_a_last_line_without_newline_that_is_complete_is_kept(tmp_path):
    p = tmp_path / "ev.jsonl"
    p.write_text(_line() + _line(step=4).rstrip("\n"))
    events, notes = read_guard_events(p)
    assert [e.step for e in events] == [3, 4] and notes == []


@pytest.mark.parametrize(
    "bad",
    ["not json at all\n", "[1, 2]\n", '{"step": 3}\n', '{"signal": 1, "action": "skip"}\n', "\x00\x00\x00\n"],
)
def test_lines_that_are_not_events_are_skipped_with_a_note(tmp_path, bad):
    p = tmp_path / "ev.jsonl"
    p.write_bytes((_line() + bad + _line(step=5)).encode("utf-8"))
    events, notes = read_guard_events(p)
    assert [e.step for e in events] == [3, 5]
    assert len(notes) == 1 and "line 2 not a guard event" in notes[0]


def test_undecodable_bytes_and_many_bad_lines_never_raise(tmp_path):
    p = tmp_path / "ev.jsonl"
    p.write_bytes(b"\xff\xfe garbage\n" * 5 + _line(step=7).encode())
    events, notes = read_guard_events(p)
    assert [e.step for e in events] == [7]
    assert "lines 1, 2, 3 and 2 more" in notes[0]


def test_an_unreadable_events_file_is_a_note(tmp_path):
    p = tmp_path / "ev.jsonl"
    p.mkdir()  # a directory where the file should be
    events, notes = read_guard_events(p)
    assert events == [] and len(notes) == 1 and "not read" in notes[0]


def test_attach_reads_the_default_file_an_explicit_one_and_refuses_a_missing_explicit_one(tmp_path):
    from harness.generated import write_generated_run
    from lrguard.readers import read_run
    from lrguard.schedules import ScheduleSpec, SessionPlan
    from lrguard.trainers.ultralytics import profiles

    run_dir = write_generated_run(
        tmp_path / "run", profiles.V8_4, [SessionPlan(0, 5, ScheduleSpec(lr0=0.01, lrf=0.01, epochs=5, nb=10))]
    )
    assert read_run(run_dir).guard_events == []  # no file: nothing, no note
    (run_dir / C.GUARD_EVENTS_JSONL).write_text(_line(epoch=2))
    run = read_run(run_dir)
    assert [e.epoch for e in run.guard_events] == [2] and run.files["events"] == run_dir / C.GUARD_EVENTS_JSONL
    other = tmp_path / "elsewhere.jsonl"
    other.write_text(_line(epoch=3) + _line(epoch=4))
    run = read_run(run_dir, events=other)
    assert [e.epoch for e in run.guard_events] == [3, 4]
    with pytest.raises(InputError, match="no such events file"):
        attach_guard_events(run, tmp_path / "missing.jsonl")
