"""``lrguard watch``: follow a run that is still training and report each finding the moment it appears."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lrguard.cli.main import EXIT_FINDINGS, EXIT_OK

DESCRIPTION = """\
Follow a YOLOv5 / Ultralytics run while it trains: re-read results.csv whenever it changes (a row
being written is ignored until it is complete), diagnose it again and print every new finding at
once. With --fail-on, exit 1 as soon as a finding at that severity appears, so a wrapper can stop
the job (e.g. `lrguard watch runs/train/exp --fail-on warning || kill $TRAIN_PID`).
Ends with 0 when the run finishes: last.pt stripped by the trainer, the planned last epoch
logged, or no new row for --idle intervals; or when --timeout passes. Waits while results.csv
does not exist yet or has no complete row; input that stays bad for two checks (unreadable,
broken YAML, not a CSV, not a run) ends it with 2 and one line naming the file.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``watch`` sub-command."""
    p = sub.add_parser(
        "watch",
        help="follow a training run and report LR findings as they appear",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "exit codes: 0 finished / timeout without failing findings, 1 a finding at --fail-on, 2 bad input\n"
            "(with --json also an 'error' event)."
        ),
    )
    p.add_argument("path", metavar="RUN", help="run directory (results.csv may not exist yet)")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between checks (default 10)")
    p.add_argument(
        "--fail-on",
        choices=("info", "warning", "error", "never"),
        default="never",
        help="exit 1 when a finding at or above this severity appears (default: never, just report)",
    )
    p.add_argument("--timeout", type=float, help="stop after this many seconds (exit 0 unless failing)")
    p.add_argument("--idle", type=int, default=0, help="stop after this many checks without a new row (0: never)")
    p.add_argument("--profile", help="force the trainer-version maths")
    p.add_argument("--framework-version", help="trainer version when the files do not record it")
    p.add_argument("--json", action="store_true", help="one JSON object per event (finding, finished, timeout)")
    p.add_argument("-v", "--verbose", action="store_true", help="print evidence and fixes of info findings too")
    p.set_defaults(handler=run)


class Watcher:
    """State of one watched run: what was read and which findings were already reported."""

    def __init__(self, path: Path, profile: str | None = None, framework_version: str | None = None) -> None:
        self.path = path
        self.profile = profile
        self.framework_version = framework_version
        self.seen: set[tuple] = set()
        self.stamp: tuple | None = None
        self.rows = 0
        self.last_error: str | None = None
        self.pending: str | None = None  # a permanent-looking error seen once, raised if the next check repeats it
        self.ckpt_stamp: tuple | None = None
        self.stripped = False
        self.planned_end = False

    def _results(self) -> Path:
        p = self.path
        return p if p.name.endswith(".csv") else p / "results.csv"

    @staticmethod
    def _stat(p: Path) -> tuple | None:
        try:
            st = p.stat()
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def poll(self) -> tuple[list, bool]:
        """Re-read the run if it changed; return ``(new findings, whether new rows arrived)``.

        Input that is not complete yet (:class:`~lrguard.errors.NotReadyError`: no results.csv, no complete
        row) is waited for. Any other error is permanent once the next check finds it unchanged (one
        check of grace for a file caught while being replaced); it is then raised.

        Raises:
            LrguardError: The input is bad and stays bad (unreadable, broken YAML, binary CSV, not a run).
        """
        from lrguard.diagnosis import diagnose
        from lrguard.errors import LrguardError, NotReadyError
        from lrguard.readers import read_run

        self._check_checkpoint()
        stamp = self._stat(self._results())
        if stamp is not None and stamp == self.stamp and self.last_error is None:
            return [], False
        self.stamp = stamp
        try:
            run = read_run(self.path, profile=self.profile, framework_version=self.framework_version, checkpoints=False)
        except NotReadyError as exc:  # no results.csv or no complete row yet: the trainer will write them
            self.last_error, self.pending = exc.one_line(), None
            return [], False
        except LrguardError as exc:
            if self.pending == exc.one_line():
                raise
            self.last_error = self.pending = exc.one_line()
            return [], False
        self.last_error = self.pending = None
        grew = run.n_rows > self.rows
        self.rows = run.n_rows
        d = diagnose(run)
        last_idx = int(run.epochs[-1]) - d.profile.epoch_base
        self.planned_end = last_idx >= d.epoch_spec.epochs - 1 and len(d.sessions) >= 1
        new = []
        for f in d.findings:
            key = (f.cause.value,) if f.severity.value == "info" else (f.cause.value, f.epoch)
            if key in self.seen:
                continue
            self.seen.add(key)
            new.append((d, f))
        return new, grew

    def _check_checkpoint(self) -> None:
        last = (self.path if self.path.is_dir() else self.path.parent) / "weights" / "last.pt"
        stamp = self._stat(last)
        if stamp is None or stamp == self.ckpt_stamp:
            return
        self.ckpt_stamp = stamp
        try:
            from lrguard.checkpoint import read_facts

            self.stripped = read_facts(last).stripped
        except Exception:  # being written, or unreadable: look again next time
            self.ckpt_stamp = None


def _print_finding(d, f, as_json: bool, verbose: bool) -> None:
    if as_json:
        from lrguard.reports.jsonreport import finding_dict, plain

        doc = {"event": "finding", "run": str(d.run.path), **finding_dict(f, d.run.table.line_numbers)}
        print(json.dumps(plain(doc)), flush=True)
        return
    stamp = time.strftime("%H:%M:%S")
    where = f"epoch {f.epoch}" if f.epoch is not None else "run"
    print(f"[{stamp}] {f.severity.value.upper():7} {f.cause.value} at {where}: {f.title}", flush=True)
    if f.severity.value != "info" or verbose:
        for e in f.evidence:
            print(f"           - {e}", flush=True)
        if f.fix:
            print(f"           fix: {f.fix}", flush=True)


def _event(kind: str, text: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"event": kind, "message": text}), flush=True)
    else:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Poll until a failing finding, the end of the run, or the timeout; return the exit code."""
    from lrguard.errors import InputError, LrguardError
    from lrguard.model import Severity

    if args.interval <= 0:
        raise InputError(None, "--interval must be positive")
    path = Path(args.path)
    try:
        path.stat()
    except FileNotFoundError:
        raise InputError(path, "no such run directory") from None
    threshold = None if args.fail_on == "never" else Severity(args.fail_on)
    w = Watcher(path, args.profile, args.framework_version)
    start = time.monotonic()
    idle = 0
    if not args.json:
        print(f"watching {path} every {args.interval:g}s (fail on: {args.fail_on}); Ctrl-C stops", flush=True)
    reported_error = None
    while True:
        try:
            new, grew = w.poll()
        except LrguardError as exc:  # input that stays bad: say so as an event too, then exit 2 via main
            if args.json:
                _event("error", exc.one_line(), True)
            raise
        for d, f in new:
            _print_finding(d, f, args.json, args.verbose)
            if threshold is not None and f.severity.rank >= threshold.rank:
                _event("fail", f"{f.severity.value} finding at --fail-on {args.fail_on}: exit 1", args.json)
                return EXIT_FINDINGS
        if w.last_error and w.last_error != reported_error and not args.json:
            print(f"  waiting: {w.last_error}", flush=True)
            reported_error = w.last_error
        idle = 0 if grew else idle + 1
        if w.stripped:
            _event("finished", f"last.pt is stripped: training finished after {w.rows} rows", args.json)
            return EXIT_OK
        if w.planned_end:
            _event("finished", f"the planned last epoch is logged ({w.rows} rows)", args.json)
            return EXIT_OK
        if args.idle and idle >= args.idle:
            _event("finished", f"no new row for {idle} checks: assuming the run stopped ({w.rows} rows)", args.json)
            return EXIT_OK
        if args.timeout is not None and time.monotonic() - start >= args.timeout:
            _event("timeout", f"--timeout {args.timeout:g}s reached ({w.rows} rows)", args.json)
            return EXIT_OK
        time.sleep(args.interval)
