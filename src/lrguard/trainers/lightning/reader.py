"""Read Lightning ``lightning_logs/version_N/`` directories into a step-counted :class:`~lrguard.model.Run`.

What Lightning 2.6 writes (see ``docs/trainers/lightning.md``):

- ``version_N/``: one directory per ``Trainer`` (each ``fit`` with a new Trainer opens the next
  version), so every version directory after the first is a new session.
- ``metrics.csv`` (``CSVLogger``): columns ``epoch``, ``step`` and one per logged name; the LR
  rows of ``LearningRateMonitor`` (``lr-<Optimizer>``, ``lr-<Optimizer>/pgN`` per group, or the
  name the user gave) leave ``epoch`` empty, the ``training_step`` rows carry it. ``step`` is the
  global step before the optimizer step, so the LR logged at step ``s`` is the one step ``s`` used.
- ``events.out.tfevents.*`` (``TensorBoardLogger``): the same scalars, read when no CSV is there.
- ``hparams.yaml``: ``save_hyperparameters()`` of the module.
- ``checkpoints/*.ckpt``: ``epoch``, ``global_step``, ``optimizer_states`` and ``lr_schedulers``
  (each scheduler's ``state_dict``), read without executing anything.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lrguard import constants as C
from lrguard.errors import InputError, NotARunError
from lrguard.model import Axis, AxisUnit, CheckpointFacts, EvidenceKind, Provenance, Run, SessionEvidence, Table

VERSION_DIR = re.compile(r"^version_(\d+)$")
METRICS = "metrics.csv"
HPARAMS = "hparams.yaml"
#: LR names: LearningRateMonitor's ``lr-<Optimizer>[/pgN]`` and the usual custom names.
LR_NAME = re.compile(r"^(lr-.+|lr|learning_rate|lr_.+)$")
#: Training-loss names, most specific first (``self.log("train_loss", on_step=True)`` and friends).
LOSS_NAMES = ("train_loss_step", "train_loss", "loss", "train/loss")


def version_dirs(path: Path) -> list[Path]:
    """The version directories ``path`` stands for, by N.

    ``path`` itself when it is one, else its ``version_*`` children, else those of its
    ``lightning_logs/``; empty when none holds a metrics.csv, an event file or a checkpoint.
    """
    try:
        if not path.is_dir():
            return []
        if VERSION_DIR.match(path.name) and _has_files(path):
            return [path]
        for base in (path, path / "lightning_logs"):
            found = [
                (int(m.group(1)), p)
                for p in (base.iterdir() if base.is_dir() else ())
                if (m := VERSION_DIR.match(p.name)) and p.is_dir() and _has_files(p)
            ]
            if found:
                return [p for _, p in sorted(found)]
    except OSError:
        return []
    return []


def _has_files(d: Path) -> bool:
    return (d / METRICS).is_file() or any(d.glob(C.TFEVENTS_PREFIX + "*")) or any((d / "checkpoints").glob("*.ckpt"))


def recognises(path: Path) -> bool:
    """A ``version_N`` directory, or a directory holding several (``lightning_logs``)."""
    return bool(version_dirs(path))


@dataclass
class _Session:
    """The rows one version directory contributes."""

    source: Path
    steps: list[int] = field(default_factory=list)
    lr: list[list[float]] = field(default_factory=list)
    loss: dict[int, float] = field(default_factory=dict)
    epoch: dict[int, int] = field(default_factory=dict)
    lr_names: list[str] = field(default_factory=list)


def _float(cell: str | None) -> float | None:
    if cell is None or cell.strip() == "":
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _read_csv(path: Path) -> _Session:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            header = list(rows[0].keys()) if rows else []
    except OSError as exc:
        raise InputError.from_os_error(exc) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"is not a CSVLogger metrics.csv ({exc})") from None
    out = _Session(path)
    out.lr_names = [c for c in header if c and LR_NAME.match(c)]
    loss_col = next((n for n in LOSS_NAMES if n in header), None)
    for row in rows:
        step = _float(row.get("step"))
        if step is None:
            continue
        s = int(step)
        lrs = [_float(row.get(c)) for c in out.lr_names]
        if out.lr_names and any(v is not None for v in lrs):
            out.steps.append(s)
            out.lr.append([math.nan if v is None else v for v in lrs])
        if loss_col is not None and (v := _float(row.get(loss_col))) is not None:
            out.loss[s] = v
        if (e := _float(row.get("epoch"))) is not None:
            out.epoch.setdefault(s, int(e))
    return out


def _read_tb(d: Path) -> _Session | None:
    from lrguard.readers.tfevents import read_scalars

    files = sorted(d.glob(C.TFEVENTS_PREFIX + "*"))
    if not files:
        return None
    log = read_scalars(files)
    out = _Session(files[0])
    out.lr_names = [t for t in log.scalars if LR_NAME.match(t)]
    if not out.lr_names:
        return out
    by_step: dict[int, list[float]] = {}
    for j, name in enumerate(out.lr_names):
        sc = log.scalars[name]
        for s, v in zip(sc.step.tolist(), sc.value.tolist(), strict=True):
            by_step.setdefault(int(s), [math.nan] * len(out.lr_names))[j] = float(v)
    out.steps = sorted(by_step)
    out.lr = [by_step[s] for s in out.steps]
    loss = next((log.scalars[n] for n in LOSS_NAMES if n in log.scalars), None)
    if loss is not None:
        out.loss = {int(s): float(v) for s, v in zip(loss.step.tolist(), loss.value.tolist(), strict=True)}
    if "epoch" in log.scalars:
        ep = log.scalars["epoch"]
        out.epoch = {int(s): int(v) for s, v in zip(ep.step.tolist(), ep.value.tolist(), strict=True)}
    return out


def checkpoint_facts(ckpt: Path, notes: list[str]) -> CheckpointFacts | None:
    """The plain facts of one ``.ckpt``: step, epoch, optimizer LRs and the scheduler state.

    ``train_args`` holds ``hyper_parameters`` plus ``lr_schedulers`` (the scheduler state dicts),
    ``optimizer_states`` (param groups without their tensors) and ``global_step``.
    """
    from lrguard.checkpoint.archive import load
    from lrguard.checkpoint.facts import as_dict, param_groups

    try:
        root = load(ckpt).root
    except InputError as exc:
        notes.append(f"{exc.one_line()}: checkpoint skipped")
        return None
    d = as_dict(root) or {}
    groups = param_groups(root)
    scheds = [as_dict(s) or {} for s in d.get(C.LIGHTNING_SCHEDULERS) or []]
    hp = as_dict(d.get(C.LIGHTNING_HPARAMS)) or {}
    args: dict[str, Any] = {str(k): v for k, v in hp.items() if isinstance(v, str | int | float | bool | type(None))}
    gs = d.get("global_step")
    epoch = d.get("epoch")
    args["global_step"] = gs
    logged = _logged_step(d)
    if logged is not None and logged != gs:
        args["logged_step"] = logged  # manual optimization with several optimizers: gs counts each one's steps
    n_opt = len(d.get(C.LIGHTNING_OPTIMIZERS) or [])
    if n_opt > 1:
        args["optimizers"] = n_opt
        args["optimizer_param_groups"] = [
            [{str(k): v for k, v in g.items() if k != "params"} for g in (as_dict(o) or {}).get("param_groups") or []]
            for o in d[C.LIGHTNING_OPTIMIZERS]
        ]
    args[C.LIGHTNING_SCHEDULERS] = [_plain(s) for s in scheds]
    args["param_groups"] = [{str(k): v for k, v in g.items() if k != "params"} for g in groups]
    return CheckpointFacts(
        path=ckpt,
        epoch=epoch if isinstance(epoch, int) else None,
        has_optimizer=bool(groups),
        lrs=tuple(float(g["lr"]) for g in groups if isinstance(g.get("lr"), int | float)),
        version=str(d.get(C.LIGHTNING_VERSION_KEY)) if d.get(C.LIGHTNING_VERSION_KEY) else None,
        train_args=args,
        step=logged if logged is not None else gs if isinstance(gs, int) else None,
    )


def _logged_step(d: dict[Any, Any]) -> int | None:
    """The step the loggers wrote at the checkpoint (the fit loop's batches that stepped), if saved."""
    from lrguard.checkpoint.facts import as_dict

    loops = as_dict(d.get(C.LIGHTNING_LOOPS)) or {}
    fit = as_dict(loops.get(C.LIGHTNING_FIT_LOOP)) or {}
    state = as_dict(fit.get(C.LIGHTNING_EPOCH_LOOP_STATE)) or {}
    n = state.get(C.LIGHTNING_BATCHES_STEPPED)
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def _plain(obj: Any) -> Any:
    """Scheduler state as plain values (lists, dicts, numbers, strings)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, str | int | float | bool | type(None)):
        return obj
    return repr(obj)


def newest_checkpoint(d: Path) -> Path | None:
    """``last.ckpt`` of a version directory, else its newest ``*.ckpt``."""
    ck = d / "checkpoints"
    if (ck / "last.ckpt").is_file():
        return ck / "last.ckpt"
    found = sorted(ck.glob("*.ckpt"), key=lambda p: p.stat().st_mtime) if ck.is_dir() else []
    return found[-1] if found else None


def read_lightning_run(path: Path) -> Run:
    """Read the version directory (or the ``lightning_logs`` holding several) at ``path``.

    Raises:
        NotARunError: No version directory here.
        InputError: No version directory logs an LR (add ``LearningRateMonitor``).
    """
    dirs = version_dirs(path)
    if not dirs:
        raise NotARunError(path, "no lightning_logs/version_N directory here")
    notes: list[str] = []
    sessions: list[_Session] = []
    facts: list[CheckpointFacts] = []
    session_ckpt: list[CheckpointFacts | None] = []
    for d in dirs:
        got: _Session | None = _read_csv(d / METRICS) if (d / METRICS).is_file() else None
        if got is None or not got.lr_names:
            tb = _read_tb(d)
            got = tb if tb is not None and tb.lr_names else got
        newest = newest_checkpoint(d)
        last_fact = None
        for ck in sorted((d / "checkpoints").glob("*.ckpt")) if (d / "checkpoints").is_dir() else ():
            f = checkpoint_facts(ck, notes)
            if f is not None:
                facts.append(f)
                if ck == newest:
                    last_fact = f
        if got is None or not got.steps:
            notes.append(f"{d.name}: no LR logged (add LearningRateMonitor(logging_interval='step'))")
            continue
        sessions.append(got)
        session_ckpt.append(last_fact)
    if not sessions:
        raise InputError(dirs[0], "no version directory logs an LR: add LearningRateMonitor(logging_interval='step')")
    names = sessions[0].lr_names
    n_groups = max(len(s.lr_names) for s in sessions)
    steps_l: list[int] = []
    lr_l: list[list[float]] = []
    loss_l: list[float] = []
    epoch_l: list[float] = []
    file_of_row: list[int] = []
    evidence: list[SessionEvidence] = []
    for k, s in enumerate(sessions):
        if k > 0:
            evidence.append(
                SessionEvidence(len(steps_l), EvidenceKind.NEW_LOG_DIR, f"a new Trainer logs to {s.source.parent.name}")
            )
        for step, lrs in zip(s.steps, s.lr, strict=True):
            steps_l.append(step)
            lr_l.append(lrs + [math.nan] * (n_groups - len(lrs)))
            loss_l.append(s.loss.get(step, math.nan))
            epoch_l.append(float(s.epoch[step]) if step in s.epoch else math.nan)
            file_of_row.append(k)
    steps = np.array(steps_l, dtype=np.int64)
    lr = np.array(lr_l, dtype=float)
    loss = np.array(loss_l, dtype=float)
    whole = np.array(epoch_l, dtype=float)
    spe = _steps_per_epoch(facts, steps, whole)
    epoch_f = (steps + 1) / spe if spe else whole + 1
    if len(sessions) > 1:
        notes.append(f"{len(sessions)} version directories: one Trainer each")
    series = {"loss": loss} if any(sess.loss for sess in sessions) else {}
    missing_loss = np.array([s not in sess.loss for sess in sessions for s in sess.steps])
    table = Table(
        path=sessions[-1].source,
        columns=["step", "epoch", *names, *series],
        values={"step": steps.astype(float), "epoch": whole, **{n: lr[:, j] for j, n in enumerate(names)}, **series},
        line_numbers=np.arange(1, len(steps) + 1),
        missing={"loss": missing_loss} if series else {},
    )
    config: dict[str, Any] = {"steps_per_epoch": spe, "lr_columns": names}
    last = next((f for f in reversed(session_ckpt) if f is not None), None)
    if last is not None:
        config.update(last.train_args)
    config.update(_scheduler_counters(last))
    config["session_checkpoints"] = [f.train_args if f is not None else None for f in session_ckpt]
    files = {"metrics": sessions[-1].source}
    if (sessions[-1].source.parent / HPARAMS).is_file():
        files["hparams"] = sessions[-1].source.parent / HPARAMS
    return Run(
        path=path,
        framework="lightning",
        framework_version=last.version if last is not None else None,
        profile_name="lightning",
        table=table,
        epochs=np.nan_to_num(whole, nan=0).astype(int) if not spe else (steps // spe).astype(int),
        lr=lr,
        lr_columns=list(names),
        train_losses=dict(series),
        val_losses={},
        time=None,
        config=config,
        hyp=dict(config),
        checkpoints=facts,
        session_starts=sorted({e.row for e in evidence}),
        notes=notes,
        files=files,
        axis=Axis(AxisUnit.STEP, steps, spe, epoch_f),
        group_names=[n.split("/", 1)[-1] if "/" in n else n for n in names]
        + [f"group {j}" for j in range(len(names), n_groups)],
        series=series,
        evidence=evidence,
        provenance=Provenance(tuple(s.source for s in sessions), np.array(file_of_row, dtype=np.int64), steps, "step"),
    )


def _steps_per_epoch(facts: list[CheckpointFacts], steps: np.ndarray, whole: np.ndarray) -> int | None:
    """Optimizer steps per epoch: from an end-of-epoch checkpoint, else from the logged epochs."""
    for f in facts:
        gs = f.train_args.get("logged_step", f.train_args.get("global_step"))
        if isinstance(gs, int) and f.epoch is not None and gs > 0 and gs % (f.epoch + 1) == 0:
            return gs // (f.epoch + 1)
    ok = np.isfinite(whole) & (whole > 0)
    if ok.any():
        i = int(np.nonzero(ok)[0][0])
        first = steps[(whole == whole[i])].min() if np.isfinite(whole[i]) else 0
        return max(int(first // whole[i]), 1) if whole[i] else None
    return None


def _scheduler_counters(last: CheckpointFacts | None) -> dict[str, int]:
    """The trainer-neutral scheduler counters the interval rule reads (empty when unknown)."""
    if last is None or not last.train_args.get(C.LIGHTNING_SCHEDULERS):
        return {}
    state = last.train_args[C.LIGHTNING_SCHEDULERS][0]
    length = state.get("total_steps", state.get("T_max"))
    out = {"scheduler_length": length, "scheduler_steps": state.get("last_epoch"), "optimizer_steps": last.step}
    if last.epoch is not None:
        out["epochs_done"] = last.epoch + 1
    return {k: v for k, v in out.items() if isinstance(v, int) and not isinstance(v, bool)}
