"""Errors lrguard reports to users as one line naming the file and the problem."""

from __future__ import annotations

import errno
from pathlib import Path


class LrguardError(Exception):
    """A problem with the user's input that lrguard reports as one line, exit code 2.

    Args:
        path: The file or directory concerned (may be ``None`` for usage errors).
        problem: What is wrong, in plain words, without a trailing period.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return ``"<path>: <problem>"`` (or just the problem) on a single line."""
        text = " ".join(self.problem.split())
        return f"{self.path}: {text}" if self.path is not None else text

    @classmethod
    def from_os_error(cls, exc: OSError, path: str | Path | None = None, action: str | None = "read") -> LrguardError:
        """The one-line error for an ``OSError`` met on ``path`` (default: the file the error names).

        Args:
            exc: What the operating system said (``PermissionError``, ``IsADirectoryError``, ...).
            path: The file or directory concerned when ``exc`` does not name it.
            action: What lrguard was doing (``"read"``, ``"write"``), or ``None`` when not known.
        """
        where = path if path is not None else exc.filename
        return cls(where, os_problem(exc, action))


def os_problem(exc: OSError, action: str | None = "read") -> str:
    """Plain words for an ``OSError``: ``"cannot read: permission denied"`` (``"permission denied"`` without action)."""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied"
    elif isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    elif isinstance(exc, IsADirectoryError):
        return "is a directory, expected a file"
    elif isinstance(exc, NotADirectoryError):
        return "a part of the path is a file, not a directory"
    else:
        reason = (exc.strerror or exc.__class__.__name__).lower()
    return f"cannot {action}: {reason}" if action else reason


class InputError(LrguardError):
    """A file exists but cannot be parsed (garbage CSV, bad YAML, truncated checkpoint)."""


class NotReadyError(InputError):
    """The input is not complete yet in a way a trainer that is still writing it would fix.

    Examples: a run directory whose ``results.csv`` does not exist yet, an empty ``results.csv``, a header
    without a complete row. ``lrguard watch`` keeps waiting on these; every other error is permanent.
    """


class NotARunError(LrguardError):
    """A directory holds none of the files a training run writes."""


class RunNotStartedError(NotReadyError, NotARunError):
    """A run directory the trainer created but has not logged its first row in yet (no results.csv)."""
