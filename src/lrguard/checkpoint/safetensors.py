"""Read and check a safetensors header (no tensor data is read, nothing is executed).

Format: 8-byte little-endian header length ``N``, ``N`` bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``, then the
byte buffer, which must be fully covered by the tensors without holes or overlaps.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrguard import constants as C
from lrguard.errors import InputError

MAX_HEADER = 100 << 20
ITEMSIZE = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "C64": 8,
}


@dataclass
class SafetensorsHeader:
    """A parsed safetensors header.

    Attributes:
        tensors: Name -> ``{"dtype", "shape", "data_offsets"}``.
        metadata: The ``__metadata__`` strings.
        header_size: ``N``.
        buffer_size: Bytes after the header.
        problems: Inconsistencies (sizes, holes, overlaps, truncation).
    """

    tensors: dict[str, dict[str, Any]]
    metadata: dict[str, str]
    header_size: int
    buffer_size: int
    problems: list[str] = field(default_factory=list)

    def by_dtype(self) -> dict[str, dict[str, int]]:
        """Tensors, elements and bytes per dtype."""
        out: dict[str, dict[str, int]] = {}
        for t in self.tensors.values():
            n = 1
            for s in t["shape"]:
                n *= s
            d = out.setdefault(str(t["dtype"]).lower(), {"tensors": 0, "params": 0, "bytes": 0})
            d["tensors"] += 1
            d["params"] += n
            d["bytes"] += t["data_offsets"][1] - t["data_offsets"][0]
        return out


def is_safetensors(path: Path) -> bool:
    """Whether ``path`` looks like a safetensors file (name or header start)."""
    if path.suffix == C.SAFETENSORS_SUFFIX:
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < MAX_HEADER


def read_header(path: str | Path) -> SafetensorsHeader:
    """Parse and check the header of a safetensors file.

    Raises:
        InputError: The file is too short, the header length is implausible or the JSON is invalid.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise InputError(path, "safetensors file shorter than its 8-byte header length")
            (n,) = struct.unpack("<Q", raw)
            if n > MAX_HEADER or n + 8 > size:
                raise InputError(path, f"safetensors header length {n} exceeds the file ({size} bytes)")
            header = json.loads(fh.read(n))
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise InputError(path, "safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    out = SafetensorsHeader({}, meta if isinstance(meta, dict) else {}, n, size - 8 - n)
    spans = []
    for name, t in header.items():
        ok = (
            isinstance(t, dict)
            and isinstance(t.get("shape"), list)
            and isinstance(t.get("data_offsets"), list)
            and len(t["data_offsets"]) == 2
            and all(isinstance(x, int) for x in (*t["shape"], *t["data_offsets"]))
        )
        if not ok:
            out.problems.append(f"{name}: malformed entry")
            continue
        out.tensors[name] = t
        b, e = t["data_offsets"]
        numel = 1
        for s in t["shape"]:
            numel *= s
        item = ITEMSIZE.get(str(t.get("dtype")))
        if item is not None and e - b != numel * item:
            out.problems.append(f"{name}: {e - b} bytes for {numel} x {t.get('dtype')}")
        if e > out.buffer_size:
            out.problems.append(f"{name}: data ends at {e}, past the {out.buffer_size}-byte buffer (truncated)")
        spans.append((b, e, name))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b > pos:
            out.problems.append(f"hole of {b - pos} bytes before {name}")
        elif b < pos:
            out.problems.append(f"{name} overlaps the previous tensor")
        pos = max(pos, e)
    if pos < out.buffer_size:
        out.problems.append(f"{out.buffer_size - pos} bytes after the last tensor")
    return out
