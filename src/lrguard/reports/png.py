"""PNG figures (``--png``) with matplotlib, an optional dependency (``pip install 'lrguard[plot]'``).

The same content as the HTML report's charts, for pasting into an issue or a chat: per run the LR
of every group over the planned curve with session boundaries and numbered findings, and the train
losses on the same x axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lrguard.errors import InputError
from lrguard.reports.svgchart import PALETTE, SEVERITY_COLOR

if TYPE_CHECKING:
    from lrguard.diagnosis.result import Diagnosis
    from lrguard.plan.scenario import Plan


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(None, "--png needs matplotlib: pip install 'lrguard[plot]' (or use --html)") from None
    return plt


def _ylim(lr: np.ndarray, bias: int, warm: np.ndarray):
    from lrguard.reports.html import _lr_y_range

    rng, _ = _lr_y_range(lr, bias, warm)
    return rng


def write_png(diagnoses: list[Diagnosis], path: str | Path) -> Path:
    """One column per run: LR (top) and train losses (bottom) on a shared x axis."""
    from lrguard.reports.html import _warmup_rows, _x_axis

    plt = _pyplot()
    n = len(diagnoses)
    fig, axes = plt.subplots(2, n, figsize=(7.5 * n, 6.5), squeeze=False, sharex="col", height_ratios=[3, 2])
    for k, d in enumerate(diagnoses):
        run = d.run
        x, x_label = _x_axis(d)
        ax, axl = axes[0, k], axes[1, k]
        for j in range(run.n_groups):
            ax.plot(
                x,
                run.lr[:, j],
                color=PALETTE[j % len(PALETTE)],
                lw=2.2 if j == d.reference_group else 1.2,
                label=run.lr_columns[j],
            )
        if d.planned.size:
            ax.plot(x, d.planned[:, d.reference_group], "k--", lw=1, label="planned")
        rng = _ylim(run.lr, d.profile.warmup_bias_group, _warmup_rows(d))
        if rng:
            ax.set_ylim(*rng)
        for s in d.sessions[1:]:
            for a in (ax, axl):
                a.axvline(x[s.first_row] - 0.5, color="#7a8699", ls=":", lw=1)
        for i, f in enumerate(d.findings):
            if f.row is None or f.severity.value == "info":
                continue
            c = SEVERITY_COLOR[f.severity.value]
            for a in (ax, axl):
                a.axvline(x[f.row], color=c, lw=1)
            ax.annotate(
                str(i + 1),
                (x[f.row], 1.0),
                xycoords=("data", "axes fraction"),
                ha="center",
                va="bottom",
                color="white",
                fontsize=8,
                bbox={"boxstyle": "circle", "fc": c, "ec": c},
            )
        ax.set_title(f"{run.path.name}: {sum(f.severity.value != 'info' for f in d.findings)} problem(s)", fontsize=10)
        ax.set_ylabel("learning rate")
        ax.legend(fontsize=8, loc="upper right")
        for i, (name, v) in enumerate(run.train_losses.items()):
            axl.plot(x, v, color=PALETTE[(i + 3) % len(PALETTE)], lw=1.2, label=name)
        axl.set_ylabel("train loss")
        axl.set_xlabel(x_label)
        if run.train_losses:
            axl.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def write_plan_png(plan: Plan, path: str | Path) -> Path:
    """Planned LR per group per epoch, with seams and jumps; per-iteration warmup/seam views below."""
    plt = _pyplot()
    views = plan.iterations[:2]
    fig, axes = plt.subplots(1 + len(views), 1, figsize=(9, 3.6 + 2.4 * len(views)), squeeze=False)
    ax = axes[0, 0]
    x = plan.x
    for j in range(plan.lr.shape[1]):
        ax.plot(
            x, plan.lr[:, j], color=PALETTE[j % len(PALETTE)], lw=2.2 if j == plan.ref else 1.2, label=plan.columns[j]
        )
    if plan.observed_rows:
        ax.axvspan(-0.5, plan.observed_rows - 0.5, color="#eef3fa", label="logged by the old run")
    for seg in plan.segments[1:]:
        ax.axvline(x[seg.first_row] - 0.5, color="#7a8699", ls=":", lw=1)
    for jmp in plan.jumps[:10]:
        ax.axvline(x[jmp.row], color=SEVERITY_COLOR["error"], lw=1)
        ax.annotate(
            f"{jmp.rel * 100:+.0f}%",
            (x[jmp.row], jmp.after),
            xytext=(6, 4),
            textcoords="offset points",
            color=SEVERITY_COLOR["error"],
        )
    warm = np.zeros(x.size, dtype=bool)
    rng = _ylim(plan.lr, plan.config.profile.warmup_bias_group, warm)
    if rng:
        ax.set_ylim(*rng)
    ax.set_title(plan.scenario, fontsize=10)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.legend(fontsize=8)
    for i, v in enumerate(views):
        a = axes[1 + i, 0]
        for j in range(v.lr.shape[1]):
            a.plot(v.epochs, v.lr[:, j], color=PALETTE[j % len(PALETTE)], lw=1.4, label=plan.columns[j])
        a.set_title("per iteration: " + v.label, fontsize=9)
        a.set_xlabel("epoch (per iteration)")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
