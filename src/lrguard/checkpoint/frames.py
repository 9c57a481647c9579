"""What a file-reading unpickler sees when a pickle's frames and opcodes do not line up.

``pickle.loads`` (a bytes reader) reads opcode arguments straight across a ``FRAME`` end. The C
unpickler reading a *file object* (what ``torch.load`` does: ``io.BytesIO`` over ``data.pkl``, or the
open file for the legacy format) keeps only the current frame in its buffer: an argument that does
not fit in what is left of the frame is read from the file *after* the frame, and the rest of the
frame is dropped. A hand-made pickle can so show a bytes reader (and a scanner) harmless data where
``torch.load`` sees opcodes. :func:`file_view` replays the file reader's reads and returns the bytes in
the order that reader consumes them, as one contiguous stream that the ordinary walker can judge.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any

_LINE = -1
_TWO_LINES = -10


@cache
def _arg_table() -> dict[int, tuple[int, int]]:
    """Opcode byte -> (kind, size): kind 0 fixed size, 1/4/8 length-prefixed, -1 one line, -10 two lines."""
    import pickletools

    table: dict[int, tuple[int, int]] = {}
    for op in pickletools.opcodes:
        code = ord(op.code.encode("latin-1"))
        arg = op.arg
        if arg is None:
            table[code] = (0, 0)
        elif arg.n >= 0:
            table[code] = (0, arg.n)
        elif arg.n == pickletools.UP_TO_NEWLINE:
            table[code] = (_TWO_LINES if op.name in ("GLOBAL", "INST") else _LINE, 0)
        elif arg.n == pickletools.TAKEN_FROM_ARGUMENT1:
            table[code] = (1, 0)
        elif arg.n in (pickletools.TAKEN_FROM_ARGUMENT4, pickletools.TAKEN_FROM_ARGUMENT4U):
            table[code] = (4, 0)
        else:
            table[code] = (8, 0)
    return table


class _FileReader:
    """The C unpickler's buffer over a file object without ``peek`` (``io.BytesIO``)."""

    def __init__(self, buf: Any, pos: int) -> None:
        self.buf = buf
        self.pos = pos  # next byte served
        self.buffered_end = pos  # end of what is in the buffer; the file position
        self.out = bytearray()

    def read(self, n: int) -> bytes:
        if self.pos + n <= self.buffered_end:
            data = bytes(self.buf[self.pos : self.pos + n])
            self.pos += n
        else:  # not enough left in the buffer: the rest is dropped, the file is read from its position
            start = self.buffered_end
            data = bytes(self.buf[start : start + n])
            if len(data) < n:
                raise EOFError
            self.pos = self.buffered_end = start + n
        return data

    def readline(self) -> bytes:
        end = self.buf.find(b"\n", self.pos, self.buffered_end)
        if end >= 0:
            data = bytes(self.buf[self.pos : end + 1])
            self.pos = end + 1
            return data
        start = self.buffered_end
        end = self.buf.find(b"\n", start)
        if end < 0:
            raise EOFError
        data = bytes(self.buf[start : end + 1])
        self.pos = self.buffered_end = end + 1
        return data

    def frame(self, k: int) -> None:
        self.read(k)
        self.pos -= k  # the frame is now buffered; opcodes are served from it


def file_view(buf: Any, pos: int = 0, most: int = 64 << 20) -> bytes:
    """The opcodes and arguments of the pickle at ``pos`` in the order a file-reading unpickler reads them.

    ``FRAME`` opcodes are dropped from the result (their effect is applied). Reading stops at ``STOP``,
    at an unknown opcode or at the end of the data; the result then ends there (the walker reports it).
    """
    table = _arg_table()
    r = _FileReader(buf, pos)
    out = r.out
    try:
        while len(out) < most:
            op = r.read(1)
            code = op[0]
            kind, size = table.get(code, (None, 0))  # type: ignore[arg-type]
            if kind is None:
                out += op
                break
            if code == 0x95:  # FRAME
                (k,) = struct.unpack("<Q", r.read(8))
                r.frame(k)
                continue
            out += op
            if kind == 0:
                out += r.read(size)
            elif kind == _LINE:
                out += r.readline()
            elif kind == _TWO_LINES:
                out += r.readline()
                out += r.readline()
            else:
                head = r.read(kind)
                out += head
                n = int.from_bytes(head, "little", signed=kind == 4 and code in (0x54, 0x8B))
                out += r.read(max(n, 0))
            if code == 0x2E:  # STOP
                break
    except EOFError:
        pass
    return bytes(out)
