"""``lrguard run``: a resume pre-flight around an unmodified training command, and the per-step guard injected into it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from lrguard import constants as C
from lrguard.cli.main import EXIT_BAD_INPUT
from lrguard.errors import LrguardError

#: Exit code when the guard stopped the command: before it started (``--policy stop``), or in the training
#: process (a ``stop`` action: :data:`lrguard.guard.zero_code.EXIT_STOPPED`, passed through). The
#: trainer's own codes pass through.
EXIT_STOPPED = 3

DESCRIPTION = """\
Run a training command unchanged, after checking what it will do to the learning rate. When the
command resumes a YOLOv5 run (`python train.py --resume [last.pt]`, `python -m yolov5.train --resume`)
or an Ultralytics run (`yolo train resume model=last.pt`), lrguard reads the checkpoint and the run's
files first (without executing the checkpoint) and predicts the LR of the first resumed epochs, as
`lrguard ckpt show` does. A predicted jump (epochs or hyperparameters edited since the checkpoint, a
stale last.pt) is handled by --policy:

  warn            print the finding and the fix, then train (default)
  stop            do not train; exit 3 with the fix
  continue-curve  train a new run from the checkpoint instead, whose LR goes on smoothly from where the
                  run was to the new end (the maths of `lrguard continue`); the settings file is written
                  beside the run directory and the replaced command is printed

Every decision is one JSON line in --events (default: lrguard-events.jsonl in the run directory) and
one line on stderr. A command that is not a resume runs as is. The exit code is the command's own, 3
when the guard stopped it, 2 when the checkpoint or run cannot be read (nothing is run then).

Then the per-step guard is injected into the training process(es) without editing their code: a
folder holding a sitecustomize.py goes first on the command's PYTHONPATH, and the guard settings
(events file, guard configuration) travel in $LRGUARD_GUARD. Every Python process of the command
(each torchrun rank too) guards every torch optimizer from its first step: by default a step whose
gradient norm (or YOLO loss) is NaN/inf is skipped on the device (weights and optimizer state
unchanged; YOLOv5's and Ultralytics' EMA too), spikes are logged, and each event (with its rank)
goes to --events (default: the run
directory's lrguard-events.jsonl for a resume, else ./lrguard-events.jsonl). For YOLOv5 and
Ultralytics the events carry the trainer's global optimizer step and epoch, and each last.pt save
is verified and copied to weights/lrguard-last-good.pt with a manifest (the trainer's own files are
never written; --no-last-good: no copy). --no-guard runs the pre-flight only. A site's own
sitecustomize is still run.

The action ladder: --action SIGNAL=ACTION (repeatable) sets what the guard does on a signal,
--guard-config FILE reads a YAML or JSON mapping of guard settings (actions, check_every,
clip_norm, lower_lr_factor, lower_lr_steps, snapshot_every, rollback_patience, max_rollbacks,
spike, ...; docs/guard.md); --action and --check-every override the file. Signals: nonfinite
(log, skip, stop), loss-spike and grad-spike (log, clip, lower-lr, rollback, stop; clip needs
--check-every 1), lr-off-plan (log only here: the pre-flight checks a resume's LR). stop ends the
training with exit code 3 once the guard reads the step (every --check-every steps, and at exit).
rollback works in YOLOv5's and Ultralytics' trainers (it restores the last good model, optimizer
and EMA state); in any other command the first optimizer step is refused (exit code 2). A bad
option or file is one line and exit code 2 before anything runs.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``run`` sub-command."""
    p = sub.add_parser(
        "run",
        help="check a training command's resume before it starts (warn, stop, continue the curve), then guard its steps",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  lrguard run -- python train.py --resume runs/train/exp/weights/last.pt\n"
            "  lrguard run --policy stop -- python -m yolov5.train --resume\n"
            "  lrguard run --policy continue-curve -- python train.py --resume\n"
            "  lrguard run -- yolo train data=data.yaml model=yolov8n.yaml\n"
            "  lrguard run --check-every 100 -- torchrun --nproc-per-node 4 train.py\n"
            "  lrguard run --action nonfinite=stop --action loss-spike=lower-lr -- python train.py\n"
            "  lrguard run --guard-config guard.yaml -- yolo train data=data.yaml model=yolov8n.yaml\n"
            "      (guard.yaml:  actions: {loss-spike: rollback}\n"
            "                    snapshot_every: 100)\n"
            "exit codes: the command's own; 3 stopped by the guard; 2 unreadable checkpoint or run, a bad\n"
            "guard option or file, or a rollback the command's trainer cannot do (refused at its first step)."
        ),
    )
    p.add_argument(
        "--policy", choices=("warn", "stop", "continue-curve"), default="warn", help="on a predicted LR jump"
    )
    p.add_argument(
        "--events",
        metavar="FILE",
        help="JSON-lines event log (default: RUN/lrguard-events.jsonl for a resume, else ./lrguard-events.jsonl)",
    )
    p.add_argument("--dry-run", action="store_true", help="do the pre-flight and print the command; do not run it")
    p.add_argument("--no-guard", action="store_true", help="pre-flight only: do not inject the per-step guard")
    p.add_argument(
        "--no-last-good",
        action="store_true",
        help="YOLOv5/Ultralytics: do not publish a verified copy of each last.pt save as lrguard-last-good.pt",
    )
    p.add_argument(
        "--check-every",
        type=int,
        default=None,
        metavar="N",
        help="the injected guard reads its window of losses, norms and flags every N optimizer steps "
        "(default: the --guard-config file's, else 50)",
    )
    p.add_argument(
        "--action",
        action="append",
        metavar="SIGNAL=ACTION",
        help="what the injected guard does on SIGNAL (repeatable), e.g. nonfinite=stop, loss-spike=rollback",
    )
    p.add_argument(
        "--guard-config",
        metavar="FILE",
        help="YAML or JSON mapping of guard settings (actions, check_every, clip_norm, snapshot_every, ...)",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, help="the training command, after --")
    p.set_defaults(handler=run)


def _event(path: Path | None, **fields: object) -> None:
    if path is None:
        return
    record = {"time": time.time(), "step": None, "rank": 0, **fields}
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    except OSError as exc:
        print(
            f"lrguard: events not written: {LrguardError.from_os_error(exc, path, 'write').one_line()}", file=sys.stderr
        )


def run(args: argparse.Namespace) -> int:
    """Pre-flight, then execute (or not) the command; return the exit code."""
    from lrguard.plan.preflight import preflight

    argv = list(args.command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("lrguard: run: no command given (usage: lrguard run [--policy P] -- <training command>)", file=sys.stderr)
        return EXIT_BAD_INPUT
    guard_config: dict[str, object] | None = None
    if not args.no_guard:
        from lrguard.cli.guard_options import guard_settings
        from lrguard.guard.zero_code import check_injectable

        guard_config, config = guard_settings(args.guard_config, args.action, args.check_every)
        try:
            check_injectable(config)
        except ValueError as exc:
            raise LrguardError(None, f"run: {exc}") from None
    pf = preflight(argv, Path.cwd(), args.policy)
    events = Path(args.events) if args.events else (pf.run_dir / C.GUARD_EVENTS_JSONL if pf.run_dir else None)
    if pf.trainer is None:
        print(f"lrguard: {pf.message}", file=sys.stderr)
    else:
        action = {"run": "warn" if pf.verdict == "jump" else "log"}.get(pf.action, pf.action)
        print(f"lrguard: [{action}] {pf.message}", file=sys.stderr)
        if pf.fix and pf.action != "continue-curve":
            print(f"lrguard: fix: {pf.fix}", file=sys.stderr)
        for note in pf.notes:
            print(f"lrguard: {note}", file=sys.stderr)
        _event(
            events,
            epoch=pf.epoch,
            signal="resume-lr",
            value=pf.lr_after,
            expected=pf.lr_before,
            action=action,
            message=pf.message,
            checkpoint=str(pf.checkpoint),
            verdict=pf.verdict,
            command=pf.argv,
        )
    if pf.action == "stop":
        print("lrguard: stopped before training (--policy stop)", file=sys.stderr)
        return EXIT_STOPPED
    if args.dry_run:
        print(" ".join(pf.argv))
        return 0
    env = os.environ.copy()
    if guard_config is not None:
        env = _guarded_env(env, args, events, guard_config)
    sys.stderr.flush()
    try:
        return subprocess.run(pf.argv, env=env).returncode
    except FileNotFoundError:
        raise LrguardError(pf.argv[0], "command not found") from None
    except KeyboardInterrupt:
        return 130


def _guarded_env(
    env: dict[str, str], args: argparse.Namespace, events: Path | None, config: dict[str, object]
) -> dict[str, str]:
    """The command's environment with the per-step guard injected (see :mod:`lrguard.guard.zero_code`)."""
    from lrguard.guard.zero_code import child_env, settings_json

    path = (events or Path(C.GUARD_EVENTS_JSONL)).resolve()
    settings = settings_json(str(path), config, last_good=not args.no_last_good)
    print(f"lrguard: per-step guard injected (events: {path})", file=sys.stderr)
    return child_env(env, settings)
