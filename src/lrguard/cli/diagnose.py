"""``lrguard diagnose``: explain learning-rate jumps in YOLOv5 / Ultralytics run directories."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from lrguard.cli.main import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK
from lrguard.errors import InputError, LrguardError

FAIL_ON = ("info", "warning", "error", "never")

DESCRIPTION = """\
Read a YOLOv5 or Ultralytics run directory (results.csv, opt.yaml/hyp.yaml or args.yaml, TensorBoard
event files, weights/last.pt), rebuild the planned learning-rate schedule from the run's own
configuration, and explain every place where the logged LR leaves it: which mechanism did it (changed
epochs on resume, continuing from last.pt without resume, an older checkpoint, time=, ...), the
evidence, the effect on the losses, and a fix you can paste. Without PATH, the run under ./runs
that a bare --resume would take (newest last*.pt) is used; stderr names it before the findings.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``diagnose`` sub-command."""
    p = sub.add_parser(
        "diagnose",
        help="explain LR jumps in a run directory",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "exit codes: 0 no finding at or above --fail-on, 1 some finding at or above it, 2 bad input.\n"
            "with several runs, a run that cannot be read gets its own error (a line on stderr; with --json an\n"
            "  entry {run, error}) and the others are still diagnosed; the exit code is the worst of all runs\n"
            "  (2 for an unreadable run beats 1 for findings).\n"
            "profiles: yolov5, yolov5-v6.1, yolov5-master-2022-03, yolov5-v6.0, yolov5-master-2022-04, ultralytics-8.4, "
            "ultralytics-8.4-musgd,\n  ultralytics-8.4.0, ultralytics-8.3, ultralytics-8.1-early, ultralytics-8.0, "
            "ultralytics-8.0-0based"
        ),
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="run directories (or their results.csv); default: the run under ./runs a bare --resume would take",
    )
    p.add_argument(
        "--json", action="store_true", help="print the JSON report (one object, or an array for several runs)"
    )
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="warning",
        help="lowest severity that makes the exit code 1 (default: warning; 'never' always exits 0 on valid input)",
    )
    p.add_argument("--profile", help="force the trainer-version maths instead of inferring it (see list below)")
    p.add_argument("--framework-version", help="trainer version when the files do not record it, e.g. 8.4.0 or 7.0")
    p.add_argument("--no-checkpoints", action="store_true", help="do not read weights/*.pt")
    p.add_argument(
        "--events",
        metavar="FILE",
        help="the live guard's JSON-lines events of the run (default: lrguard-events.jsonl in the run directory)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show every info finding with its evidence")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report with the LR curves")
    p.add_argument("--png", metavar="FILE", help="also write the LR and loss curves as a PNG (needs matplotlib)")
    p.set_defaults(handler=run)


def _default_run(picked: list[str]):
    """The run a bare ``--resume`` would take, announced on stderr before any finding (and kept in ``picked``)."""
    from lrguard.readers.discover import find_run_dir

    run_dir, notes = find_run_dir(None)
    picked.extend(notes)
    for note in notes:
        print(f"lrguard: {note}", file=sys.stderr, flush=True)
    return run_dir


def run(args: argparse.Namespace) -> int:
    """Diagnose each path in turn; return the exit code."""
    from lrguard.diagnosis import diagnose
    from lrguard.model import Severity
    from lrguard.readers import read_run

    threshold = None if args.fail_on == "never" else Severity(args.fail_on)
    write_html: Callable[..., object] | None = None
    if args.html:  # fail before any work or output when the HTML report is not built in
        try:
            from lrguard.reports.html import write_html
        except ImportError:
            raise InputError(args.html, "the HTML report is not available in this version") from None
    picked: list[str] = []
    if getattr(args, "events", None) and len(args.paths) > 1:
        raise InputError(args.events, "--events names the events file of one run: give one PATH with it")
    paths = args.paths or [_default_run(picked)]
    entries: list = []  # a Diagnosis, or (path, LrguardError) for a run that could not be read
    for path in paths:
        try:
            run_ = read_run(
                path,
                profile=args.profile,
                framework_version=args.framework_version,
                checkpoints=not args.no_checkpoints,
                events=getattr(args, "events", None),
            )
        except LrguardError as exc:
            if len(paths) == 1:
                raise  # one run: the one-line error and exit 2 of every command
            entries.append((path, exc))
            continue
        if args.json:  # the terminal report has it on stderr, before the findings
            run_.notes[:0] = picked
        entries.append(diagnose(run_))
    results = [e for e in entries if not isinstance(e, tuple)]
    errors = [e for e in entries if isinstance(e, tuple)]
    for _, err in errors:
        print(f"lrguard: {err.one_line()}", file=sys.stderr)
    if args.json:
        from lrguard.reports.jsonreport import error_dict, render_json

        items = [error_dict(str(e[0]), e[1].one_line()) if isinstance(e, tuple) else e for e in entries]
        sys.stdout.write(render_json(items) + "\n")
    else:
        from lrguard.reports.terminal import render_terminal

        for d in results:
            render_terminal(d, verbose=args.verbose)
    if write_html is not None and results:
        write_html(results, args.html)
    if getattr(args, "png", None) and results:
        from lrguard.reports.png import write_png

        write_png(results, args.png)
    if errors:
        return EXIT_BAD_INPUT
    return EXIT_FINDINGS if any(d.failing(threshold) for d in results) else EXIT_OK
