"""The trainer callbacks' event log: a guard's events written at the trainer's own global step."""

from __future__ import annotations

from lrguard.guard.events import Event, EventLog, read_events
from lrguard.guard.trainer_steps import TrainerSteps


def test_events_are_written_at_the_trainer_step_of_the_guards_step(tmp_path):
    sink = EventLog(tmp_path / "e.jsonl", console=None)
    now = [40]
    log = TrainerSteps(sink, lambda: now[0], "optimizer 1: ")
    for guard_step, trainer_step in ((0, 1), (1, 3), (2, 5)):  # two optimizers alternating: this one steps on odd steps
        log.begin(guard_step, trainer_step, keep=10)
    log.write(Event(step=1, signal="nonfinite", action="skip", message="loss nan"))
    log.write(Event(step=2, signal="loss-spike", action="lower-lr", message="spike", until=12))
    log.write(Event(step=3, signal="rollback", action="restore", message="restored"))  # a step not begun: now
    assert [(e.step, e.until, e.message) for e in sink.events] == [
        (3, None, "optimizer 1: loss nan"),
        (5, 15, "optimizer 1: spike"),
        (40, None, "optimizer 1: restored"),
    ]
    assert [e.step for e in log.events] == [1, 2, 3]  # the guard's own events keep its steps
    log.close()  # the shared log stays open for the other guards
    log.write(Event(step=0, signal="nonfinite", action="skip", message="x"))
    sink.close()
    assert [r["step"] for r in read_events(tmp_path / "e.jsonl")] == [3, 5, 40, 1]


def test_old_steps_are_forgotten():
    log = TrainerSteps(EventLog(None, console=None), lambda: 0)
    for s in range(100):
        log.begin(s, 2 * s, keep=10)
    assert len(log.steps) <= 21 and log.steps[99] == 198 and min(log.steps) >= 79
