"""Read a TensorBoard-logged training loop into a step-counted :class:`~lrguard.model.Run`.

What such a loop writes (see ``docs/trainers/torch.md``): one ``events.out.tfevents.*`` file per
``SummaryWriter`` (a new process, or a writer reopened on resume), scalars keyed by the step the
loop passes to ``add_scalar``; the LR under a tag found by name (:mod:`.tags`), one tag per param
group when several; and ``torch.save``'d checkpoint files, read here without executing them.

Sessions start at every new event file (after the first) and wherever the step goes back (the
timeline finds those); a step going back inside one file is kept as a note.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrguard import constants as C
from lrguard.errors import InputError, NotARunError
from lrguard.model import Axis, AxisUnit, CheckpointFacts, EvidenceKind, Provenance, Run, SessionEvidence, Table
from lrguard.readers.tbtags import grad_norm_tag, loss_tag, lr_tags

#: Checkpoint file suffixes a loop's ``torch.save`` usually writes.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".tar")
#: Keys a loop stores its step under, most specific first.
STEP_KEYS = C.TORCH_STEP_KEYS
SCHEDULER_KEYS = C.TORCH_SCHEDULER_KEYS
#: Deepest directory level searched below the run directory.
MAX_DEPTH = 3


def event_files(root: Path) -> list[Path]:
    """Event files at most :data:`MAX_DEPTH` levels below ``root``, by path."""
    out = []
    for depth in range(MAX_DEPTH + 1):
        pattern = "/".join(["*"] * depth + [C.TFEVENTS_PREFIX + "*"])
        out += [p for p in root.glob(pattern) if p.is_file()]
    return sorted(out)


def has_event_files(root: Path) -> bool:
    """True when ``root`` is a directory with an event file at most :data:`MAX_DEPTH` levels below."""
    try:
        return root.is_dir() and bool(event_files(root))
    except OSError:
        return False


def _plain(obj: Any) -> Any:
    from lrguard.checkpoint.plain import to_plain

    return to_plain(obj)


def torch_checkpoint_facts(path: Path, notes: list[str]) -> CheckpointFacts | None:
    """The step, optimizer LRs and scheduler state of one ``torch.save``'d dict (never executed)."""
    from lrguard.checkpoint.archive import load
    from lrguard.checkpoint.facts import as_dict, param_groups

    try:
        root = load(path).root
    except InputError as exc:
        notes.append(f"{exc.one_line()}: checkpoint skipped")
        return None
    d = as_dict(root) or {}
    step = next((int(d[k]) for k in STEP_KEYS if isinstance(d.get(k), int) and not isinstance(d.get(k), bool)), None)
    epoch = d.get("epoch") if isinstance(d.get("epoch"), int) else None
    groups = param_groups(root)
    extra: dict[str, Any] = {}
    for key in SCHEDULER_KEYS:
        sd = as_dict(d.get(key))
        if sd:
            plain = _plain(sd)
            if isinstance(plain, dict):
                extra["scheduler"] = plain
            break
    return CheckpointFacts(
        path=path,
        epoch=epoch,
        has_optimizer=bool(groups),
        lrs=tuple(float(g["lr"]) for g in groups if isinstance(g.get("lr"), int | float)),
        initial_lrs=tuple(
            float(g["initial_lr"]) if isinstance(g.get("initial_lr"), int | float) else None for g in groups
        ),
        step=step,
        train_args=extra,
    )


def checkpoint_files(root: Path) -> list[Path]:
    """``torch.save`` files at most two levels below ``root``, by path."""
    found = [p for pat in ("*", "*/*") for p in root.glob(pat) if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES]
    return sorted(found)


def _aligned(rows: list[tuple[int, int, int]], points: Any) -> tuple[np.ndarray, np.ndarray]:
    """Values of another tag at the same (file, step, occurrence) as each LR row, and where one was logged.

    A row without a point is NaN and not present (a logged NaN is present: a non-finite value).
    """
    by_key: dict[tuple[int, int], list[float]] = defaultdict(list)
    for f, s, v in zip(points.file.tolist(), points.step.tolist(), points.value.tolist(), strict=True):
        by_key[(f, s)].append(v)
    out = np.full(len(rows), np.nan)
    present = np.zeros(len(rows), dtype=bool)
    for i, (f, s, k) in enumerate(rows):
        vals = by_key.get((f, s))
        if vals and k < len(vals):
            out[i] = vals[k]
            present[i] = True
    return out, present


def read_tb_run(
    path: Path,
    framework: str,
    *,
    checkpoints: Sequence[CheckpointFacts] = (),
    config: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    session_hint: Callable[[np.ndarray], list[SessionEvidence]] | None = None,
) -> Run:
    """Read every event file below ``path`` into a step-counted run of trainer ``framework``.

    Args:
        path: The run directory.
        framework: Registry name of the trainer reading it.
        checkpoints: Facts of the run's checkpoints, by step.
        config: What the run's files say about its settings (``num_processes``, ...).
        notes: Remarks gathered so far (extended in place).
        session_hint: Extra session evidence from the steps of every row (checkpoint sequences).

    Raises:
        NotARunError: No event file below ``path``.
        InputError: An event file is malformed, or none holds an LR tag.
    """
    from lrguard.readers.tfevents import read_scalars

    notes = [] if notes is None else notes
    files = event_files(path)
    if not files:
        raise NotARunError(path, "no TensorBoard event file (events.out.tfevents.*) here")
    log = read_scalars(files)
    tags = lr_tags(log.scalars)
    if not tags:
        raise InputError(
            path, f"no LR tag among the TensorBoard scalars ({', '.join(list(log.scalars)[:8]) or 'none'})"
        )
    first = log.scalars[tags[0]]
    steps = first.step.astype(np.int64)
    file_of = first.file.astype(np.int64)
    seen: dict[tuple[int, int], int] = defaultdict(int)
    rows = []
    for f, s in zip(file_of.tolist(), steps.tolist(), strict=True):
        rows.append((f, s, seen[(f, s)]))
        seen[(f, s)] += 1
    lr = np.stack([first.value] + [_aligned(rows, log.scalars[t])[0] for t in tags[1:]], axis=1)
    series: dict[str, np.ndarray] = {}
    missing: dict[str, np.ndarray] = {}
    for name, tag in (("loss", loss_tag(log.scalars)), ("grad_norm", grad_norm_tag(log.scalars))):
        if tag is not None:
            series[name], present = _aligned(rows, log.scalars[tag])
            missing[name] = ~present
    infos = log.files
    evidence = [
        SessionEvidence(
            int(r),
            EvidenceKind.NEW_EVENT_FILE,
            f"a new TensorBoard event file ({infos[int(file_of[r])].path.name}) starts at step {int(steps[r])}",
        )
        for r in (np.nonzero(file_of[1:] != file_of[:-1])[0] + 1)
    ]
    if session_hint is not None:
        evidence += session_hint(steps)
    notes.extend(log.notes)
    if len(infos) > 1:
        notes.append(f"{len(infos)} TensorBoard event files: one SummaryWriter (training process) each")
    table = Table(
        path=infos[int(file_of[0])].path,
        columns=["step", *tags, *series],
        values={"step": steps.astype(float), **{t: lr[:, j] for j, t in enumerate(tags)}, **series},
        line_numbers=np.arange(1, len(rows) + 1),
        missing=missing,
    )
    cfg = dict(config or {})
    return Run(
        path=path,
        framework=framework,
        framework_version=None,
        profile_name=framework,
        table=table,
        epochs=np.zeros(len(rows), dtype=int),
        lr=lr,
        lr_columns=list(tags),
        train_losses={"loss": series["loss"]} if "loss" in series else {},
        val_losses={},
        time=None,
        config=cfg,
        hyp=dict(cfg),
        checkpoints=sorted(checkpoints, key=lambda c: (c.step is None, c.step or 0)),
        session_starts=sorted({e.row for e in evidence}),
        notes=notes,
        files={"events": infos[0].path},
        axis=Axis(AxisUnit.STEP, steps, None, None),
        group_names=list(tags),
        series=series,
        evidence=evidence,
        provenance=Provenance(tuple(i.path for i in infos), file_of, steps, "step"),
    )


__all__ = ["checkpoint_files", "event_files", "has_event_files", "read_tb_run", "torch_checkpoint_facts"]
