"""Errors lrguard reports to users as one line naming the file and the problem."""

from __future__ import annotations

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


class InputError(LrguardError):
    """A file exists but cannot be parsed (garbage CSV, bad YAML, truncated checkpoint)."""


class NotARunError(LrguardError):
    """A directory holds none of the files a training run writes."""
