"""Atomic replacement of a whole directory: build it under a temporary sibling, then rename it into place.

Files inside are written plainly (the directory is private until the rename) and fsynced before it. A crash leaves
either the previous directory or the complete new one. Single files use :mod:`hyperalign.data._atomic`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


class NotAnIndexError(FileExistsError, ValueError):
    """The output path exists and holds something other than an index; it is never replaced."""


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], may_replace: Callable[[Path], bool]) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; on success it replaces ``path``.

    An existing ``path`` is replaced only if it is an empty directory or ``may_replace(path)`` is true, so a mistyped
    output path never deletes an unrelated directory (a run, a dataset); otherwise :class:`NotAnIndexError`
    (a ``FileExistsError``).
    """
    target = Path(path)
    if target.exists() and not (target.is_dir() and (not any(target.iterdir()) or may_replace(target))):
        raise NotAnIndexError(f"{target}: exists and is not an index written by hyperalign; refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
        if target.exists():
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.old")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
