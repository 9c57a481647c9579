"""Choose the trainer version's maths when the files leave several candidates: keep the one the rows follow.

The reader lists the profiles the files allow (:mod:`lrguard.trainers.infer`). When more than one is
left, each is tried: the plan is rebuilt under its rules (warmup floor or none, one-epoch logging lag or
none, bias group position, epoch base) and compared with every logged row. A less likely candidate
(listed later) replaces a likelier one only when it explains clearly more rows (:data:`MIN_MARGIN_ROWS`,
:data:`MARGIN_SHARE`); otherwise the likelier one stays. A long warmup produced by the
100-iteration floor on a small dataset is then explained by the versions that have the floor, instead
of reading as a string of edits under the versions that do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lrguard.diagnosis.context import Context, build_context
from lrguard.model import Run

# How many more rows a less likely candidate must explain to be chosen instead (the larger of the two).
MIN_MARGIN_ROWS = 3
MARGIN_SHARE = 0.02


@dataclass
class VersionChoice:
    """Which profile the diagnosis used and why.

    Attributes:
        profile: Name of the chosen profile.
        label: Its human description.
        recorded: True when a checkpoint, ``--framework-version`` or ``--profile`` named it.
        evidence: The facts from the files (one line each).
        tested: For each candidate tried against the rows: ``profile``, ``rows_explained``, ``rows``.
    """

    profile: str
    label: str
    recorded: bool
    evidence: list[str] = field(default_factory=list)
    tested: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: the choice and the reason."""
        head = f"{self.label}"
        if self.recorded:
            return head + ": " + "; ".join(self.evidence)
        why = "; ".join(self.evidence) if self.evidence else "nothing records the version"
        if len(self.tested) > 1:
            scores = ", ".join(f"{t['profile']} {t['rows_explained']}/{t['rows']}" for t in self.tested)
            why += (
                f"; rows explained when tested against the log: {scores} (a less likely version must explain "
                "clearly more rows to be chosen)"
            )
        return f"{head} (inferred: {why})"

    def to_json(self) -> dict[str, Any]:
        """Plain values for the JSON report."""
        return {
            "profile": self.profile,
            "recorded": self.recorded,
            "evidence": list(self.evidence),
            "candidates_tested": list(self.tested),
            "summary": self.summary,
        }


def rows_explained(ctx: Context) -> int:
    """Rows whose logged LR matches the plan in every group, at the CSV's precision."""
    obs = ctx.run.lr
    plan = ctx.planned[:, : obs.shape[1]]
    scale = np.maximum(np.maximum(np.abs(obs), np.abs(plan)), 1e-12)
    with np.errstate(invalid="ignore"):
        ok = (np.abs(obs - plan) <= 3 * ctx.tol * scale) | ~np.isfinite(obs)
    finite_row = np.isfinite(obs).any(axis=1)
    return int(np.sum(ok.all(axis=1) & finite_row))


def choose_profile(run: Run) -> tuple[VersionChoice, Context]:
    """Pick the profile for ``run`` among its candidates and return the choice with its context.

    ``run.profile_name`` is set to the chosen profile.
    """
    names = run.profile_candidates or [run.profile_name]
    recorded = run.profile_recorded
    if len(names) == 1:
        run.profile_name = names[0]
        ctx = build_context(run)
        prof = ctx.profile
        return VersionChoice(prof.name, prof.label, recorded, list(run.profile_evidence)), ctx
    n = int(np.sum(np.isfinite(run.lr).any(axis=1)))
    margin = max(MIN_MARGIN_ROWS, math.ceil(MARGIN_SHARE * n))
    tried: list[tuple[int, Context]] = []
    best_score, best = -1, None
    for name in names:
        ctx = build_context(replace(run, profile_name=name))
        score = rows_explained(ctx)
        tried.append((score, ctx))
        # A less likely candidate must explain clearly more rows: an edited configuration leaves most
        # rows unexplained under every candidate, and a row or two of difference is chance.
        if best is None or score >= best_score + margin:
            best_score, best = score, ctx
    assert best is not None
    run.profile_name = best.profile.name
    best.run = run
    tested = [{"profile": c.profile.name, "rows_explained": e, "rows": n} for e, c in tried]
    return VersionChoice(best.profile.name, best.profile.label, False, list(run.profile_evidence), tested), best


__all__ = ["VersionChoice", "choose_profile", "rows_explained"]
