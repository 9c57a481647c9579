"""Read the plain fields of a trainer checkpoint without torch and without the trainers.

A ``torch.save`` file is a zip archive whose ``data.pkl`` holds the pickled object, with tensors
stored separately. Unpickling it with every class replaced by an inert stub and every tensor
storage replaced by ``None`` recovers the plain Python values (``epoch``, ``optimizer`` param
groups, ``opt`` / ``train_args``) safely: no code from the file runs. The tests use it to check the
checkpoints the scenarios leave behind from a process that has not imported the trainers.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any


class Stub:
    """Stand-in for any class or function a checkpoint refers to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


_SAFE = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
}


class _StubUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE:
            return _SAFE[(module, name)]
        return type(name, (Stub,), {"__module__": module})

    def persistent_load(self, pid: Any) -> None:
        return None


def peek_checkpoint(path: Path) -> dict[str, Any]:
    """Return the top-level dict of a checkpoint, with tensors and objects replaced by stubs.

    Args:
        path: A ``.pt`` file written by ``torch.save`` (zip format).

    Returns:
        The unpickled top-level object (a dict for both trainers).

    Raises:
        ValueError: If the file is not a zip-format torch checkpoint.
    """
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if name.endswith("/data.pkl") or name == "data.pkl"]
        if not names:
            raise ValueError(f"{path}: no data.pkl inside; not a zip-format torch checkpoint")
        payload = archive.read(names[0])
    return _StubUnpickler(io.BytesIO(payload)).load()
