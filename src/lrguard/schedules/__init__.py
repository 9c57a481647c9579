"""Schedules: pure functions from configuration to planned LR per group, iteration and logged row.

- :mod:`~lrguard.schedules.lambdas`: ``lf(x)`` multipliers (linear, cosine).
- :mod:`~lrguard.schedules.warmup`: warmup length and ramp.
- :mod:`~lrguard.schedules.spec`: :class:`ScheduleSpec`, the inputs.
- :mod:`~lrguard.schedules.curve`: planned curves per iteration / per results.csv row / sessions.
- :mod:`~lrguard.schedules.fit`: inverse problems (implied epochs, lr0, nb).
"""

from lrguard.schedules.curve import SessionPlan, iteration_lr, logged_lr, logged_lr_sessions
from lrguard.schedules.spec import ScheduleSpec

__all__ = ["ScheduleSpec", "SessionPlan", "iteration_lr", "logged_lr", "logged_lr_sessions"]
