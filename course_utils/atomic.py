"""Write a file atomically: readers see the old file or the complete new one, never half of it.

Every writer of a file that may be read while it is written, or that a crash must not leave half-written (MNIST
downloads and caches, checkpoints, exports, grades), goes through ``atomic_write``.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds, else it is removed.

    The temporary name keeps the suffix (``.gz``), so it is read the way the final file will be. The finished file
    gets the usual permissions (``mkstemp`` makes it owner-only), so a shared folder stays readable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
