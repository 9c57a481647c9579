"""``lrguard ckpt``: inspect, verify and pick training checkpoints without executing them.

Sub-commands: ``show PATH...`` (structure, resume verdict, security), ``verify PATH...`` (plus CRCs,
storage sizes, sidecar manifest, optional NaN/Inf scan), ``last-good DIR`` and ``scan PATH...``
(security only, :mod:`lrguard.cli.ckpt_scan`). Exit codes: 0 fine,
1 incomplete for resume / corrupt / suspicious / dangerous, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from lrguard.cli.ckpt_scan import add_scan_parser
from lrguard.errors import InputError
from lrguard.reports.layout import Segment, Writer, table

EXIT_OK, EXIT_PROBLEM, EXIT_BAD_INPUT = 0, 1, 2
PROGRESS_MIN_BYTES = 256 << 20
_VERDICT_STYLE = {
    "safe": "green",
    "suspicious": "yellow",
    "dangerous": "bold red",
    "seamless": "green",
    "jump": "bold red",
    "refuse": "yellow",
    "unknown": "yellow",
    "incomplete": "yellow",
}

HELP = """\
Inspect PyTorch / YOLOv5 / Ultralytics / Lightning checkpoints, safetensors files, HF Trainer
checkpoint directories and Accelerate save_state directories WITHOUT executing them (no torch
needed, no pickle code runs).

  show PATH...     what the file holds, what its trainer's resume will do to the LR, security verdict
  verify PATH...   show + every zip CRC, storage sizes, sidecar manifest (--nonfinite: NaN/Inf scan)
  last-good DIR    the newest intact, resumable checkpoint among DIR/*.pt (or DIR/weights/*.pt)
  scan PATH...     security verdict only: every pickle in the file judged, never executed

Exit codes (show/verify/last-good): 0 fine, 1 incomplete for resume / stripped / corrupt / suspicious /
dangerous, 2 unreadable. scan: 0 safe, 1 suspicious, 3 dangerous, 2 unreadable.
"""


def add_parser(subparsers: Any) -> None:
    """Register ``lrguard ckpt`` and its sub-commands."""
    p = subparsers.add_parser(
        "ckpt",
        help="inspect/verify checkpoints without executing them",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="ckpt_command", metavar="ACTION", parser_class=type(p))
    show = sub.add_parser(
        "show",
        help="structure, resume verdict and security of each file",
        description="Show what each checkpoint holds and what resuming from it does to the LR.",
    )
    show.add_argument(
        "paths", nargs="+", metavar="PATH", help="checkpoint file, HF checkpoint-N or Accelerate save_state directory"
    )
    show.add_argument("--json", action="store_true", help="JSON record (a list of them for several paths)")
    show.add_argument("--tensors", action="store_true", help="also list storages and bytes by dtype")
    verify = sub.add_parser(
        "verify",
        help="check integrity (CRCs, sizes, storages, manifest)",
        description="Verify each file fully: zip CRC-32s and sizes, pickle STOP, storage "
        "sizes, sidecar manifest; --nonfinite also scans float tensors for NaN/Inf.",
    )
    verify.add_argument("paths", nargs="+", metavar="PATH")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.add_argument("--nonfinite", action="store_true", help="scan float tensors for NaN/Inf")
    lg = sub.add_parser(
        "last-good",
        help="newest intact, resumable checkpoint in a directory",
        description="Verify every DIR/*.pt (or DIR/weights/*.pt) and name the newest one that is "
        "intact, safe and resumable. Prints its path (exit 0) or exits 1 if none is.",
    )
    lg.add_argument("directory", metavar="DIR")
    lg.add_argument("--json", action="store_true", help="machine-readable output")
    for sp in (show, verify, lg):
        sp.set_defaults(handler=run)
    add_scan_parser(sub)
    p.set_defaults(handler=run, _ckpt_parser=p)


def _wants_progress(paths: list[Path]) -> bool:
    """A progress bar for big files on a terminal (stat errors are left to the inspection to report)."""
    if not sys.stderr.isatty():
        return False
    total = 0
    for p in paths:
        try:
            total += p.stat().st_size if p.is_file() else 0
        except OSError:
            continue
    return total >= PROGRESS_MIN_BYTES


def _early_data_pass(path: Path) -> Any:
    """Start the CRC pass of ``path`` before the rest of lrguard is imported (``None`` if it is no zip)."""
    from lrguard.checkpoint.datapass import begin

    try:
        return begin(path)
    except OSError:  # the inspection reports it in full
        return None


def _progress(paths: list[Path]) -> Any:
    if not _wants_progress(paths):
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    console = Console(stderr=True)

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``lrguard ckpt``; return the exit code (the worst over all paths)."""
    cmd = getattr(args, "ckpt_command", None)
    if cmd is None:
        args._ckpt_parser.print_help()
        return EXIT_BAD_INPUT
    if cmd == "last-good":
        return _last_good(args, Writer.for_output(), Writer.for_output(stream=sys.stderr))
    paths = [Path(p) for p in args.paths]
    early = _early_data_pass(paths[0]) if cmd == "verify" and not _wants_progress(paths) else None
    from lrguard.checkpoint.inspect import inspect_path, is_problem  # imported while that pass reads

    records: list[dict[str, Any]] = []
    status = EXIT_OK
    check = cmd == "verify"
    out = None if args.json else Writer.for_output()
    with _progress(paths) as prog:
        for path in paths:
            try:
                task = prog.add_task(path.name, total=path.stat().st_size) if prog and path.is_file() else None
                cb = (lambda n, t=task: prog.advance(t, n)) if task is not None else None
                pending, early = (early, None) if path == paths[0] else (None, early)
                rec = inspect_path(
                    path, check_data=check, scan_nonfinite=check and args.nonfinite, progress=cb, pending=pending
                )
            except (InputError, OSError) as exc:
                if len(paths) == 1:
                    raise
                err = exc if isinstance(exc, InputError) else InputError.from_os_error(exc, path)
                sys.stdout.flush()  # keep the one-line error between the records it falls between
                print(f"lrguard: {err.one_line()}", file=sys.stderr, flush=True)
                status = EXIT_BAD_INPUT
                continue
            records.append(rec)
            if out is not None:
                render(rec, out, verify=check, tensors=getattr(args, "tensors", False))
            if is_problem(rec) if cmd == "show" else _verify_problem(rec):
                status = max(status, EXIT_PROBLEM)
    if args.json:
        import json

        print(json.dumps(records if len(args.paths) > 1 else (records[0] if records else None), indent=1, default=str))
    return status


def _verify_problem(rec: dict[str, Any]) -> bool:
    from lrguard.checkpoint.inspect import is_problem

    return not rec["integrity"]["ok"] or rec["security"]["verdict"] != "safe" or is_problem(rec)


def _why_not(rec: dict[str, Any]) -> list[str]:
    """Why a candidate cannot be resumed from (empty when it can): the same tests as ``resumable``."""
    why = []
    if not rec["integrity"]["ok"]:
        why.append("corrupt: " + "; ".join(rec["integrity"]["problems"][:1]))
    if rec["security"]["verdict"] != "safe":
        why.append(f"security: {rec['security']['verdict']}")
    if rec.get("stripped"):
        why.append("stripped (training finished)")
    elif rec["resume"]["verdict"] == "refuse":
        why.append("the trainer refuses to resume it")
    if not rec.get("has", {}).get("optimizer") and not rec.get("stripped"):
        why.append("no optimizer state")
    if rec.get("missing"):
        why.append("missing " + ", ".join(rec["missing"]))
    return why


def _trainer_epoch(rec: dict[str, Any]) -> str:
    """The stored epoch as the trainer numbers it (Ultralytics' results.csv and log count from 1)."""
    epoch = rec.get("epoch")
    if isinstance(epoch, int) and epoch >= 0 and rec.get("framework") == "ultralytics":
        return str(epoch + 1)
    return str(epoch)


def _readable_or_raise(path: Path) -> None:
    """A candidate the OS will not let us read makes the answer unknowable: one line, exit 2."""
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise InputError.from_os_error(exc, path) from None


def _last_good(args: argparse.Namespace, out: Writer, err: Writer) -> int:
    from lrguard.checkpoint.inspect import last_good, resumable

    chosen, results = last_good(args.directory)
    for p, r in results:
        if isinstance(r, str):
            _readable_or_raise(p)
    broken_last = [(p, r) for p, r in results if p.name == "last.pt" and isinstance(r, str)]
    broken_last += [(p, _why_not(r)[0]) for p, r in results if p.name == "last.pt" and isinstance(r, dict)
                    and not r["integrity"]["ok"]]  # fmt: skip
    warnings = [
        f"{p} is corrupt ({why}): --resume without a path would fail on it"
        + (f"; resume from {chosen['path']} instead" if chosen else "")
        for p, why in broken_last
    ]
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "last_good": chosen["path"] if chosen else None,
                    "warnings": warnings,
                    "candidates": [
                        {
                            "path": str(p),
                            "epoch": r.get("epoch") if isinstance(r, dict) else None,
                            "resumable": isinstance(r, dict) and resumable(r),
                            "chosen": r is chosen,
                            "why_not": [r] if isinstance(r, str) else _why_not(r),
                            "error": r if isinstance(r, str) else None,
                            "integrity_ok": r["integrity"]["ok"] if isinstance(r, dict) else False,
                            "stripped": r.get("stripped") if isinstance(r, dict) else None,
                            "manifest": r["integrity"].get("manifest") if isinstance(r, dict) else None,
                        }
                        for p, r in results
                    ],
                },
                indent=1,
                default=str,
            )
        )
        return EXIT_OK if chosen else EXIT_PROBLEM
    out.line([(f"checkpoints in {args.directory}", "bold")])
    rows: list[list[str]] = []
    styles: list[str | None] = []
    for p, r in results:
        if isinstance(r, str):
            rows.append([p.name, "?", "no", "", "", f"no: corrupt: {r}"])
            styles.append("red")
            continue
        verdict = r["resume"]["verdict"] if not r.get("stripped") else "stripped"
        why = _why_not(r)
        mark = "  <- last good" if r is chosen else ""
        intact = "yes" if r["integrity"]["ok"] else "no"
        rows.append([p.name, _trainer_epoch(r), intact, r["security"]["verdict"], verdict, _resumable(why) + mark])
        styles.append("bold green" if r is chosen else ("green" if not why else "yellow"))
    table(out, ("file", "epoch", "intact", "security", "resume", "resumable"), rows, indent="  ", styles=styles)
    for w in warnings:
        err.line([("warning: ", "bold yellow"), (w, None)], hang=2)
    if chosen is None:
        out.line([("no intact, resumable checkpoint found", "bold red")])
        return EXIT_PROBLEM
    out.line(
        [("last good: ", None), (str(chosen["path"]), "bold"), (f" (epoch {_trainer_epoch(chosen)})", None)], hang=2
    )
    return EXIT_OK


def _resumable(why: list[str]) -> str:
    return "yes" if not why else "no: " + "; ".join(why)


def _fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{n} B"


def render(rec: dict[str, Any], out: Writer, *, verify: bool = False, tensors: bool = False) -> None:
    """Print one inspection record for people, wrapped to ``out``'s width (a command never split)."""
    fw = rec["framework"] + (f" {rec['framework_version']}" if rec.get("framework_version") else "")
    out.line([(str(rec["path"]), "bold"), (f"  ({rec['format']}, {fw})", None)], hang=2)
    line: list[Segment] = []

    def item(text: str, style: str | None = None) -> None:
        if line:
            line.append((" · ", None))
        line.append((text, style))

    if rec.get("epoch") is not None:
        item(f"epoch {_trainer_epoch(rec)}")
    if rec.get("global_step") is not None:
        item(f"global_step {rec['global_step']}")
    if rec.get("stripped"):
        item("STRIPPED", "yellow")
        line.append((" (" + ", ".join(rec.get("stripped_reasons") or ["finished"]) + ")", None))
    if rec.get("best_fitness") is not None:
        item(f"best_fitness {rec['best_fitness']:.4g}")
    if rec.get("updates") is not None:
        item(f"EMA updates {rec['updates']}")
    if rec.get("date"):
        item(f"saved {rec['date']}")
    if line:
        out.line(line, first="  ")
    model = rec.get("model") or rec.get("tensors")
    if model and model.get("tensors"):
        dt = ", ".join(f"{k} {_fmt_bytes(v['bytes'])}" for k, v in sorted(model["by_dtype"].items()))
        cls = f"{rec['model_class']}: " if rec.get("model_class") else ""
        _field(out, "model", f"{cls}{model['params']:,} params in {model['tensors']} tensors ({dt})")
    if rec.get("train_args"):
        _field(out, "train args", ", ".join(f"{k}={v}" for k, v in rec["train_args"].items()))
    has = rec.get("has") or {}
    present = [k for k, v in has.items() if v]
    _field(out, "has", ", ".join(present) or "nothing recognised")
    if rec.get("missing"):
        _field(out, "missing for a faithful resume", ", ".join(rec["missing"]), "yellow")
    if rec.get("not_saved"):
        _field(out, "never saved by this trainer", ", ".join(rec["not_saved"]))
    groups = rec.get("param_groups") or []
    if groups:
        rows = []
        for g in groups:
            ratio = g["lr"] / g["initial_lr"] if g.get("lr") is not None and g.get("initial_lr") else None
            rows.append(
                [
                    str(g["index"]),
                    g.get("tag") or "",
                    _f(g.get("lr")),
                    _f(g.get("initial_lr")),
                    _f(ratio),
                    _f(g.get("momentum")),
                    _f(g.get("weight_decay")),
                    str(g.get("params") or ""),
                ]
            )
        out.line([("optimizer param groups:", None)], first="  ")
        headers = ("group", "tag", "lr", "initial_lr", "lr/initial", "momentum", "weight_decay", "params")
        table(out, headers, rows, indent="    ")
    res = rec["resume"]
    style = _VERDICT_STYLE.get(res["verdict"], "white")
    out.line([(res["verdict"].upper(), style), (f" — {res['summary']}", None)], first="  resume: ", hang=4)
    for d in res.get("details", []):
        out.line([(d, None)], first="    · ")
    for p in res.get("problems", []):
        out.line([(p, None)], first="    ✗ ", first_style="red")
    integ = rec["integrity"]
    if verify or not integ["ok"]:
        checked = ", ".join(f"{k} {v:,}" for k, v in integ.get("checked", {}).items())
        state = ("OK", "green") if integ["ok"] else ("FAILED", "bold red")
        out.line([state, (f" ({checked})", None)], first="  integrity: ", hang=4)
        for p in integ["problems"]:
            out.line([(p, None)], first="    ✗ ", first_style="red")
        for name, n in list(integ.get("nonfinite", {}).items())[:10]:
            out.line([(f"{name}: {n} NaN/Inf", None)], first="    ✗ ", first_style="red")
        if integ.get("manifest"):
            man = integ["manifest"]
            verdict = ("matches", "green") if man["ok"] else (str(man["problem"]), "red")
            out.line([(f"manifest {man['path']}: ", None), verdict], first="    ", hang=6)
    sec = rec["security"]
    style = _VERDICT_STYLE.get(sec["verdict"], "white")
    n_glob = len(sec["globals"])
    out.line([(sec["verdict"].upper(), style), (f" ({n_glob} distinct globals)", None)], first="  security: ", hang=4)
    for g in sec["globals"]:
        if g["verdict"] != "safe":
            offs = ", ".join(str(o) for o in g["offsets"][:5])
            text = f" {g['name']} at offset {offs} — {g['reason']}"
            out.line([(g["verdict"], _VERDICT_STYLE[g["verdict"]]), (text, None)], first="    ", hang=6)
    for f in [f for f in sec.get("findings", []) if f["rule"] not in ("reference",)][:10]:
        where = f"{f['stream']} @{f['offset']}" + (f" {f['opcode']}" if f["opcode"] else "")
        style = _VERDICT_STYLE.get(f["verdict"], "white")
        out.line([(f["verdict"], style), (f" {where} {f['name']} — {f['reason']}", None)], first="    ", hang=6)
    if tensors and rec.get("tensors"):
        for k, v in sorted(rec["tensors"]["by_dtype"].items()):
            text = f"{k}: {v['tensors']} storages, {v['params']:,} elements, {_fmt_bytes(v['bytes'])}"
            out.line([(text, None)], first="    ", hang=6)
    out.blank()


def _field(out: Writer, label: str, text: str, label_style: str | None = None) -> None:
    """``  label: text``, the text wrapped under itself."""
    out.line([(text, None)], first=f"  {label}: ", hang=4, first_style=label_style)


def _f(x: Any) -> str:
    return "" if x is None else f"{x:.6g}"
