"""``lrguard plan``: preview the LR a configuration will produce, and what a resume or continuation will do."""

from __future__ import annotations

import argparse
import sys

from lrguard.cli.main import EXIT_FINDINGS, EXIT_OK
from lrguard.trainers import get_trainer

DESCRIPTION = """\
Preview the learning rate of every param group, per epoch (as results.csv will log it) and per
iteration around warmup and seams, before you train, and lint the configuration. Inputs: a YOLOv5
hyp.yaml (+ options) or opt.yaml, or an Ultralytics args.yaml and/or key=value arguments, plus the
batches per epoch (--nb) or the dataset size (--images with --batch).

Scenarios (one at a time):
  --resume-at E [--new-epochs N --new-lr0 X --new-lrf Y --new-cos-lr/--new-linear-lr]
        train epochs 0..E-1, then --resume with changed settings (as an edited opt.yaml does)
  --from-weights E [--new-epochs N ...]   train E epochs, then start a NEW run from the weights
  --time H --epoch-seconds S               Ultralytics time= (epochs re-estimated every epoch)
Each shows what the LR will do, flags every upward jump outside warmup and says how big it is.
"""

EPILOG = """\
examples:
  # the 5000-epoch case: a 3000-epoch linear run resumed at epoch 1739 after epochs was changed to 5000
  lrguard plan --framework yolov5 --epochs 3000 --nb 200 --resume-at 1739 --new-epochs 5000
  lrguard plan --hyp data/hyps/hyp.scratch-low.yaml --epochs 300 --images 1200 --batch 16 --html plan.html
  lrguard plan --framework ultralytics epochs=100 batch=16 optimizer=auto --images 500 --nc 3
  lrguard plan --args runs/detect/train/args.yaml --nb 40 --from-weights 100 --new-epochs 50
exit codes: 0 (or 1 with --fail-on when a lint at that severity is found), 2 bad input.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``plan`` sub-command."""
    p = sub.add_parser(
        "plan",
        help="preview and lint a schedule, a resume with changes, or a continuation",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "kv", nargs="*", metavar="KEY=VALUE", help="Ultralytics arguments, e.g. epochs=300 lr0=0.01 cos_lr=True"
    )
    src = p.add_argument_group("configuration")
    src.add_argument("--framework", choices=("yolov5", "ultralytics"), help="trainer (inferred from the files)")
    src.add_argument("--profile", help="trainer-version maths, e.g. yolov5-v6.1, ultralytics-8.3 (default: current)")
    src.add_argument("--hyp", metavar="FILE", help="YOLOv5 hyp.yaml")
    src.add_argument("--opt", metavar="FILE", help="YOLOv5 opt.yaml of a run (embeds the hyp)")
    src.add_argument("--args", metavar="FILE", help="Ultralytics args.yaml")
    src.add_argument("--epochs", type=int)
    src.add_argument("--lr0", type=float)
    src.add_argument("--lrf", type=float)
    cos = src.add_mutually_exclusive_group()
    cos.add_argument("--cos-lr", dest="cos_lr", action="store_true", default=None, help="cosine schedule")
    cos.add_argument("--linear-lr", dest="cos_lr", action="store_false", help="linear schedule (the default)")
    src.add_argument("--warmup-epochs", type=float)
    src.add_argument("--warmup-bias-lr", type=float)
    src.add_argument("--batch", "--batch-size", dest="batch", type=int, help="total batch size (default 16)")
    src.add_argument("--images", type=int, help="training images (gives batches per epoch with --batch)")
    src.add_argument("--nb", type=int, help="batches per epoch (iterations per epoch)")
    src.add_argument("--optimizer", help="SGD, Adam, AdamW, ... or auto (Ultralytics)")
    src.add_argument("--nc", type=int, help="number of classes (optimizer=auto uses it)")
    src.add_argument("--weight-decay", type=float)
    src.add_argument("--nbs", type=int, help="nominal batch size (Ultralytics; YOLOv5 hard-codes 64)")
    sc = p.add_argument_group("scenario")
    sc.add_argument("--resume-at", type=int, metavar="E", help="resume at 0-based epoch E (checkpoint of epoch E-1)")
    sc.add_argument("--from-weights", type=int, metavar="E", help="after E epochs start a new run from the weights")
    sc.add_argument("--new-epochs", type=int, help="epochs after the resume / of the new run")
    sc.add_argument("--new-lr0", type=float)
    sc.add_argument("--new-lrf", type=float)
    ncos = sc.add_mutually_exclusive_group()
    ncos.add_argument("--new-cos-lr", dest="new_cos_lr", action="store_true", default=None)
    ncos.add_argument("--new-linear-lr", dest="new_cos_lr", action="store_false")
    sc.add_argument("--new-warmup-epochs", type=float, help="warmup of the new run (--from-weights)")
    sc.add_argument("--new-warmup-bias-lr", type=float, help="warmup_bias_lr of the new run (--from-weights)")
    sc.add_argument("--time", type=float, metavar="HOURS", help="Ultralytics time= budget")
    sc.add_argument("--epoch-seconds", type=float, help="typical epoch duration, to simulate time=")
    sc.add_argument("--first-epoch-seconds", type=float, help="first epoch duration (default 2x --epoch-seconds)")
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the plan as JSON (curve, jumps, lints)")
    out.add_argument("--png", metavar="FILE", help="plot to a PNG (needs matplotlib: pip install 'lrguard[plot]')")
    out.add_argument("--html", metavar="FILE", help="plot to a self-contained HTML file")
    out.add_argument(
        "--fail-on",
        choices=("info", "warning", "error", "never"),
        default="never",
        help="exit 1 when a lint at or above this severity is found (default: never)",
    )
    p.set_defaults(handler=run)


def build_plan(args: argparse.Namespace):
    """Build the :class:`~lrguard.plan.scenario.Plan` the arguments describe (with lints)."""
    from lrguard.errors import InputError
    from lrguard.plan import build_config, lint_plan, plan_fresh, plan_from_weights, plan_resume, plan_time

    overrides = {
        "epochs": args.epochs,
        "lr0": args.lr0,
        "lrf": args.lrf,
        "cos_lr": args.cos_lr,
        "warmup_epochs": args.warmup_epochs,
        "warmup_bias_lr": args.warmup_bias_lr,
        "batch": args.batch,
        "images": args.images,
        "nb": args.nb,
        "optimizer": args.optimizer,
        "nc": args.nc,
        "weight_decay": args.weight_decay,
        "nbs": args.nbs,
        "time": args.time,
    }
    cfg = build_config(
        framework=args.framework,
        profile=args.profile,
        hyp=args.hyp,
        opt=args.opt,
        args=args.args,
        kv=args.kv,
        overrides=overrides,
    )
    chosen = [n for n, v in (("--resume-at", args.resume_at), ("--from-weights", args.from_weights)) if v is not None]
    if len(chosen) > 1:
        raise InputError(None, "choose one scenario: --resume-at or --from-weights")
    new = {"epochs": args.new_epochs, "lr0": args.new_lr0, "lrf": args.new_lrf, "cos_lr": args.new_cos_lr}
    if args.resume_at is not None:
        if args.new_warmup_epochs is not None or args.new_warmup_bias_lr is not None:
            raise InputError(None, "--new-warmup-* apply to --from-weights (a resume keeps the run's warmup)")
        plan = plan_resume(cfg, args.resume_at, new)
    elif args.from_weights is not None:
        new.update(warmup_epochs=args.new_warmup_epochs, warmup_bias_lr=args.new_warmup_bias_lr)
        plan = plan_from_weights(cfg, args.from_weights, new)
    elif cfg.time is not None:
        if not get_trainer(cfg.framework).time_budget({"time": cfg.time}):
            raise InputError(None, "--time is an Ultralytics option")
        if args.epoch_seconds is None:
            plan = plan_fresh(cfg)
            plan.notes.append("give --epoch-seconds to simulate how time= re-plans the epochs")
        else:
            if args.epoch_seconds <= 0:
                raise InputError(None, "--epoch-seconds must be positive")
            plan = plan_time(cfg, args.epoch_seconds, args.first_epoch_seconds)
    else:
        if any(v is not None for v in new.values()):
            raise InputError(None, "--new-* options need a scenario: --resume-at E or --from-weights E")
        plan = plan_fresh(cfg)
    lint_plan(plan)
    return plan


def run(args: argparse.Namespace) -> int:
    """Build, print and plot the plan; return the exit code."""
    from lrguard.model import Severity

    plan = build_plan(args)
    if args.json:
        import json

        from lrguard.plan.render import plan_dict

        sys.stdout.write(json.dumps(plan_dict(plan), indent=2) + "\n")
    else:
        from lrguard.plan.render import render_plan

        render_plan(plan)
    if args.html:
        from lrguard.reports.html import write_plan_html

        write_plan_html([plan], args.html)
        print(f"wrote {args.html}", file=sys.stderr)
    if args.png:
        from lrguard.reports.png import write_plan_png

        write_plan_png(plan, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    if args.fail_on == "never":
        return EXIT_OK
    threshold = Severity(args.fail_on)
    return EXIT_FINDINGS if any(x.severity.rank >= threshold.rank for x in plan.lints) else EXIT_OK
