"""Entry point of the ``lrguard`` command.

Sub-commands are registered from modules that each expose ``add_parser(subparsers)`` (which calls
``subparsers.add_parser(...)`` and ``set_defaults(handler=run)``) and ``run(args) -> int``. Exit
codes: 0 = nothing at or above the failure threshold, 1 = findings at or above it, 2 = bad input
or usage. User-input problems (:class:`~lrguard.errors.LrguardError`, and any ``OSError`` such as a
file without read permission) become one line on stderr naming the file, exit code 2.

Start-up is lazy: a sub-command's module (and everything it imports) is imported only when that
sub-command is chosen. ``--version``, ``--help`` and usage errors import none of them; the top-level
help lists the sub-commands from :data:`SUBCOMMANDS` (a test keeps it equal to each module's own
``help=``).
"""

from __future__ import annotations

import sys

from lrguard import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (and re) at start-up
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import NoReturn

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2

#: Sub-command name -> (module under lrguard.cli, one-line help), in --help order.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "diagnose": ("diagnose", "explain LR jumps in a run directory"),
    "ckpt": ("ckpt", "inspect/verify checkpoints without executing them"),
    "plan": ("plan", "preview and lint a schedule, a resume with changes, or a continuation"),
    "continue": ("continue_", "write settings + the command for a jump-free continuation of a finished run"),
    "watch": ("watch", "follow a training run and report LR findings as they appear"),
    "run": (
        "run",
        "check a training command's resume before it starts (warn, stop, continue the curve), then guard its steps",
    ),
    "export": ("export", "write every scalar of a run's TensorBoard event files as CSV or JSON lines"),
}
#: Module names under lrguard.cli that provide sub-commands, in --help order.
SUBCOMMAND_MODULES = tuple(module for module, _ in SUBCOMMANDS.values())

_DESCRIPTION = (
    "Explain and prevent learning-rate jumps in YOLOv5 / Ultralytics training runs: diagnose a "
    "run from its own files, inspect checkpoints without executing them, preview schedules."
)
_EPILOG = "Exit codes: 0 fine, 1 findings at or above --fail-on, 2 bad input or usage."


def _parser_class() -> type[argparse.ArgumentParser]:
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:  # argparse would print usage + exit 2; keep it one line
            self.exit(EXIT_BAD_INPUT, f"lrguard: {message} (see 'lrguard --help')\n")

    return _Parser


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser.

    Args:
        only: The chosen sub-command: its module is imported and its full parser registered.
            ``None`` (``--help``, no or an unknown command) registers every sub-command as a name
            and a help line only, importing none of their modules.

    Returns:
        The parser; after ``parse_args`` the namespace's ``handler`` is the chosen sub-command's
        ``run`` (absent when only names were registered).
    """
    import importlib

    parser_class = _parser_class()
    parser = parser_class(prog="lrguard", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"lrguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    for name, (module_name, summary) in SUBCOMMANDS.items():
        if only is None:
            sub.add_parser(name, help=summary, add_help=False)
        elif name == only:
            importlib.import_module(f"lrguard.cli.{module_name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # the common case, without even building a parser
        print(f"lrguard {__version__}")
        return EXIT_OK
    first = argv[0] if argv else None
    parser = build_parser(first if first in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    from lrguard.errors import LrguardError

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
