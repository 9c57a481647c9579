"""Run a module as ``python -m MODULE ARGS...`` would, with the network guard installed first.

Usage: ``python -m harness.guarded MODULE [ARGS...]``. The scenarios use it for the
trainers' own command lines (``yolov5.train --resume ...``) so that the child processes are held to
the same no-network rule as the scenario process.
"""

from __future__ import annotations

import runpy
import sys

from harness.offline import install_network_guard


def main(argv: list[str] | None = None) -> None:
    """Install the guard, then run ``argv[0]`` as ``__main__`` with ``argv[1:]`` as its arguments.

    Args:
        argv: Module name and its arguments; defaults to ``sys.argv[1:]``.

    Raises:
        SystemExit: When no module is named.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit("usage: python -m harness.guarded MODULE [ARGS...]")
    install_network_guard()
    sys.argv = [args[0], *args[1:]]
    runpy.run_module(args[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
