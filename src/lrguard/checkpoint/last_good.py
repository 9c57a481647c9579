"""A verified last-good copy of a checkpoint that its trainer overwrites in place (YOLOv5/Ultralytics ``last.pt``).

YOLOv5 and Ultralytics ``torch.save`` straight into ``weights/last.pt``: the file is truncated and
rewritten, so a kill during that save leaves a partial ``last.pt`` and nothing else from that
epoch. :class:`LastGood` runs after each such save (from a trainer callback): it copies the file
into a temporary file beside the target, verifies the copy with :func:`lrguard.checkpoint.integrity.verify`
(zip CRCs and sizes, pickle, storages; never executing it) and publishes it by
:func:`lrguard.checkpoint.atomic.save_atomic` as :data:`lrguard.constants.LAST_GOOD_PT`, whose
sidecar manifest (``<file>.lrguard.json``) records its size, hash, source and step/epoch. A kill at
any moment leaves the previous last-good file or the new one, complete and matching its manifest.

It is a copy, not a hard link: a link would share the inode the trainer truncates at its next save.
The name does not start with ``last``, because ``--resume`` in both trainers picks the newest
``last*.pt``. Nothing here imports torch.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO, Any

from lrguard import constants as C
from lrguard.checkpoint.atomic import save_atomic


class NotVerified(OSError):
    """The checkpoint to publish did not verify; the last-good file was left as it was."""


class LastGood:
    """Publishes verified copies of a checkpoint as the last-good one.

    Args:
        directory: Where the last-good file goes (``None``: beside each source).
        name: Its file name.
    """

    def __init__(self, directory: str | Path | None = None, name: str = C.LAST_GOOD_PT) -> None:
        """Remember where to publish; nothing is written until :meth:`publish`."""
        self.directory = Path(directory) if directory is not None else None
        self.name = name
        self.published: Path | None = None
        self.refused: list[tuple[Path, list[str]]] = []

    def target(self, source: str | Path) -> Path:
        """The last-good path for ``source``."""
        return (self.directory or Path(source).parent) / self.name

    def publish(self, source: str | Path, **meta: Any) -> Path | None:
        """Verify a copy of ``source`` and make it the last-good checkpoint.

        Args:
            source: The checkpoint the trainer just wrote (complete: call this after its save returned).
            **meta: Plain values recorded in the manifest (``epoch``, ``step``).

        Returns:
            The last-good path, or ``None`` when the copy did not verify (recorded in
            :attr:`refused`; the previous last-good file and manifest are untouched).
        """
        source = Path(source)
        target = self.target(source)

        def copy(out: IO[bytes]) -> None:
            with source.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)

        def check(tmp: Path) -> None:
            from lrguard.checkpoint.integrity import verify

            report = verify(tmp)
            if not report.ok:
                raise NotVerified(f"{source}: {'; '.join(report.problems)}")

        try:
            save_atomic(copy, target, check=check, meta={**meta, "source": source.name, "verified": True})
        except NotVerified as exc:
            self.refused.append((source, [str(exc)]))
            return None
        self.published = target
        return target
