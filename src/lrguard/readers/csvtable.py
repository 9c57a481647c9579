"""Parse a trainer's results.csv robustly.

Handles YOLOv5's space-padded cells, Ultralytics' plain cells, unknown extra columns, a last line
still being written (no trailing newline: dropped, with a note), and rows appended by a second run
(a repeated header line marks where it starts). Garbage gives :class:`~lrguard.errors.InputError`
naming the file, line and problem.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from lrguard.constants import EPOCH_COLUMN
from lrguard.errors import InputError, NotReadyError
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
        raise NotReadyError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a results.csv file") from None
    except OSError as exc:
        raise InputError.from_os_error(exc, path) from None
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
    partial = ""
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
        if incomplete and partial.strip():
            raise NotReadyError(
                path, f"no complete line yet ({len(raw)} bytes without a newline: the header is still being written)"
            )
        raise NotReadyError(path, "no header line (the file is empty)")
    header = [h.strip() for h in lines[first].split(",")]
    if EPOCH_COLUMN not in header:
        shown = ", ".join(header[:4]) + (", ..." if len(header) > 4 else "")
        raise InputError(path, f"no 'epoch' column in the header (found: {shown}); not a YOLO results.csv")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputError(path, f"duplicate column names in the header: {', '.join(dup)}")
    body = lines[first + 1 :]
    fast = _parse_plain_body(body, len(header))
    if fast is not None:
        # Common case: no blank line, no repeated header, no empty cell - parsed in C in one go.
        return _table(path, header, fast, np.arange(first + 2, first + 2 + len(body)), None), notes, []
    data_lines: list[str] = []
    line_numbers: list[int] = []
    header_repeats: list[int] = []
    for idx in range(first + 1, len(lines)):
        line = lines[idx]
        if not line.strip():
            continue
        if EPOCH_COLUMN in line and [c.strip() for c in line.split(",")] == header:
            header_repeats.append(len(data_lines))
            continue
        data_lines.append(line)
        line_numbers.append(idx + 1)
    arr, missing = _parse_cells(path, header, data_lines, line_numbers)
    return _table(path, header, arr, np.array(line_numbers, dtype=int), missing), notes, header_repeats


def _table(
    path: Path, header: list[str], arr: np.ndarray, line_numbers: np.ndarray, missing: np.ndarray | None
) -> Table:
    if missing is None:
        missing = np.zeros(arr.shape, dtype=bool)
    return Table(
        path=path,
        columns=header,
        values={name: arr[:, j].copy() for j, name in enumerate(header)},
        line_numbers=line_numbers,
        missing={name: missing[:, j].copy() for j, name in enumerate(header)},
    )


def _parse_plain_body(body: list[str], ncol: int) -> np.ndarray | None:
    """Parse data lines with numpy's C reader when nothing unusual is in them, else ``None``."""
    if not body:
        return None
    text = "\n".join(body)
    if (
        EPOCH_COLUMN in text  # a repeated header line
        or ",," in text
        or text.count(",") != (ncol - 1) * len(body)
        or any(
            not line.strip() or line.rstrip().endswith(",") or line.lstrip().startswith(",")
            for line in (body[0], body[-1])
        )
        or "\n\n" in text
    ):
        return None
    try:
        arr = np.loadtxt(io.StringIO(text), delimiter=",", dtype=float, ndmin=2, comments=None)
    except ValueError:
        return None
    return arr if arr.shape == (len(body), ncol) else None


def _parse_cells(
    path: Path, header: list[str], data_lines: list[str], line_numbers: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Convert the data lines to a float array and a mask of empty cells."""
    ncol = len(header)
    if not data_lines:
        return np.zeros((0, ncol)), np.zeros((0, ncol), dtype=bool)
    if all(line.count(",") == ncol - 1 for line in data_lines) and ",," not in "".join(data_lines):
        try:
            # Fast path: numpy's C parser (handles the padding); falls through on empty cells or garbage.
            arr = np.loadtxt(io.StringIO("\n".join(data_lines)), delimiter=",", dtype=float, ndmin=2, comments=None)
            if arr.shape == (len(data_lines), ncol):
                return arr, np.zeros(arr.shape, dtype=bool)
        except ValueError:
            pass
    cells = [c.split(",") for c in data_lines]
    for k, row in enumerate(cells):
        if len(row) != ncol:
            raise InputError(path, f"line {line_numbers[k]} has {len(row)} fields, the header has {ncol}")
    flat = [c.strip() for row in cells for c in row]
    missing = np.array([c == "" for c in flat], dtype=bool).reshape(len(cells), ncol)
    try:
        arr = np.array([c if c else "nan" for c in flat], dtype=float).reshape(len(cells), ncol)
    except ValueError:
        _raise_bad_cell(path, header, cells, line_numbers)
        raise  # pragma: no cover - _raise_bad_cell always raises
    return arr, missing


def _raise_bad_cell(path: Path, header: list[str], cells: list[list[str]], line_numbers: list[int]) -> None:
    """Find the first cell that is not a number and raise an InputError naming it."""
    for k, row in enumerate(cells):
        for col, raw in zip(header, row, strict=True):
            cell = raw.strip()
            if not cell:
                continue
            try:
                float(cell)
            except ValueError:
                shown = cell if len(cell) <= 20 else cell[:20] + "..."
                raise InputError(path, f"line {line_numbers[k]}, column '{col}': {shown!r} is not a number") from None
    raise InputError(path, "a cell is not a number")
