"""Departures of the logged LR from its plan, one small rule per mechanism, tried in a declared order.

Diagnosis cuts a lineage's post-warmup rows into stretches (:mod:`.stretch`) and, for every step
between two stretches, asks the rules of :data:`RULES` in order; the first that explains the step
wins. The order matters where two mechanisms share a signature: a fresh optimizer (row at ``lr0``,
new curve) is tried before the scheduler built after the load (row at ``lr0``, old curve), and the
"N more epochs" extension before a plain change of epochs. The last rule always concludes.
"""

from __future__ import annotations

from lrguard.diagnosis.departures import (
    finetune_extension,
    no_optimizer_state,
    scheduler_after_load,
    settings_changed,
    unexplained,
)
from lrguard.diagnosis.departures.step import Outcome, Rule, Step

RULES: tuple[Rule, ...] = (
    no_optimizer_state.rule,
    scheduler_after_load.rule,
    finetune_extension.rule,
    settings_changed.config_now_followed,
    settings_changed.config_not_followed,
    unexplained.rule,
)


def explain(step: Step) -> Outcome:
    """The outcome of the first rule of :data:`RULES` that explains ``step``."""
    for rule in RULES:
        outcome = rule(step)
        if outcome is not None:
            return outcome
    return Outcome()  # unreachable: the last rule always concludes


__all__ = ["RULES", "Outcome", "Rule", "Step", "explain"]
