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
    def from_os_error(cls, exc: OSError, path: str | Path | None = None) -> LrguardError:
        """The one-line error for an ``OSError`` met while reading ``path`` (default: the file it names).

        Args:
            exc: What the operating system said (``PermissionError``, ``IsADirectoryError``, ...).
            path: The file or directory concerned when ``exc`` does not name it.
        """
        where = path if path is not None else exc.filename
        return cls(where, os_problem(exc))


def os_problem(exc: OSError) -> str:
    """Plain words for what an ``OSError`` means to a reader: ``"cannot read: permission denied"``."""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot read: permission denied"
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, expected a file"
    if isinstance(exc, NotADirectoryError):
        return "a part of the path is a file, not a directory"
    reason = (exc.strerror or exc.__class__.__name__).lower()
    return f"cannot read: {reason}"


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
