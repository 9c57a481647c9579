"""``lrguard ckpt scan PATH...``: the security verdict alone, with an exit code a pipeline can gate on.

Exit codes: 0 every path safe, 1 some path suspicious (and none dangerous), 3 some path dangerous,
2 some path unreadable or not a pickle-bearing file (and none dangerous). Nothing in the files is
executed; torch is not needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lrguard.errors import InputError

EXIT_SAFE, EXIT_SUSPICIOUS, EXIT_BAD_INPUT, EXIT_DANGEROUS = 0, 1, 2, 3
_EXIT = {"safe": EXIT_SAFE, "suspicious": EXIT_SUSPICIOUS, "dangerous": EXIT_DANGEROUS}
_ORDER = (EXIT_SAFE, EXIT_SUSPICIOUS, EXIT_BAD_INPUT, EXIT_DANGEROUS)  # worst last


def add_scan_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``scan`` under ``lrguard ckpt``."""
    scan = sub.add_parser(
        "scan",
        help="security verdict only (exit 0 safe, 1 suspicious, 3 dangerous, 2 unreadable)",
        description="Judge every pickle in each file (or directory) without executing it. Exit codes: "
        "0 all safe, 1 suspicious, 3 dangerous, 2 unreadable / not a pickle; the worst path wins.",
    )
    scan.add_argument("paths", nargs="+", metavar="PATH")
    scan.add_argument("--json", action="store_true", help="verdict and evidence (offsets, opcodes, names) per path")
    scan.set_defaults(handler=run_scan)
    return scan


def run_scan(args: argparse.Namespace) -> int:
    """Run ``lrguard ckpt scan``; return the exit code."""
    from lrguard.checkpoint.scan import scan_path

    status = EXIT_SAFE
    out: list[dict[str, Any]] = []
    for raw in args.paths:
        path = Path(raw)
        try:
            rep = scan_path(path)
        except InputError as exc:
            status = _worst(status, EXIT_BAD_INPUT)
            if args.json:
                out.append({"path": str(path), "verdict": None, "error": exc.problem})
            else:
                print(f"lrguard: {exc.one_line()}", file=sys.stderr)
            continue
        status = _worst(status, _EXIT[rep.verdict])
        if args.json:
            out.append({"path": str(path), **rep.to_json()})
            continue
        print(f"{path}: {rep.verdict.upper()}")
        for f in rep.findings[:20]:
            where = f"{f.stream} @{f.offset}" + (f" {f.opcode}" if f.opcode else "")
            name = f" {f.name}" if f.name else ""
            print(f"  {f.verdict}: {where}{name} — {f.reason}")
        if len(rep.findings) > 20:
            print(f"  ... {len(rep.findings) - 20} more findings (--json lists them)")
    if args.json:
        print(json.dumps(out if len(args.paths) > 1 else out[0], indent=1, default=str))
    return status


def _worst(a: int, b: int) -> int:
    return a if _ORDER.index(a) >= _ORDER.index(b) else b
