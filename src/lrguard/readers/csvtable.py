"""Parse a trainer's results.csv robustly.

Handles YOLOv5's space-padded cells, Ultralytics' plain cells, unknown extra columns, a last line
still being written (no trailing newline: dropped, with a note), rows appended by a second run
(a repeated header line marks where it starts) and what a crash leaves behind: NUL bytes and rows
with fewer fields than the header, followed by the rows of the next training process. Those are
kept as :class:`~lrguard.model.CrashRemnant` records (a session boundary), not refused. Garbage gives
:class:`~lrguard.errors.InputError` naming the file, line and problem.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from lrguard.constants import EPOCH_COLUMN
from lrguard.errors import InputError, NotReadyError
from lrguard.model import CrashRemnant, Table

MAX_CSV_BYTES = 512 * 1024 * 1024
# Rows with too few fields and no NUL byte beside them are read as torn rows (a crash mid-write) up to
# this many, or this share of the rows; beyond that the file is garbage, not a crashed run.
MAX_TORN_ROWS = 3
MAX_TORN_SHARE = 0.05
_NUL_RUN = re.compile("\x00+")


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
        header_end = raw.find(b"\n")
        # NUL bytes are a crash remnant only in a file that starts with a results.csv header line.
        if header_end < 0 or nul < header_end or EPOCH_COLUMN.encode() not in raw[:header_end]:
            raise InputError(path, f"not a CSV text file (binary data at byte {nul})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not a UTF-8 CSV text file (bad byte at offset {exc.start})") from None
    notes: list[str] = []
    lines = text.split("\n")
    tail: CrashRemnant | None = None
    incomplete = lines[-1] != ""
    partial = ""
    if incomplete:
        partial = lines.pop()
        if "\x00" in partial:  # the file ends in NUL bytes: the process died there
            start = len(raw) - len(partial.encode("utf-8", "replace"))
            tail = CrashRemnant(
                len(lines) + 1,
                start + _first_nul(raw, start),
                partial.count("\x00"),
                len(partial.replace("\x00", "").strip()),
                None,
            )
        else:
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
    raw_header = lines[first].split(",")
    header = [h.strip() for h in raw_header]
    padded = any(h != h.strip() for h in raw_header)
    if EPOCH_COLUMN not in header:
        shown = ", ".join(header[:4]) + (", ..." if len(header) > 4 else "")
        raise InputError(path, f"no 'epoch' column in the header (found: {shown}); not a YOLO results.csv")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputError(path, f"duplicate column names in the header: {', '.join(dup)}")
    body = lines[first + 1 :]
    fast = None if "\x00" in text else _parse_plain_body(body, len(header))
    if fast is not None and tail is None:
        # Common case: no blank line, no repeated header, no empty cell - parsed in C in one go.
        table = _table(path, header, fast, np.arange(first + 2, first + 2 + len(body)), None)
        table.padded = padded
        return table, notes, []
    data_lines: list[str] = []
    line_numbers: list[int] = []
    header_repeats: list[int] = []
    remnants: list[CrashRemnant] = []
    plain_torn: list[tuple[int, int]] = []  # (line, fields) of torn rows without a NUL byte beside them
    offsets = _line_offsets(raw)
    ncol = len(header)
    epoch_at = header.index(EPOCH_COLUMN)
    for idx in range(first + 1, len(lines)):
        line = lines[idx]
        nul_bytes = torn = 0
        if "\x00" in line:
            # Whatever precedes the last run of NULs was written before the crash and never finished;
            # what follows it is the next process's first row.
            pieces = _NUL_RUN.split(line)
            nul_bytes = line.count("\x00")
            torn = len("".join(pieces[:-1]).strip())
            line = pieces[-1]
        if nul_bytes and line.strip() and not _is_whole_row(line, ncol, epoch_at) and not _is_header(line, header):
            torn += len(line.strip())  # the NULs fell inside a row: what follows them is its tail
            line = ""
        if line.strip() and line.count(",") + 1 < ncol and not _is_header(line, header):
            if not nul_bytes:
                plain_torn.append((idx + 1, line.count(",") + 1))
            torn += len(line.strip())
            line = ""
        if nul_bytes or torn:
            offset = offsets[idx] + (_first_nul(raw, offsets[idx]) if nul_bytes else 0)
            remnants.append(CrashRemnant(idx + 1, offset, nul_bytes, torn, len(data_lines)))
        if not line.strip():
            continue
        if EPOCH_COLUMN in line and _is_header(line, header):
            header_repeats.append(len(data_lines))
            continue
        data_lines.append(line)
        line_numbers.append(idx + 1)
    if plain_torn and len(plain_torn) > max(MAX_TORN_ROWS, MAX_TORN_SHARE * len(data_lines)):
        line_no, fields = plain_torn[0]
        raise InputError(path, f"line {line_no} has {fields} fields, the header has {ncol}")
    remnants = [r if r.next_row is not None and r.next_row < len(data_lines) else _at_end(r) for r in remnants]
    if tail is not None:
        remnants.append(tail)
    notes.extend(
        f"crash remnant in results.csv: {r.describe()}; the rows after it come from a new training process"
        if r.next_row is not None
        else f"crash remnant at the end of results.csv: {r.describe()}; the process stopped there"
        for r in remnants
    )
    arr, missing = _parse_cells(path, header, data_lines, line_numbers)
    table = _table(path, header, arr, np.array(line_numbers, dtype=int), missing)
    table.remnants = remnants
    table.padded = padded
    return table, notes, header_repeats


def _is_whole_row(line: str, ncol: int, epoch_at: int) -> bool:
    """Whether ``line`` is a complete data row: ``ncol`` numeric cells and a whole-number epoch."""
    cells = [c.strip() for c in line.split(",")]
    if len(cells) != ncol or not cells[epoch_at].lstrip("-").isdigit():
        return False
    try:
        [float(c) for c in cells if c]
    except ValueError:
        return False
    return True


def _is_header(line: str, header: list[str]) -> bool:
    return [c.strip() for c in line.split(",")] == header


def _at_end(r: CrashRemnant) -> CrashRemnant:
    return CrashRemnant(r.line, r.byte_offset, r.nul_bytes, r.torn_chars, None)


def _line_offsets(raw: bytes) -> list[int]:
    """Byte offset of the start of every line of ``raw``."""
    starts = [0]
    pos = raw.find(b"\n")
    while pos >= 0:
        starts.append(pos + 1)
        pos = raw.find(b"\n", pos + 1)
    return starts


def _first_nul(raw: bytes, start: int) -> int:
    """Offset of the first NUL byte at or after ``start``, relative to ``start``."""
    return raw.index(b"\x00", start) - start


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
