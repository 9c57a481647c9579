"""The step rules, one module per mechanism, in the order they are tried.

A rule module has ``applies(timeline) -> bool`` (cheap: does the run have what the rule reads?) and
``explain(timeline) -> list[Finding]``. Order matters only for the report: findings are sorted by row
afterwards.
"""

from __future__ import annotations

from . import interval, nonfinite, off_plan, past_end, restart_previous, restart_session, resume, spikes

RULES = (nonfinite, restart_previous, resume, restart_session, past_end, interval, off_plan, spikes)

__all__ = ["RULES"]
