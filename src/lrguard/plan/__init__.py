"""Plan: preview the LR a configuration will produce, lint it, and build jump-free continuations.

- :mod:`~lrguard.plan.config`: read hyp.yaml / opt.yaml / args.yaml + options into a :class:`PlanConfig`.
- :mod:`~lrguard.plan.scenario`: timelines for a fresh run, a resume with changes, a new run from
  weights and ``time=``, with every planned jump.
- :mod:`~lrguard.plan.lint`: the lint rules.
- :mod:`~lrguard.plan.continuation`: settings for a new run that continues a finished run's curve.
"""

from lrguard.plan.config import PlanConfig, build_config
from lrguard.plan.lint import Lint, lint_plan
from lrguard.plan.scenario import Plan, plan_fresh, plan_from_weights, plan_resume, plan_time

__all__ = [
    "Lint",
    "Plan",
    "PlanConfig",
    "build_config",
    "lint_plan",
    "plan_fresh",
    "plan_from_weights",
    "plan_resume",
    "plan_time",
]
