"""Where an ``.npy`` blob keeps a pickle: after the header, when its dtype holds Python objects.

``numpy.load(..., allow_pickle=True)`` unpickles an object array's data; a plain numeric array holds
no pickle at all. The header is a Python literal read with :func:`ast.literal_eval` (never executed).
"""

from __future__ import annotations

import ast
import re

NPY_MAGIC = b"\x93NUMPY"
_DESCR = re.compile(rb"['\"]descr['\"]\s*:\s*(.+?)\s*,\s*['\"](fortran_order|shape)['\"]", re.S)


def npy_pickle_offset(buf: bytes) -> int | None:
    """Offset of the pickle in an ``.npy`` blob holding an object array (``None`` when it holds none)."""
    if not buf.startswith(NPY_MAGIC) or len(buf) < 10:
        return None
    major = buf[6]
    if major == 1:
        hlen, hstart = int.from_bytes(buf[8:10], "little"), 10
    else:
        hlen, hstart = int.from_bytes(buf[8:12], "little"), 12
    header = buf[hstart : hstart + hlen]
    try:
        meta = ast.literal_eval(header.decode("latin-1"))
        descr = repr(meta.get("descr")) if isinstance(meta, dict) else ""
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        m = _DESCR.search(header)
        descr = m.group(1).decode("latin-1") if m else "O"  # unreadable header: assume the worst
    if "O" not in descr:
        return None
    return hstart + hlen
