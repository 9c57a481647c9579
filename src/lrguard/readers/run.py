"""Read a YOLOv5 or Ultralytics run directory into one :class:`~lrguard.model.Run`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from lrguard import constants as C
from lrguard.errors import InputError, NotReadyError
from lrguard.model import CheckpointFacts, EvidenceKind, Run, SessionEvidence, Table
from lrguard.readers.csvtable import parse_results_csv
from lrguard.readers.discover import find_run_dir
from lrguard.trainers import Trainer, all_trainers, get_profile
from lrguard.trainers.infer import FileEvidence, VersionCandidates, candidate_profiles, recorded_profile

_LR_INDEX = re.compile(r"(\d+)$")


def _lr_columns(columns: list[str], prefix: str) -> list[str]:
    found = [c for c in columns if c.startswith(prefix) and _LR_INDEX.search(c[len(prefix) :])]
    return sorted(found, key=lambda c: int(c[len(prefix) :]))


def _read_checkpoint_facts(run_dir: Path, notes: list[str]) -> list[CheckpointFacts]:
    weights = run_dir / C.WEIGHTS_DIR
    if not weights.is_dir():
        return []
    try:
        from lrguard.checkpoint import read_facts
    except ImportError:  # pragma: no cover - the checkpoint package is part of lrguard
        return []
    facts: list[CheckpointFacts] = []
    for name in (C.LAST_PT, C.BEST_PT):
        f = weights / name
        if not f.is_file():
            continue
        try:
            facts.append(read_facts(f))
        except InputError as exc:
            notes.append(f"checkpoint not used: {exc.one_line()}")
    return facts


def _resume_check(run_dir: Path, facts: list[CheckpointFacts], notes: list[str]) -> dict[str, Any] | None:
    """The inspector's verdict on resuming from weights/last.pt (``None`` when absent or stripped)."""
    last = next((f for f in facts if f.path.name == C.LAST_PT), None)
    if last is None or last.stripped:
        return None
    from lrguard.checkpoint import resume_report

    try:
        report = resume_report(last.path)
    except InputError as exc:
        notes.append(f"resume check skipped: {exc.one_line()}")
        return None
    return {"path": str(last.path), **report.to_json()}


def _bias_column_from_first_row(lr: np.ndarray) -> int | None:
    """Index of the group that starts far above the others (warmup_bias_lr), if any."""
    if lr.shape[0] == 0 or lr.shape[1] < 2:
        return None
    row = lr[0]
    if not np.all(np.isfinite(row)):
        return None
    order = np.argsort(row)[::-1]
    top, second = row[order[0]], row[order[1]]
    return int(order[0]) if top > 1.5 * max(second, 1e-30) else None


def _groups_equal(lr: np.ndarray) -> bool:
    if lr.shape[0] == 0 or lr.shape[1] < 2 or not np.all(np.isfinite(lr[0])):
        return False
    return bool(np.all(np.abs(lr[0] - lr[0, 0]) <= 1e-9 * max(abs(float(lr[0, 0])), 1e-30)))


def _candidates(
    trainer: Trainer,
    config: dict[str, Any],
    table: Table,
    lr: np.ndarray,
    first_epoch: int,
    version: str | None,
    version_source: str,
    notes: list[str],
) -> VersionCandidates:
    """The profiles the files allow (see :mod:`lrguard.trainers.infer`)."""
    if version:
        try:
            prof = trainer.profile_for_version(version, int(lr.shape[1]), first_epoch)
        except ValueError:
            notes.append(f"unrecognised {trainer.label} version {version!r}; inferring from the files")
        else:
            if prof is not None:
                return recorded_profile(prof, f"{version_source} records {trainer.label} {version}")
    fresh = first_epoch in (0, 1)
    evidence = FileEvidence(
        framework=trainer.name,
        n_groups=int(lr.shape[1]),
        first_epoch=first_epoch,
        has_time=C.TIME_COLUMN in table.values,
        padded=table.padded,
        config_keys=frozenset(str(k) for k in config),
        bias_column=_bias_column_from_first_row(lr) if fresh else None,
        groups_equal=_groups_equal(lr) if fresh else False,
    )
    return candidate_profiles(evidence)


def _epoch_column(table: Table) -> np.ndarray:
    ep = table.column(C.EPOCH_COLUMN)
    bad = ~np.isfinite(ep) | (np.abs(ep - np.round(ep)) > 1e-9)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(table.path, f"line {table.line_numbers[i]}: epoch {ep[i]!r} is not a whole number")
    return np.round(ep).astype(int)


def _session_starts_from_events(run_dir: Path, epochs: np.ndarray, notes: list[str]) -> list[int]:
    files = sorted(run_dir.glob(C.TFEVENTS_PREFIX + "*"))
    if len(files) < 2:
        return []
    from lrguard.readers.tfevents import read_event_steps  # only runs with several event files pay for it

    parsed = []
    for f in files:
        try:
            parsed.append(read_event_steps(f))
        except OSError:
            continue
    parsed = [p for p in parsed if p.steps]
    parsed.sort(key=lambda p: (p.first_wall_time or 0.0, p.path.name))
    starts: list[int] = []
    cursor = 0
    for k, p in enumerate(parsed):
        first_step = p.steps[0]
        hits = np.nonzero(epochs[cursor:] == first_step)[0]
        if hits.size == 0:
            continue
        row = cursor + int(hits[0])
        if k > 0 and row > 0:
            starts.append(row)
        cursor = row + 1
    if starts:
        notes.append(f"{len(parsed)} TensorBoard event files: one training process each")
    return starts


def _own_reader(path: Path, profile: str | None) -> Run | None:
    """The run as read by a trainer with a reader of its own (HF, ...), or None for a results.csv run."""
    for trainer in all_trainers():
        if trainer.recognises(path):
            if profile is not None:
                try:
                    forced = get_profile(profile)
                except KeyError:
                    raise InputError(None, f"unknown profile {profile!r} (see 'lrguard diagnose --help')") from None
                if forced.framework != trainer.name:
                    raise InputError(path, f"is a {trainer.name} run; --profile {profile} is for {forced.framework}")
            return trainer.read_run(path)
    return None


def read_run(
    path: str | Path | None = None,
    *,
    profile: str | None = None,
    framework_version: str | None = None,
    checkpoints: bool = True,
    parent: bool = True,
    events: str | Path | None = None,
) -> Run:
    """Read the run directory at ``path`` (default: the newest run under ``./runs``).

    Args:
        path: A run directory, its results.csv, or a folder containing ``runs/``.
        profile: Force a :mod:`lrguard.trainers` profile name instead of inferring it.
        framework_version: The trainer version (e.g. ``"8.4.0"``) when the files do not say.
        checkpoints: Read the plain fields of ``weights/last.pt`` and ``best.pt``.
        parent: When the run started from a previous run's weights, find and read that run too
            (:attr:`Run.parent`).
        events: The live guard's events file (default: ``lrguard-events.jsonl`` in the run
            directory, when there is one), read into :attr:`Run.guard_events`.

    Raises:
        InputError: A file is present but unreadable or malformed; ``events`` is not a file.
        NotARunError: No run found at ``path``.
    """
    from lrguard.readers.guardevents import attach_guard_events

    run = _read_run(path, profile=profile, framework_version=framework_version, checkpoints=checkpoints, parent=parent)
    attach_guard_events(run, events)
    return run


def _read_run(
    path: str | Path | None, *, profile: str | None, framework_version: str | None, checkpoints: bool, parent: bool
) -> Run:
    if path is not None:
        own = _own_reader(Path(path), profile)
        if own is not None:
            return own
    run_dir, notes = find_run_dir(None if path is None else Path(path))
    results = run_dir / C.RESULTS_CSV
    if path is not None and Path(path).is_file():
        results = Path(path)  # an explicitly named CSV (e.g. a copy of results.csv) is the one to read
    files: dict[str, Path] = {"results": results}
    table, csv_notes, header_repeats = parse_results_csv(files["results"])
    notes.extend(csv_notes)
    if len(table) == 0:
        raise NotReadyError(files["results"], "has a header but no complete data row yet")
    found = [(t, cols) for t in all_trainers() if t.lr_prefix and (cols := _lr_columns(table.columns, t.lr_prefix))]
    if not found:
        prefixes = " or ".join(f"{t.lr_prefix}0.." for t in all_trainers() if t.lr_prefix)
        raise InputError(files["results"], f"no learning-rate columns ({prefixes}): not a YOLO results.csv")
    trainer, lr_cols = found[0]
    config, extra = trainer.read_config(run_dir, files, notes)

    facts = _read_checkpoint_facts(run_dir, notes) if checkpoints else []
    resume_check = _resume_check(run_dir, facts, notes) if checkpoints else None
    version = framework_version
    if version is None:
        version = next((f.version for f in facts if f.version), None)

    epochs = _epoch_column(table)
    lr = np.column_stack([table.column(c) for c in lr_cols])
    time_col = table.values.get(C.TIME_COLUMN)
    if profile is not None:
        try:
            choice = recorded_profile(get_profile(profile), f"--profile {profile}")
        except KeyError:
            raise InputError(None, f"unknown profile {profile!r} (see 'lrguard diagnose --help')") from None
        forced = choice.profiles[0]
        if forced.framework != trainer.name:
            raise InputError(
                files["results"],
                f"is a {trainer.name} run; --profile {profile} is for {forced.framework} "
                "(see 'lrguard diagnose --help' for the profiles)",
            )
    else:
        source = "--framework-version" if framework_version else "the checkpoint"
        choice = _candidates(trainer, config, table, lr, int(epochs[0]), version, source, notes)
    prof = choice.profiles[0]

    last_args = next((f.train_args for f in facts if f.train_args), None)
    hyp = trainer.hyp_from_config(config, extra, last_args)

    train_losses = {c: table.column(c) for c in table.columns if c.startswith(C.TRAIN_LOSS_PREFIX)}
    val_losses = {c: table.column(c) for c in table.columns if c.startswith(C.VAL_LOSS_PREFIX)}

    evidence: list[SessionEvidence] = [
        SessionEvidence(int(i), EvidenceKind.HEADER_REPEAT, "a repeated CSV header: another run appended to the file")
        for i in header_repeats
        if i > 0
    ]
    if time_col is not None:
        with np.errstate(invalid="ignore"):
            drops = np.nonzero(np.diff(time_col) < 0)[0] + 1
        evidence.extend(
            SessionEvidence(int(i), EvidenceKind.TIME_RESTART, f"the time column goes back to {time_col[i]:g} s")
            for i in drops
        )
    evidence.extend(
        SessionEvidence(i, EvidenceKind.NEW_EVENT_FILE, "a TensorBoard event file of a new process starts here")
        for i in _session_starts_from_events(run_dir, epochs, notes)
    )
    reasons: dict[int, str] = {}
    for r in table.remnants:
        if r.next_row is not None and r.next_row > 0:
            why = f"a crash left {r.describe()} before it"
            evidence.append(SessionEvidence(r.next_row, EvidenceKind.CRASH_REMNANT, why))
            reasons[r.next_row] = why
    evidence.sort(key=lambda e: e.row)
    starts = {e.row for e in evidence if e.row > 0}

    run = Run(
        path=run_dir,
        framework=trainer.name,
        framework_version=version,
        profile_name=prof.name,
        table=table,
        epochs=epochs,
        lr=lr,
        lr_columns=lr_cols,
        train_losses=train_losses,
        val_losses=val_losses,
        time=time_col,
        config=config,
        hyp=hyp,
        checkpoints=facts,
        resume_check=resume_check,
        session_starts=sorted(starts),
        session_reasons={i: why for i, why in reasons.items() if i in starts},
        profile_candidates=[p.name for p in choice.profiles],
        profile_evidence=list(choice.evidence),
        profile_recorded=choice.recorded,
        notes=notes,
        files=files,
        evidence=evidence,
    )
    if parent:
        from lrguard.readers.parent import read_parent

        run.parent = read_parent(run)
    return run
