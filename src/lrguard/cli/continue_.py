"""``lrguard continue``: settings for a new run that continues a run's LR curve without a jump."""

from __future__ import annotations

import argparse
import sys

from lrguard.cli.main import EXIT_FINDINGS, EXIT_OK
from lrguard.trainers import get_trainer

DESCRIPTION = """\
Train a finished (or interrupted) run further without the LR jump that "just train again from
last.pt" causes (a fresh schedule: warmup from warmup_bias_lr=0.1 and lr0 again, 10-1000x the LR the
run ended at). lrguard reads the run, takes the LR it stopped at as the new lr0, chooses lrf so the
new run ends at --lr-end (default: the original schedule's final LR), turns warmup off (YOLOv5 cannot:
it keeps the bias group flat instead) and names the optimizer the run used. It writes a ready
hyp.yaml (YOLOv5) or args override yaml (Ultralytics, cfg=) and prints the command to run.
The file goes to --out (default: the current directory), never into the run directory unless --out
points there.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``continue`` sub-command."""
    p = sub.add_parser(
        "continue",
        help="write settings + the command for a jump-free continuation of a finished run",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  lrguard continue runs/train/exp --epochs 200\n"
            "  lrguard continue runs/detect/train --epochs 50 --lr-end 1e-5 --out cont/ --html cont.html\n"
            "exit codes: 0 written, 1 written with a warning (e.g. the run had NaN losses and recovered), 2 bad\n"
            "input or refused (a run that diverged: NaN/inf at its end; an unreadable checkpoint); nothing written."
        ),
    )
    p.add_argument("path", metavar="RUN", help="the run directory (or its results.csv)")
    p.add_argument("--epochs", type=int, required=True, help="epochs of the new run")
    p.add_argument("--lr-end", type=float, help="LR the new run should end at (default: the original final LR)")
    p.add_argument("--weights", help="checkpoint to start from (default: RUN/weights/last.pt)")
    p.add_argument(
        "--out", help="file or directory for the settings (default: ./hyp-continue.yaml or ./args-continue.yaml)"
    )
    p.add_argument("--profile", help="force the trainer-version maths (see lrguard diagnose --help)")
    p.add_argument("--framework-version", help="trainer version when the files do not record it")
    p.add_argument("--json", action="store_true", help="print the recipe as JSON")
    p.add_argument("--png", metavar="FILE", help="plot old and new curve joined (needs matplotlib)")
    p.add_argument("--html", metavar="FILE", help="plot old and new curve joined, self-contained HTML")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Compute, write and print the continuation; return the exit code."""
    from lrguard.diagnosis import diagnose
    from lrguard.plan.continuation import build_continuation, lint_continuation, write_continuation
    from lrguard.readers import read_run

    run_ = read_run(args.path, profile=args.profile, framework_version=args.framework_version)
    d = diagnose(run_)
    cont = build_continuation(d, args.epochs, lr_end=args.lr_end, weights=args.weights)
    path = write_continuation(cont, args.out, explicit=args.out is not None)
    command = cont.command(path)
    lint_continuation(cont)
    if args.json:
        import json

        from lrguard.reports.jsonreport import plain

        doc = {
            "run": str(cont.run_path),
            "framework": cont.framework,
            "weights": str(cont.weights),
            "lr_last": cont.lr_last,
            "lr_end": cont.lr_end,
            "epochs": cont.epochs,
            "optimizer": cont.optimizer,
            "settings": cont.settings,
            "file": str(path),
            "command": command,
            "finished": cont.finished,
            "planned_jumps": len(cont.plan.jumps) if cont.plan else 0,
            "notes": cont.notes,
            "warnings": cont.warnings,
        }
        sys.stdout.write(json.dumps(plain(doc), indent=2) + "\n")
    else:
        from rich.console import Console
        from rich.markup import escape

        con = Console(highlight=False)
        con.print(f"[bold]{escape(str(cont.run_path))}[/] ({cont.framework})")
        state = "finished" if cont.finished else "not finished"
        con.print(
            f"  the run is {state}; its last LR ({escape(d.run.lr_columns[d.reference_group])}) is {cont.lr_last:.6g}"
        )
        con.print(
            f"  new run: lr0 {cont.lr0:.6g} -> {cont.lr_end:.6g} (lrf {cont.lrf:.6g}) over {cont.epochs} epochs, "
            f"{'cosine' if cont.cos_lr else 'linear'}, warmup off, optimizer {escape(cont.optimizer)}"
        )
        con.print(f"  wrote [bold]{escape(str(path))}[/]")
        con.print("  run:")
        con.print(f"    [green]{escape(command)}[/]", soft_wrap=True)
        hint = get_trainer(cont.framework).continuation_hint()
        if hint:
            con.print(f"  [dim]{escape(hint)}[/]")
        for note in cont.notes:
            con.print(f"  [dim]note: {escape(note)}[/]")
        for warning in cont.warnings:
            con.print(f"  [bold yellow]warning: {escape(warning)}[/]")
        if cont.plan is not None and cont.plan.jumps:
            j = cont.plan.jumps[0]
            con.print(f"  [bold yellow]the planned curve still rises: {j.column} {j.before:.5g} -> {j.after:.5g}[/]")
        else:
            con.print("  [bold green]no jump: the new curve starts where the old one ended[/]")
    if args.html and cont.plan is not None:
        from lrguard.reports.html import write_plan_html

        write_plan_html([cont.plan], args.html, title="lrguard: continuation of " + cont.run_path.name)
        print(f"wrote {args.html}", file=sys.stderr)
    if args.png and cont.plan is not None:
        from lrguard.reports.png import write_plan_png

        write_plan_png(cont.plan, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    return EXIT_FINDINGS if cont.warnings else EXIT_OK
