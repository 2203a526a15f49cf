"""Atomic writes: a file or a whole directory is built beside its target and renamed into place, so a crash leaves
either the previous version or the complete new one, never a half-written one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix of ``path`` so writers that append one (``np.save``) leave it as is.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique name rather than mkstemp: the writer creates the file, so it gets the usual umask permissions.
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp{target.suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


class RefusedOverwriteError(FileExistsError, ValueError):
    """The output path exists and holds something hyperalign did not write there; it is never replaced."""


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike[str], may_replace: Callable[[Path], bool], what: str = "an index"
) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``path``; on success it replaces ``path``.

    An existing ``path`` is replaced only if it is an empty directory or ``may_replace(path)`` is true, so a mistyped
    output path never deletes an unrelated directory (a run, a dataset); otherwise :class:`RefusedOverwriteError`
    (a ``FileExistsError``) saying it is not the ``what`` expected there.
    """
    target = Path(path)
    if target.exists() and not (target.is_dir() and (not any(target.iterdir()) or may_replace(target))):
        raise RefusedOverwriteError(f"{target}: exists and is not {what} written by hyperalign; refusing to replace it")
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
