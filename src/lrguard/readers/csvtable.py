"""Parse a trainer's results.csv robustly.

Handles YOLOv5's space-padded cells, Ultralytics' plain cells, unknown extra columns, a last line
still being written (no trailing newline: dropped, with a note), and rows appended by a second run
(a repeated header line marks where it starts). Garbage gives :class:`~lrguard.errors.InputError`
naming the file, line and problem.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lrguard.constants import EPOCH_COLUMN
from lrguard.errors import InputError
from lrguard.model import Table

MAX_CSV_BYTES = 512 * 1024 * 1024


def parse_results_csv(path: Path) -> tuple[Table, list[str], list[int]]:
    """Read ``path`` into a :class:`Table`.

    Args:
        path: A results.csv written by YOLOv5 or Ultralytics.

    Returns:
        ``(table, notes, header_repeats)``: the parsed rows, remarks about the file (e.g. an
        incomplete last line), and the data-row indices at which a repeated header line appeared.

    Raises:
        InputError: The file is missing, unreadable, binary, has no ``epoch`` column, or a complete
            line cannot be parsed.
    """
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise InputError(path, f"file is {size} bytes, larger than results.csv files get")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a results.csv file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        nul = raw.index(b"\x00")
        raise InputError(path, f"not a CSV text file (binary data at byte {nul})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not a UTF-8 CSV text file (bad byte at offset {exc.start})") from None
    notes: list[str] = []
    lines = text.split("\n")
    incomplete = lines[-1] != ""
    if incomplete:
        partial = lines.pop()
        notes.append(
            f"last line {len(lines) + 1} is incomplete ({len(partial)} characters, no newline yet; "
            "the file is probably still being written): read up to the last complete row"
        )
    else:
        lines.pop()
    lines = [ln.rstrip("\r") for ln in lines]
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise InputError(path, "no header line (the file is empty)")
    header = [h.strip() for h in lines[first].split(",")]
    if EPOCH_COLUMN not in header:
        shown = ", ".join(header[:4]) + (", ..." if len(header) > 4 else "")
        raise InputError(path, f"no 'epoch' column in the header (found: {shown}); not a YOLO results.csv")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputError(path, f"duplicate column names in the header: {', '.join(dup)}")
    ncol = len(header)
    rows: list[list[float]] = []
    line_numbers: list[int] = []
    missing_rows: list[list[bool]] = []
    header_repeats: list[int] = []
    for idx in range(first + 1, len(lines)):
        line = lines[idx]
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if cells == header:
            header_repeats.append(len(rows))
            continue
        if len(cells) != ncol:
            raise InputError(path, f"line {idx + 1} has {len(cells)} fields, the header has {ncol}")
        values: list[float] = []
        miss: list[bool] = []
        for col, cell in zip(header, cells, strict=True):
            if cell == "":
                values.append(math.nan)
                miss.append(True)
                continue
            try:
                values.append(float(cell))
            except ValueError:
                shown = cell if len(cell) <= 20 else cell[:20] + "..."
                raise InputError(path, f"line {idx + 1}, column '{col}': {shown!r} is not a number") from None
            miss.append(False)
        rows.append(values)
        missing_rows.append(miss)
        line_numbers.append(idx + 1)
    arr = np.array(rows, dtype=float).reshape(len(rows), ncol)
    miss_arr = np.array(missing_rows, dtype=bool).reshape(len(rows), ncol)
    table = Table(
        path=path,
        columns=header,
        values={name: arr[:, j].copy() for j, name in enumerate(header)},
        line_numbers=np.array(line_numbers, dtype=int),
        missing={name: miss_arr[:, j].copy() for j, name in enumerate(header)},
    )
    return table, notes, header_repeats
