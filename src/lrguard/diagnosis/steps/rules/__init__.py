"""The step rules, one module per mechanism, in the order they are tried.

A rule module has ``applies(timeline) -> bool`` (cheap: does the run have what the rule reads?) and
``explain(timeline) -> list[Finding]``. Order matters only for the report: findings are sorted by row
afterwards.
"""

from __future__ import annotations

from . import nonfinite, off_plan, past_end, restart, resume, spikes

RULES = (nonfinite, restart, resume, past_end, off_plan, spikes)

__all__ = ["RULES"]
