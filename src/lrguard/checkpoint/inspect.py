"""One call that inspects any checkpoint path and returns the ``lrguard ckpt --json`` record.

Dispatches on what ``path`` is: an HF Trainer directory, a directory a trainer claims
(:meth:`lrguard.trainers.base.Trainer.state_dir`: Accelerate's ``save_state``), a safetensors file,
or a pickle-based file (torch zip, legacy, Lightning ``.ckpt``, plain pickle). The resume verdict
is the trainer's (:func:`lrguard.checkpoint.resume.check_resume`). Never executes anything from
the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrguard import constants as C
from lrguard.checkpoint.archive import load
from lrguard.checkpoint.facts import facts_from_root
from lrguard.checkpoint.integrity_report import IntegrityReport, Progress
from lrguard.checkpoint.resume import REFUSE, check_resume
from lrguard.checkpoint.safetensors import is_safetensors, read_header
from lrguard.checkpoint.scan import judge_loaded, scan_path
from lrguard.checkpoint.security import SAFE, worse
from lrguard.checkpoint.structure import describe
from lrguard.errors import InputError

if TYPE_CHECKING:
    from lrguard.checkpoint.datapass import DataPass
    from lrguard.checkpoint.statedir import StateDir


def inspect_path(
    path: str | Path,
    *,
    check_data: bool = False,
    scan_nonfinite: bool = False,
    progress: Progress | None = None,
    pending: DataPass | None = None,
) -> dict[str, Any]:
    """Inspect one checkpoint file, HF checkpoint directory or a trainer's state directory (Accelerate).

    Args:
        path: File or directory.
        check_data: Verify CRCs / sizes of every entry (reads the whole file).
        scan_nonfinite: Also count NaN/Inf in float tensors (implies ``check_data``).
        progress: Byte-count callback for the data pass.
        pending: The data pass of ``path`` already started with
            :func:`lrguard.checkpoint.datapass.begin` (with ``check_data``; started here otherwise).

    Returns:
        ``{"path", "format", "framework", "framework_version", "epoch", "stripped", "has",
        "missing", "param_groups", "resume", "integrity", "security", ...}`` — plain JSON values.

    Raises:
        InputError: The path cannot be read as a checkpoint at all.
    """
    path = Path(path)
    if path.is_dir():
        from lrguard.checkpoint.hfdir import is_hf_dir

        if is_hf_dir(path):
            return _inspect_hf(path, check_data, scan_nonfinite, progress)
        from lrguard.trainers import all_trainers

        for trainer in all_trainers():
            layout = trainer.state_dir(path)
            if layout is not None:
                return _inspect_state_dir(path, layout, check_data, scan_nonfinite, progress)
        raise InputError(
            path,
            "directory is not a checkpoint directory lrguard knows (an HF Trainer checkpoint-N with "
            "trainer_state.json, or an Accelerate save_state directory)",
        )
    if is_safetensors(path):
        return _inspect_safetensors(path)
    if check_data or scan_nonfinite:
        from lrguard.checkpoint.integrity import begin, verify  # `ckpt show` reads no data: stays off it

        if pending is None:
            pending = begin(path, progress)  # the CRCs run while the pickle is walked
    try:
        loaded = load(path, tolerant=True)
    except InputError:
        if pending is not None:
            pending.result()
        report = scan_path(path)  # not a torch file or plain pickle: a tar, an .npy, ...
        if report.verdict == SAFE:
            raise
        return unreadable_record(path, report, "not a checkpoint lrguard can describe")
    security = judge_loaded(loaded)
    if loaded.error is not None:
        if pending is not None:
            pending.result()
        if security.verdict == SAFE and not loaded.streams[1:]:
            raise InputError(path, loaded.error)
        return unreadable_record(path, security, loaded.error, loaded.format)
    structure = describe(loaded.root, loaded.storages)
    facts = facts_from_root(path, loaded.root)
    resume = check_resume(facts, structure, path, loaded.root)
    if check_data or scan_nonfinite:
        integrity = verify(path, loaded=loaded, scan_nonfinite=scan_nonfinite, progress=progress, pending=pending)
    else:
        integrity = IntegrityReport(notes=["data not read (use 'lrguard ckpt verify' to check CRCs)"])
        integrity.notes.extend(loaded.notes)
    return {
        "path": str(path),
        "format": loaded.format,
        "framework": structure.framework,
        "framework_version": structure.framework_version,
        "epoch": structure.epoch,
        "best_fitness": structure.best_fitness,
        "stripped": structure.stripped,
        "stripped_reasons": structure.stripped_reasons,
        "model_class": structure.model_class,
        "has": structure.has,
        "missing": structure.missing,
        "not_saved": structure.not_saved,
        "amp": structure.amp,
        "param_groups": structure.param_groups,
        "updates": facts.updates,
        "date": facts.date,
        "train_args": _key_args(facts.train_args),
        "train_results_rows": len(next(iter(facts.train_results.values()), [])) if facts.train_results else None,
        "model": structure.model,
        "tensors": structure.by_dtype,
        "keys": structure.keys,
        "file_size": loaded.file_size,
        "resume": resume.to_json(),
        "integrity": integrity.to_json(),
        "security": security.to_json(),
    }


def unreadable_record(path: Path, security: Any, problem: str, fmt: str = "unknown") -> dict[str, Any]:
    """The record of a file whose main pickle cannot be read but whose security verdict is known."""
    integ = IntegrityReport()
    integ.fail(problem)
    return {
        "path": str(path),
        "format": fmt,
        "framework": "unknown",
        "framework_version": None,
        "epoch": None,
        "stripped": False,
        "has": {},
        "missing": [],
        "param_groups": [],
        "resume": {
            "verdict": REFUSE,
            "summary": "the file cannot be read as a checkpoint",
            "details": [],
            "problems": [problem],
            "schedule": {},
            "jump": None,
        },
        "integrity": integ.to_json(),
        "security": security.to_json(),
    }


def _key_args(args: dict[str, Any]) -> dict[str, Any]:
    raw_hyp = args.get("hyp")
    hyp: dict[str, Any] = raw_hyp if isinstance(raw_hyp, dict) else {}
    merged: dict[str, Any] = {**{k: hyp[k] for k in ("lr0", "lrf", "warmup_epochs") if k in hyp}, **args}
    keys = ("epochs", "batch", "batch_size", "optimizer", "lr0", "lrf", "warmup_epochs", "cos_lr", "time")
    return {k: merged.get(k) for k in keys if k in merged}


def _inspect_safetensors(path: Path) -> dict[str, Any]:
    header = read_header(path)
    integ = IntegrityReport()
    for p in header.problems:
        integ.fail(p)
    by_dtype = header.by_dtype()
    return {
        "path": str(path),
        "format": "safetensors",
        "framework": "plain",
        "framework_version": None,
        "epoch": None,
        "stripped": False,
        "has": {"model": bool(header.tensors), "optimizer": False},
        "missing": [],
        "param_groups": [],
        "metadata": header.metadata,
        "tensors": {
            "tensors": len(header.tensors),
            "params": sum(d["params"] for d in by_dtype.values()),
            "bytes": sum(d["bytes"] for d in by_dtype.values()),
            "by_dtype": by_dtype,
        },
        "resume": {
            "verdict": "unknown",
            "summary": "weights only: no training state",
            "details": [],
            "problems": [],
            "schedule": {},
            "jump": None,
        },
        "integrity": integ.to_json(),
        "security": {"verdict": SAFE, "globals": [], "call_chains": []},
    }


def _inspect_hf(
    path: Path, check_data: bool = False, scan_nonfinite: bool = False, progress: Progress | None = None
) -> dict[str, Any]:
    from lrguard.checkpoint.hfdir import inspect_dir
    from lrguard.checkpoint.integrity import verify

    info = inspect_dir(path)
    loaded = info.pop("loaded")
    verdict = SAFE
    globals_: list[dict[str, Any]] = []
    integ = IntegrityReport()
    for name, ld in loaded.items():
        sec = judge_loaded(ld)
        verdict = worse(verdict, sec.verdict)
        for g in sec.to_json()["globals"]:  # type: ignore[attr-defined]  # a list of dicts
            globals_.append({**g, "file": name})
    for name in info["files"]:
        f = path / name
        if f.suffix == C.SAFETENSORS_SUFFIX:
            try:
                problems = read_header(f).problems
            except InputError as exc:
                problems = [exc.problem]
            for p in problems:
                integ.fail(f"{name}: {p}")
    if check_data or scan_nonfinite:
        for name, ld in loaded.items():
            rep = verify(path / name, loaded=ld, scan_nonfinite=scan_nonfinite, progress=progress)
            for p in rep.problems:
                integ.fail(f"{name}: {p}")
            for key, n in rep.checked.items():
                integ.checked[key] = integ.checked.get(key, 0) + n
    for p in info["unreadable"]:
        integ.fail(p)
    resume = info["resume"]
    return {
        "path": str(path),
        "format": "hf-checkpoint-dir",
        "framework": "hf",
        "framework_version": None,
        "epoch": info["epoch"],
        "global_step": info["global_step"],
        "stripped": False,
        "has": info["has"],
        "missing": [k for k, v in info["has"].items() if not v and k in ("optimizer", "scheduler", "rng", "model")],
        "param_groups": info["param_groups"],
        "scheduler": info["scheduler"],
        "last_logged_lr": info["last_logged_lr"],
        "files": info["files"],
        "resume": {
            "verdict": resume["verdict"],
            "summary": resume.get("summary", ""),
            "details": resume["details"],
            "problems": resume["problems"],
            "schedule": info["scheduler"] or {},
            "jump": None,
        },
        "integrity": integ.to_json(),
        "security": {"verdict": verdict, "globals": globals_, "call_chains": []},
    }


def _inspect_state_dir(
    path: Path,
    layout: StateDir,
    check_data: bool = False,
    scan_nonfinite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The record of a trainer's checkpoint directory: every pickled file walked, judged and verified."""
    from lrguard.checkpoint.integrity import verify
    from lrguard.checkpoint.resume import SavedState, verdict_of
    from lrguard.checkpoint_facts import CheckpointFacts

    verdict = SAFE
    globals_: list[dict[str, Any]] = []
    integ = IntegrityReport()
    roots: dict[str, Any] = {}
    for f in layout.pickled:
        try:
            ld = load(f, tolerant=True)
        except InputError as exc:
            integ.fail(exc.one_line())
            continue
        sec = judge_loaded(ld)
        verdict = worse(verdict, sec.verdict)
        for g in sec.to_json()["globals"]:  # type: ignore[attr-defined]  # a list of dicts
            globals_.append({**g, "file": f.name})
        if ld.error is not None:
            integ.fail(f"{f.name}: {ld.error}")
            continue
        roots[f.name] = ld.root
        if check_data or scan_nonfinite:
            rep = verify(f, loaded=ld, scan_nonfinite=scan_nonfinite, progress=progress)
            for p in rep.problems:
                integ.fail(f"{f.name}: {p}")
            for key, n in rep.checked.items():
                integ.checked[key] = integ.checked.get(key, 0) + n
    files = sorted(p.name for p in path.iterdir())
    for name in files:
        if name.endswith(C.SAFETENSORS_SUFFIX):
            try:
                problems = read_header(path / name).problems
            except InputError as exc:
                problems = [exc.problem]
            for p in problems:
                integ.fail(f"{name}: {p}")
    if not check_data and not scan_nonfinite:
        integ.notes.append("data not read (use 'lrguard ckpt verify' to check CRCs)")
    resume = verdict_of(layout.kind, SavedState(path=path, facts=CheckpointFacts(path=path), files=roots))
    from lrguard.checkpoint.structure import describe

    groups: list[dict[str, Any]] = []
    for name, root in roots.items():
        if name.startswith("optimizer"):
            groups = describe(root).param_groups
            break
    sched = resume.schedule
    return {
        "path": str(path),
        "format": layout.format,
        "framework": layout.kind,
        "framework_version": None,
        "epoch": None,
        "global_step": sched.get("step"),
        "stripped": False,
        "has": layout.has,
        "missing": [k for k in layout.needs if not layout.has.get(k)],
        "param_groups": groups,
        "files": files,
        "resume": resume.to_json(),
        "integrity": integ.to_json(),
        "security": {"verdict": verdict, "globals": globals_, "call_chains": []},
    }


def is_problem(record: dict[str, Any]) -> bool:
    """Whether a record should make ``lrguard ckpt`` exit 1.

    Corrupt, suspicious or dangerous files count, and so do files incomplete for resume: missing
    components, failed resume checks, stripped or finished files.
    """
    if not record["integrity"]["ok"] or record["security"]["verdict"] != SAFE:
        return True
    resume = record["resume"]
    if record.get("stripped") or resume["verdict"] == REFUSE:
        return True
    return bool(record.get("missing")) or bool(resume.get("problems"))


def resumable(record: dict[str, Any]) -> bool:
    """Whether a record describes an intact, safe file that a trainer can resume from."""
    return (
        record["integrity"]["ok"]
        and record["security"]["verdict"] == SAFE
        and not record.get("stripped")
        and record["resume"]["verdict"] != REFUSE
        and bool(record.get("has", {}).get("optimizer"))
        and not record.get("missing")
    )


def last_good(directory: str | Path, progress: Progress | None = None) -> tuple[dict[str, Any] | None, list[Any]]:
    """Among ``DIR/*.pt`` (or ``DIR/weights/*.pt``) find the newest intact, resumable checkpoint.

    Files are ranked by stored epoch, then modification time (newest first); each is fully verified.

    Returns:
        ``(record of the chosen file or None, [(path, record or error string), ...] in rank order)``.

    Raises:
        InputError: ``directory`` is not a directory or holds no checkpoint files.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(directory, "not a directory")
    base = directory / C.WEIGHTS_DIR if (directory / C.WEIGHTS_DIR).is_dir() else directory
    files = [p for p in base.iterdir() if p.suffix in C.CHECKPOINT_SUFFIXES and p.is_file()]
    if not files:
        raise InputError(directory, f"no checkpoint files ({', '.join(C.CHECKPOINT_SUFFIXES)}) found")
    results: list[tuple[Path, dict[str, Any] | str]] = []
    for f in files:
        try:
            results.append((f, inspect_path(f, check_data=True, progress=progress)))
        except InputError as exc:
            results.append((f, exc.problem))

    def rank(item: tuple[Path, dict[str, Any] | str]) -> tuple[int, float]:
        f, rec = item
        epoch = rec.get("epoch") if isinstance(rec, dict) else None
        return (-(epoch if isinstance(epoch, int) else -2), -f.stat().st_mtime)

    results.sort(key=rank)
    chosen = next((r for _, r in results if isinstance(r, dict) and resumable(r)), None)
    return chosen, results
