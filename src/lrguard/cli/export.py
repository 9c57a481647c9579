"""``lrguard export``: every scalar point of a run's TensorBoard event files, as CSV or JSON lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from lrguard.cli.main import EXIT_OK
from lrguard.errors import LrguardError

if TYPE_CHECKING:
    from lrguard.readers.tfevents import ScalarLog

DESCRIPTION = """\
Write every scalar point of the TensorBoard event files under RUN (a run directory, a TB log dir or one
events.out.tfevents.* file), nothing sampled and nothing dropped: unlike TensorBoard's own reader (and
tools built on it) no reservoir sampling and no purge of points whose step goes back after a restart;
those points are kept, in file order, and reported on stderr as session evidence.

Columns: tag, step, wall_time, value, file (the event file, relative to RUN). Values are written in
the shortest form that reads back to the same float64 (float32 values widened exactly), so the export
is lossless. Files are ordered by their first wall_time, points by position in the file.
"""

COLUMNS = ("tag", "step", "wall_time", "value", "file")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``export`` sub-command."""
    p = sub.add_parser(
        "export",
        help="write every scalar of a run's TensorBoard event files as CSV or JSON lines",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 written, 2 bad input (no event file, not an event file, CRC mismatch with --verify-crc).",
    )
    p.add_argument("run", metavar="RUN", help="run directory, TensorBoard log directory or event file")
    p.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="output format (default: csv)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout (replaced atomically)")
    p.add_argument("--tags", nargs="+", metavar="PATTERN", help="only tags matching these shell patterns, e.g. 'lr*'")
    p.add_argument("--verify-crc", action="store_true", help="check both CRC-32C of every record (needs lrguard[fast])")
    p.set_defaults(handler=run)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) if root.is_dir() else path.name
    except ValueError:
        return str(path)


def write_log(log: ScalarLog, root: Path, out: TextIO, fmt: str) -> int:
    """Write ``log`` to ``out`` in ``fmt`` (``csv`` or ``jsonl``); return the number of points written.

    Points are grouped by file (reading order) and, inside a file, by tag in order of first appearance
    and then file order: the same points as the log, each exactly once.
    """
    import csv
    import json

    names = [_relative(f.path, root) for f in log.files]
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    n = 0
    for order, name in enumerate(names):
        for tag, s in log.scalars.items():
            idx = (s.file == order).nonzero()[0]
            if not idx.size:
                continue
            steps, walls, values = s.step[idx].tolist(), s.wall_time[idx].tolist(), s.value[idx].tolist()
            if writer is not None:
                writer.writerows(
                    (tag, st, repr(w), repr(v), name) for st, w, v in zip(steps, walls, values, strict=True)
                )
            else:
                dumps = json.dumps
                out.writelines(
                    dumps({"tag": tag, "step": st, "wall_time": w, "value": v, "file": name}) + "\n"
                    for st, w, v in zip(steps, walls, values, strict=True)
                )
            n += idx.size
    return n


def run(args: argparse.Namespace) -> int:
    """Read the event files and write their points; return the exit code."""
    from lrguard.readers.tfevents import read_scalars

    root = Path(args.run)
    log = read_scalars(root, verify_crc=args.verify_crc, tags=args.tags)
    for note in log.notes:
        print(f"lrguard: {note}", file=sys.stderr)
    if args.output is None:
        n = write_log(log, root, sys.stdout, args.format)
    else:
        target = Path(args.output)
        tmp = target.with_name(f".{target.name}.lrguard-tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                n = write_log(log, root, fh, args.format)
            tmp.replace(target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LrguardError.from_os_error(exc, target, action="write") from None
    tags = len(log.scalars)
    print(f"lrguard: {n} points of {tags} tag(s) from {len(log.files)} event file(s)", file=sys.stderr)
    return EXIT_OK
