"""Entry point of the ``lrguard`` command.

Sub-commands are registered from modules that each expose ``add_parser(subparsers)`` (which calls
``subparsers.add_parser(...)`` and ``set_defaults(handler=run)``) and ``run(args) -> int``. Exit
codes: 0 = nothing at or above the failure threshold, 1 = findings at or above it, 2 = bad input
or usage. User-input problems (:class:`~lrguard.errors.LrguardError`, and any ``OSError`` such as a
file without read permission) become one line on stderr naming the file, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lrguard import __version__
from lrguard.errors import LrguardError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2

# Module names under lrguard.cli that provide sub-commands, in --help order.
SUBCOMMAND_MODULES = ("diagnose", "ckpt", "plan", "continue_", "watch")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage + exit 2; keep it one line
        self.exit(EXIT_BAD_INPUT, f"lrguard: {message} (see 'lrguard --help')\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser.

    Args:
        only: Register just this sub-command (keeps start-up fast when the command is known);
            ``None`` registers all of them (for ``--help``).
    """
    parser = _Parser(
        prog="lrguard",
        description=(
            "Explain and prevent learning-rate jumps in YOLOv5 / Ultralytics training runs: diagnose a "
            "run from its own files, inspect checkpoints without executing them, preview schedules."
        ),
        epilog="Exit codes: 0 fine, 1 findings at or above --fail-on, 2 bad input or usage.",
    )
    parser.add_argument("--version", action="version", version=f"lrguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMAND_MODULES:
        if only is not None and name.rstrip("_") != only:
            continue
        try:
            module = importlib.import_module(f"lrguard.cli.{name}")
        except ModuleNotFoundError as exc:  # a sub-command not built yet in this checkout
            if exc.name == f"lrguard.cli.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    first = argv[0] if argv else None
    known = {n.rstrip("_") for n in SUBCOMMAND_MODULES}
    parser = build_parser(first if first in known else None)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(handler(args))
    except LrguardError as exc:
        print(f"lrguard: {exc.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("lrguard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # a file or directory the readers did not expect to fail (permissions, I/O)
        print(f"lrguard: {LrguardError.from_os_error(exc, action=None).one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
