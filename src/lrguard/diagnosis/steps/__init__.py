"""Diagnosis of step-counted runs (HF Trainer, Lightning, TensorBoard logs): small rules over a timeline.

:func:`diagnose_steps` builds the public :class:`~lrguard.diagnosis.steps.timeline.Timeline` once
(sessions, the planned curve when the trainer can rebuild it, the warmup mask) and tries every rule
of :data:`~lrguard.diagnosis.steps.rules.RULES` in their declared order; each rule is a module with
``applies(timeline)`` and ``explain(timeline)``. The per-step judgements come from
:mod:`lrguard.signals`, the same functions the live guard calls.
"""

from __future__ import annotations

from lrguard.diagnosis.steps.run import diagnose_steps

__all__ = ["diagnose_steps"]
