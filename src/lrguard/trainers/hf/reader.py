"""Read an HF Trainer ``output_dir`` into a step-counted :class:`~lrguard.model.Run`.

What the Trainer writes (observed on transformers 4.48.3, see ``docs/trainers/hf.md``):

- ``checkpoint-N/trainer_state.json``: ``global_step``, ``max_steps``, ``num_train_epochs``,
  ``logging_steps`` and ``log_history``, one entry per logging step: ``step`` (the global step after
  the optimizer step, 1-based), ``epoch`` (fractional), ``learning_rate`` (the LR that step used),
  ``loss``, ``grad_norm``; evaluation entries carry ``eval_*`` keys instead. A resumed ``train()``
  restores the history of the checkpoint it resumed from, so the newest checkpoint holds the whole
  lineage. NaN is written as a bare ``NaN`` (not strict JSON).
- ``checkpoint-N/training_args.bin``: the pickled ``TrainingArguments`` (read without executing it).
- ``runs/<date>_<host>/events.out.tfevents.*``: one TensorBoard directory per ``train()`` call,
  which is how a session boundary shows when the JSON history hides it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lrguard import constants as C
from lrguard.errors import InputError, NotARunError
from lrguard.model import (
    Axis,
    AxisUnit,
    CheckpointFacts,
    EvidenceKind,
    PreviousRun,
    PreviousRunSource,
    Provenance,
    Run,
    SessionEvidence,
    Table,
)
from lrguard.trainers.hf.layout import CHECKPOINT_DIR, checkpoint_dirs

#: Series read from the training entries of ``log_history`` besides the LR.
SERIES = ("loss", "grad_norm")


def _load_state(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError.from_os_error(exc) from None
    except UnicodeDecodeError:
        raise InputError(path, "is not UTF-8 text (not a trainer_state.json)") from None
    try:
        state = json.loads(text)  # accepts the bare NaN / Infinity the Trainer writes
    except json.JSONDecodeError as exc:
        raise InputError(path, f"is not complete JSON ({exc.msg} at line {exc.lineno}); still being written?") from None
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise InputError(path, "has no log_history list: not an HF trainer_state.json")
    return state


def _training_args(ckpt: Path, notes: list[str]) -> dict[str, Any]:
    path = ckpt / C.HF_TRAINING_ARGS
    if not path.is_file():
        notes.append(f"{ckpt.name}/{C.HF_TRAINING_ARGS} missing: schedule settings from trainer_state.json only")
        return {}
    from lrguard.checkpoint.archive import load
    from lrguard.checkpoint.facts import as_dict

    try:
        values = as_dict(load(path).root) or {}
    except InputError as exc:
        notes.append(f"{exc.one_line()}: schedule settings from trainer_state.json only")
        return {}
    return {str(k): v for k, v in values.items() if isinstance(v, str | int | float | bool | type(None) | dict)}


def _tb_session_starts(root: Path, steps: np.ndarray, notes: list[str]) -> list[SessionEvidence]:
    """A session starts at the first row of every TensorBoard directory after the first one."""
    from lrguard.readers.tfevents import read_event_steps

    firsts = []
    for d in sorted(p for p in (root / "runs").glob("*") if p.is_dir()):
        files = sorted(d.glob(C.TFEVENTS_PREFIX + "*"))
        # HF writes its arguments as a text summary at step 0 of every directory: scalars start at 1
        got = [s for f in files for s in read_event_steps(f).steps if s > 0]
        if got:
            firsts.append((min(got), d.name))
    out = []
    for first_step, name in firsts[1:]:
        hits = np.nonzero(steps == first_step)[0]
        if hits.size and int(hits[-1]) > 0:
            out.append(
                SessionEvidence(int(hits[-1]), EvidenceKind.NEW_LOG_DIR, f"a new train() call logs to runs/{name}")
            )
    if len(firsts) > 1:
        notes.append(f"{len(firsts)} TensorBoard directories under runs/: one train() call each")
    return out


LR_TAG, LOSS_TAG = "train/learning_rate", "train/loss"


def _previous_train(root: Path, steps: np.ndarray, lr: np.ndarray, notes: list[str]) -> PreviousRun | None:
    """An earlier ``train()`` in ``runs/`` that the lineage in trainer_state.json does not contain.

    The lineage is a fresh start (its first step is 1) logged by the newest TensorBoard directory
    that starts at step 1 with the same LR; any directory before that one belongs to an earlier run
    (a new ``train()`` without ``resume_from_checkpoint`` in the same output_dir). Returns its last
    step, LR and loss and the first loss of the earliest directory, or ``None``.
    """
    from lrguard.errors import LrguardError
    from lrguard.readers.tfevents import read_scalars

    if steps.size == 0 or int(steps[0]) > 1:
        return None
    logs = []
    for d in sorted(p for p in (root / "runs").glob("*") if p.is_dir()):
        try:
            log = read_scalars(d, tags=[LR_TAG, LOSS_TAG])
        except LrguardError:
            continue
        if LR_TAG in log.scalars and len(log.scalars[LR_TAG]):
            logs.append((d, log))
    own = next((k for k in range(len(logs) - 1, -1, -1) if int(logs[k][1].scalars[LR_TAG].step.min()) <= 1), None)
    if not own:
        return None
    first_lr = logs[own][1].scalars[LR_TAG]
    if not np.isclose(first_lr.value[int(np.argmin(first_lr.step))], lr[0], rtol=1e-6, atol=0.0):
        return None
    d, prev = logs[own - 1]
    lrs, losses = prev.scalars[LR_TAG], prev.scalars.get(LOSS_TAG)
    first_losses = logs[0][1].scalars.get(LOSS_TAG)
    why = f"runs/{d.name} logged an earlier train() that the checkpoints' history does not contain"
    notes.append(why)
    return PreviousRun(
        PreviousRunSource.EARLIER_LOG,
        why,
        path=d,
        name=f"runs/{d.name}",
        lr_columns=(LR_TAG,),
        last_lr=(float(lrs.value[-1]),),
        last_step=int(lrs.step[-1]),
        last_loss=float(losses.value[-1]) if losses is not None and len(losses) else None,
        first_loss=float(first_losses.value[0]) if first_losses is not None and len(first_losses) else None,
    )


def read_hf_run(path: Path) -> Run:
    """Read the output_dir (or checkpoint dir) at ``path``.

    Raises:
        NotARunError: No trainer_state.json here.
        InputError: The newest trainer_state.json is unreadable and no older one is.
    """
    notes: list[str] = []
    ckpts = checkpoint_dirs(path)
    candidates = ([path] if (path / C.HF_TRAINER_STATE).is_file() else []) + ckpts[::-1]
    if not candidates:
        raise NotARunError(path, f"no {C.HF_TRAINER_STATE} here or in a checkpoint-N below it")
    state: dict[str, Any] | None = None
    source = candidates[0]
    problems = []
    for cand in candidates:
        try:
            state = _load_state(cand / C.HF_TRAINER_STATE)
            source = cand
            break
        except InputError as exc:
            problems.append(exc.one_line())
    if state is None:
        raise InputError(candidates[0] / C.HF_TRAINER_STATE, "; ".join(problems))
    notes.extend(f"{p}: using the newest readable checkpoint instead" for p in problems)
    entries = [e for e in state["log_history"] if isinstance(e, dict) and "learning_rate" in e and "step" in e]
    if not entries:
        raise InputError(source / C.HF_TRAINER_STATE, "log_history has no training entry with a learning_rate yet")

    def column(key: str) -> np.ndarray:
        return np.array([float(e[key]) if isinstance(e.get(key), int | float) else np.nan for e in entries])

    steps = np.array([int(e["step"]) for e in entries], dtype=np.int64)
    epoch_f = column("epoch")
    lr = column("learning_rate")[:, None]
    series = {k: column(k) for k in SERIES if any(k in e for e in entries)}
    state_file = source / C.HF_TRAINER_STATE
    index = np.arange(1, len(entries) + 1)
    table = Table(
        path=state_file,
        columns=["step", "epoch", "learning_rate", *series],
        values={"step": steps.astype(float), "epoch": epoch_f, "learning_rate": lr[:, 0], **series},
        line_numbers=index,
        missing={k: np.array([k not in e for e in entries]) for k in series},
    )
    args = _training_args(source, notes)
    config = {**{k: state.get(k) for k in ("max_steps", "num_train_epochs", "logging_steps", "save_steps")}, **args}
    root = path if (path / "runs").is_dir() else path.parent
    evidence = _tb_session_starts(root, steps, notes)
    previous = _previous_train(root, steps, lr[:, 0], notes)
    spe = None
    if np.isfinite(epoch_f).any():
        k = int(np.nanargmax(epoch_f))
        if epoch_f[k] > 0:
            spe = max(round(steps[k] / epoch_f[k]), 1)
    facts = []
    for ck in ckpts:
        ck_notes: list[str] = []
        facts.append(
            CheckpointFacts(
                path=ck,
                step=int(CHECKPOINT_DIR.match(ck.name).group(1)),  # type: ignore[union-attr]
                has_optimizer=(ck / C.HF_OPTIMIZER).is_file(),
                train_args=args if ck == source else _training_args(ck, ck_notes),
            )
        )
    files = {"state": state_file}
    if (source / C.HF_TRAINING_ARGS).is_file():
        files["args"] = source / C.HF_TRAINING_ARGS
    return Run(
        path=path,
        framework="hf",
        framework_version=None,
        profile_name="hf",
        table=table,
        epochs=np.maximum(np.ceil(np.nan_to_num(epoch_f)) - 1, 0).astype(int),
        lr=lr,
        lr_columns=["learning_rate"],
        train_losses={k: v for k, v in series.items() if k == "loss"},
        val_losses={},
        time=None,
        config=config,
        hyp=dict(config),
        checkpoints=facts,
        session_starts=sorted({e.row for e in evidence}),
        notes=notes,
        files=files,
        axis=Axis(AxisUnit.STEP, steps, spe, epoch_f),
        group_names=["all groups"],
        series=series,
        evidence=evidence,
        provenance=Provenance((state_file,), np.zeros(len(entries), dtype=np.int64), steps, "step"),
        parent=previous,
    )
