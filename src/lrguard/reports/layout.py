"""Text layout for the terminal reports: word wrapping that never breaks a command, with hanging indents.

A report line is a list of styled segments. It is wrapped to the output width at spaces, except
spaces inside a pair of backticks: a `command you paste` always stays on one line (it overflows
the width rather than break). Continuation lines are indented under the start of the text, so
wrapped output stays readable in an 80-column terminal, a CI log or a file.

Output goes to a plain text stream (ANSI colours only on a terminal, and never with ``NO_COLOR``)
or, when one is given, to a ``rich`` console; this module itself never imports rich, which keeps
``lrguard diagnose`` fast.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

Segment = tuple[str, str | None]  # (text, style such as "bold yellow", or None)

MIN_WIDTH = 40

_SGR = {
    "bold": "1",
    "dim": "2",
    "italic": "3",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "white": "37",
}


def tokens(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every word of ``text``: runs of non-spaces, spaces inside backticks included.

    An unpaired backtick protects nothing (it is an ordinary character).
    """
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    # positions of backticks that have a partner
    ticks = [m.start() for m in re.finditer("`", text)]
    paired = set(ticks[: len(ticks) - len(ticks) % 2])
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            break
        start = i
        in_code = False
        while i < n and (in_code or text[i] != " "):
            if text[i] == "`" and i in paired:
                in_code = not in_code
            i += 1
        spans.append((start, i))
    return spans


def wrap(text: str, width: int, first: int = 0, hang: int | None = None) -> list[tuple[int, int]]:
    """Break ``text`` into lines; return the ``(start, end)`` slice of each.

    Args:
        text: The text (no newlines).
        width: Total columns available, prefixes included.
        first: Columns taken on the first line by its prefix.
        hang: Columns of indentation of every continuation line (default: ``first``).

    A word that does not fit on a fresh line is kept whole on a line of its own.
    """
    hang = first if hang is None else hang
    words = tokens(text)
    if not words:
        return [(0, 0)]
    lines: list[tuple[int, int]] = []
    start, end = words[0]
    room = max(width - first, 1)
    for a, b in words[1:]:
        if (b - start) <= room:
            end = b
            continue
        lines.append((start, end))
        start, end = a, b
        room = max(width - hang, 1)
    lines.append((start, end))
    return lines


def output_width(stream: TextIO | None = None) -> int:
    """Columns to wrap at: the terminal's width, else ``COLUMNS``, else 80 (never under 40)."""
    stream = stream or sys.stdout
    cols = None
    try:
        if stream.isatty():
            cols = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        cols = None
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        cols = int(env)  # an explicit setting wins, as for shutil and rich
    if not cols:
        cols = 80  # not a terminal (a pipe, CI): shutil's fallback too, without importing shutil
    return max(int(cols), MIN_WIDTH)


def wants_color(stream: TextIO) -> bool:
    """ANSI colours on a terminal, unless ``NO_COLOR`` is set or ``TERM`` is ``dumb``."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (ValueError, AttributeError):
        return False


def _sgr(style: str | None) -> str:
    if not style:
        return ""
    codes = [_SGR[w] for w in style.split() if w in _SGR]
    return f"\x1b[{';'.join(codes)}m" if codes else ""


@dataclass
class Writer:
    """Where wrapped lines go: a text stream, or a rich console (``console``) when one is given.

    Attributes:
        stream: Text stream for plain output (``sys.stdout`` by default).
        width: Columns to wrap at.
        color: Whether to write ANSI styles to ``stream``.
        console: A ``rich.console.Console``; when set, lines are printed through it, unwrapped by rich.
    """

    stream: TextIO
    width: int
    color: bool = False
    console: Any = None

    @classmethod
    def for_output(cls, console: Any = None, stream: TextIO | None = None) -> Writer:
        """A writer for ``console`` if given, else for ``stream`` (stdout) with its width and colour."""
        if console is not None:
            return cls(stream=console.file, width=max(int(console.width), MIN_WIDTH), console=console)
        stream = stream or sys.stdout
        return cls(stream=stream, width=output_width(stream), color=wants_color(stream))

    def line(
        self, segments: Sequence[Segment], first: str = "", hang: int | None = None, first_style: str | None = None
    ) -> None:
        """Write ``first`` then ``segments`` wrapped to the width; continuation lines indented by ``hang``.

        ``hang`` defaults to the width of ``first``; ``first_style`` styles ``first`` (a table header).
        """
        plain = "".join(t for t, _ in segments)
        hang = len(first) if hang is None else hang
        for k, (a, b) in enumerate(wrap(plain, self.width, len(first), hang)):
            parts = list(_slice(segments, a, b))
            if k == 0 and first_style:
                self._emit("", [(first, first_style), *parts])
            else:
                self._emit(first if k == 0 else " " * hang, parts)

    def blank(self) -> None:
        """An empty line."""
        self._emit("", [])

    def _emit(self, prefix: str, parts: list[Segment]) -> None:
        if self.console is not None:
            from rich.text import Text

            t = Text(prefix)
            for s, style in parts:
                t.append(s, style=style or "")
            self.console.print(t, soft_wrap=True, highlight=False)
            return
        if self.color:
            body = "".join(f"{_sgr(style)}{s}\x1b[0m" if _sgr(style) else s for s, style in parts)
        else:
            body = "".join(s for s, _ in parts)
        self.stream.write(prefix + body + "\n")


def _slice(segments: Sequence[Segment], a: int, b: int) -> Iterable[Segment]:
    """The parts of ``segments`` that fall in ``plain[a:b]``."""
    pos = 0
    for text, style in segments:
        lo, hi = pos, pos + len(text)
        pos = hi
        if hi <= a or lo >= b:
            continue
        yield text[max(a - lo, 0) : min(b, hi) - lo], style


def table(
    w: Writer,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    indent: str = "",
    gap: int = 2,
    header_style: str | None = "dim",
    styles: Sequence[str | None] | None = None,
) -> None:
    """Write a borderless table; the last column wraps under itself, the others keep their widths.

    ``styles`` (one per row, optional) styles each row's last cell.
    """
    cols = len(headers)
    widths = [max([len(headers[c])] + [len(r[c]) for r in rows]) for c in range(cols - 1)]
    lead = len(indent) + sum(widths) + gap * (cols - 1)

    def put(cells: Sequence[str], style: str | None) -> None:
        # the leading cells are the prefix; the last column wraps under its own start
        head = indent + "".join(cells[c].ljust(widths[c] + gap) for c in range(cols - 1))
        w.line([(cells[-1], style)], first=head, hang=lead, first_style=style)

    put(list(headers), header_style)
    for k, r in enumerate(rows):
        put(list(r), styles[k] if styles else None)
