"""Settings for a NEW run that continues a finished (or interrupted) run's LR curve without a jump.

A plain "train more from last.pt" restarts the schedule: warmup again (bias group back at
``warmup_bias_lr`` = 0.1) and the weight groups back at ``lr0``, 10-1000x the LR the run ended at
(mechanism M2). The continuation instead starts at the LR where the run stopped, decays to where the
user wants it to end (default: the original final LR), turns warmup off and names the optimizer:

- YOLOv5 hard-codes at least 100 warmup iterations (``nw = max(round(warmup_epochs * nb), 100)``),
  so ``warmup_epochs: 0`` cannot switch it off: the bias group is kept flat with
  ``warmup_bias_lr = lr0`` and ``warmup_momentum = momentum``; the weight groups ramp from 0 to
  lr0 over those 100 iterations, which is below, never above, the old LR.
- Ultralytics: ``warmup_epochs=0`` switches warmup off; ``optimizer=auto`` would choose again
  (and ignore lr0), so the optimizer the run used is written explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from lrguard.diagnosis.result import Diagnosis
from lrguard.errors import InputError
from lrguard.model import Cause
from lrguard.plan.config import PlanConfig
from lrguard.plan.scenario import Plan, Segment, find_jumps
from lrguard.schedules.curve import logged_lr
from lrguard.schedules.spec import ScheduleSpec
from lrguard.trainers import get_trainer


@dataclass
class Continuation:
    """A continuation recipe.

    Attributes:
        framework: Name of the trainer (its registry key).
        run_path: The run being continued.
        weights: Checkpoint the new run starts from.
        lr_last: LR the run's reference group trained its last epoch with.
        lr_end: LR the new run ends at.
        epochs: Epochs of the new run.
        settings: The values written to the file (a complete YOLOv5 hyp, or Ultralytics overrides).
        file_name: Suggested file name.
        optimizer: Optimizer named in the command / file.
        cos_lr: Schedule shape of the new run.
        finished: Whether the old run reached its planned end.
        notes: Caveats.
        plan: Old logged curve joined with the new planned one.
        warnings: Reasons to look twice before training it (``lrguard continue`` exits 1 with them).
    """

    framework: str
    run_path: Path
    weights: Path
    lr_last: float
    lr_end: float
    epochs: int
    settings: dict[str, Any]
    file_name: str
    optimizer: str
    cos_lr: bool
    finished: bool
    notes: list[str] = field(default_factory=list)
    plan: Plan | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def lr0(self) -> float:
        """The new run's lr0."""
        return float(self.settings["lr0"])

    @property
    def lrf(self) -> float:
        """The new run's lrf."""
        return float(self.settings["lrf"])

    def command(self, path: str | Path) -> str:
        """The exact command that trains the continuation with the settings written to ``path``."""
        return get_trainer(self.framework).continuation_command(self, path)

    _run_config: dict[str, Any] = field(default_factory=dict, repr=False)

    def yaml_text(self) -> str:
        """The file content, with a header that says what it is for."""
        head = (
            f"# lrguard continue: a new run from {self.weights}\n"
            f"# that starts at the LR the run ended at ({self.lr_last:.6g}) and ends at {self.lr_end:.6g},\n"
            "# without warmup" + get_trainer(self.framework).continuation_header() + ".\n"
        )
        return head + yaml.safe_dump(self.settings, sort_keys=False)


def _last_finite(v: np.ndarray) -> tuple[int, float]:
    idx = np.nonzero(np.isfinite(v) & (v > 0))[0]
    if idx.size == 0:
        raise InputError(None, "the run has no finite positive learning rate to continue from")
    return int(idx[-1]), float(v[idx[-1]])


def _check_not_diverged(d: Diagnosis) -> list[str]:
    """Refuse a run whose training diverged; return warnings for one that diverged and recovered.

    A NaN/inf train loss on the last logged row means the weights the continuation would start from
    hold NaN/inf: there is no LR curve worth continuing, and the LR it "ended at" is meaningless.

    Raises:
        InputError: The run's last row still has a non-finite train loss or LR.
    """
    found = next((f for f in d.findings if f.cause is Cause.NONFINITE), None)
    if found is None:
        return []
    run = d.run
    last = [float(v[-1]) for v in run.train_losses.values()] + [float(x) for x in run.lr[-1]]
    line = int(run.table.line_numbers[found.row]) if found.row is not None else None
    where = f"line {line}, epoch {found.epoch}" if line is not None else f"epoch {found.epoch}"
    if not all(math.isfinite(v) for v in last):
        raise InputError(
            run.path,
            f"the run diverged (non-finite loss or LR from {where} to its last row): its weights are not worth "
            "continuing and its last LR is no schedule to follow; fix the instability (lower lr0, check the data) "
            "and train again from a checkpoint saved before the divergence",
        )
    return [
        f"the run had non-finite losses at {where} and recovered: check that the weights are sound before continuing"
    ]


def _check_weights(path: Path, explicit: bool, notes: list[str]) -> None:
    """Refuse a checkpoint that cannot be read; note a missing default one."""
    if not path.exists():
        if explicit:
            raise InputError(path, "no such checkpoint (--weights)")
        notes.append(f"{path} does not exist here: the command names it as the run left it; adjust --weights")
        return
    from lrguard.checkpoint import read_facts

    try:
        read_facts(path)
    except InputError as exc:
        raise InputError(
            path, f"{exc.problem}: cannot continue from it (pass --weights with an intact checkpoint)"
        ) from None


def build_continuation(
    d: Diagnosis, epochs: int, lr_end: float | None = None, weights: str | Path | None = None
) -> Continuation:
    """Compute the continuation of the diagnosed run ``d``.

    Args:
        d: Diagnosis of the run to continue.
        epochs: Epochs of the new run.
        lr_end: LR the new run should end at (default: the original schedule's final LR, or the LR
            where the run stopped if that is already lower).
        weights: Checkpoint to start from (default ``RUN/weights/last.pt``).

    Raises:
        InputError: ``epochs`` < 1, nothing to continue from, the run diverged (NaN/inf at its end) or
            the checkpoint to start from cannot be read.
    """
    if epochs < 1:
        raise InputError(None, f"--epochs must be at least 1, got {epochs}")
    run = d.run
    ref = d.reference_group
    notes: list[str] = []
    warnings = _check_not_diverged(d)
    last_row, lr_last = _last_finite(run.lr[:, ref])
    spec = d.epoch_spec
    scale = d.profile.lr_scale(ref)
    original_end = spec.lr0 * spec.lrf * scale
    if lr_end is None:
        lr_end = min(original_end, lr_last)
        if original_end > lr_last:
            notes.append(
                f"the run already ended below its planned final LR {original_end:.6g}; the new run stays at {lr_last:.6g}"
            )
    if lr_end <= 0 or not math.isfinite(lr_end):
        raise InputError(None, f"--lr-end must be a positive number, got {lr_end}")
    if lr_end > lr_last:
        notes.append(
            f"--lr-end {lr_end:.6g} is above the LR the run ended at ({lr_last:.6g}): the LR will rise during the new run"
        )
    lrf = lr_end / lr_last
    lr0 = lr_last / scale  # boosted groups (MuSGD x3) are set from lr0 by the trainer
    final_idx = int(run.epochs[last_row] - d.profile.epoch_base)
    finished = final_idx >= spec.epochs - 1
    if not finished:
        notes.append(
            f"the run stopped at epoch {int(run.epochs[last_row])} of {spec.epochs}: `--resume` continues it on its "
            "own curve; this recipe starts a new run instead (fresh optimizer state and EMA)"
        )
    weights_path = Path(weights) if weights else run.path / "weights" / "last.pt"
    _check_weights(weights_path, weights is not None, notes)
    parts = get_trainer(run.framework).continuation_parts(d, lr0, lrf, int(epochs))
    notes.extend(parts.notes)
    cont = Continuation(
        framework=run.framework,
        run_path=run.path,
        weights=weights_path,
        lr_last=lr_last,
        lr_end=float(lr_end),
        epochs=int(epochs),
        settings=parts.settings,
        file_name=parts.file_name,
        optimizer=parts.optimizer,
        cos_lr=bool(spec.cos_lr),
        finished=finished,
        notes=notes,
        warnings=warnings,
    )
    cont._run_config = dict(run.config)
    cont.plan = joined_plan(d, cont)
    return cont


def joined_plan(d: Diagnosis, cont: Continuation) -> Plan:
    """The old run's logged LR followed by the continuation's planned LR (x = training epochs)."""
    run = d.run
    prof = d.profile
    new_spec = ScheduleSpec(
        lr0=cont.lr0,
        lrf=cont.lrf,
        epochs=cont.epochs,
        cos_lr=cont.cos_lr,
        warmup_epochs=0.0,
        warmup_bias_lr=float(cont.settings["warmup_bias_lr"]),
        nb=d.epoch_spec.nb,
    )
    old = run.lr
    new = logged_lr(new_spec, prof, np.arange(cont.epochs), run.n_groups)
    n_old = old.shape[0]
    x = np.arange(n_old + cont.epochs)
    label = np.concatenate([run.epochs, np.arange(cont.epochs) + prof.epoch_base])
    batch = run.config.get("batch_size", run.config.get("batch", 16))
    cfg = PlanConfig(
        framework=cont.framework,
        profile=prof,
        spec=new_spec,
        optimizer=cont.optimizer,
        batch=int(batch) if isinstance(batch, int | float) and batch > 0 else 16,
    )
    segs = [
        Segment("start", 0, n_old - 1, 0, d.epoch_spec, f"the old run as logged: {run.path}"),
        Segment(
            "from-weights",
            n_old,
            n_old + cont.epochs - 1,
            0,
            new_spec,
            f"continuation: lr0 {cont.lr0:.6g} -> {cont.lr_end:.6g} over {cont.epochs} epochs, warmup off",
        ),
    ]
    plan = Plan(
        cfg,
        f"continue {run.path.name} for {cont.epochs} epochs from LR {cont.lr_last:.6g}",
        x,
        label,
        np.vstack([old, new]),
        segs,
        observed_rows=n_old,
    )
    plan.jumps = [j for j in find_jumps(plan) if j.row >= n_old]
    return plan


# Lints that judge a from-scratch schedule; a continuation turns warmup off on purpose.
NOT_FOR_CONTINUATIONS = frozenset(
    {"warmup-floor", "warmup-short", "warmup-long", "warmup-off", "lr0-range", "lrf-range"}
)


def lint_continuation(cont: Continuation) -> list:
    """Lint the joined plan, keeping the rules that apply to a continuation (jumps, cosine, ...)."""
    from lrguard.plan.lint import lint_plan

    if cont.plan is None:
        return []
    kept = [x for x in lint_plan(cont.plan) if x.rule not in NOT_FOR_CONTINUATIONS]
    cont.plan.lints = kept
    return kept


def write_continuation(cont: Continuation, out: str | Path | None, explicit: bool) -> Path:
    """Write the settings file; return its path.

    Args:
        cont: The recipe.
        out: A file or a directory (default: the current directory).
        explicit: Whether the user named ``out``; without it lrguard refuses to write into the run
            directory. A path that does not exist and does not end in ``.yaml``/``.yml`` is a directory.

    Raises:
        InputError: The target is inside the run directory and was not named explicitly, or exists
            as something else than a file.
    """
    target = Path(out) if out else Path.cwd()
    as_dir = out and (
        str(out).endswith(("/", "\\")) or (not target.exists() and target.suffix.lower() not in (".yaml", ".yml"))
    )
    if target.is_dir() or as_dir:
        target = target / cont.file_name
    try:
        inside = target.resolve().is_relative_to(cont.run_path.resolve())
    except OSError:
        inside = False
    if inside and not explicit:
        raise InputError(target, "is inside the run directory; name it with --out if you really want it there")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(cont.yaml_text(), encoding="utf-8")
    return target
