"""Atomic writes: a file or a whole directory is built beside its target and renamed into place, so a crash leaves
either the previous version or the complete new one, never a half-written one."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
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
    remove_stale_leftovers(target)
    # A unique name rather than mkstemp: the writer creates the file, so it gets the usual umask permissions.
    tmp = _sibling(target, "tmp", target.suffix)
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


def _sibling(target: Path, kind: str, suffix: str = "") -> Path:
    """``.<name>.<pid>-<12 hex>.<kind><suffix>`` beside ``target``: the writing process is part of the name, so a
    leftover of a killed writer can be told from the work of a live one."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.{kind}{suffix}")


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs; a zombie (killed, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:  # Linux: the state follows the command name in parentheses, which may itself hold spaces or ')'
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def remove_stale_leftovers(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary (``.tmp``) and replaced (``.old``) siblings of ``target`` that a killed writer left.

    Only names of this module's own pattern (``.<name>.<pid>-<12 hex>.tmp|old[<suffix>]``) whose process is gone
    are removed; anything else beside ``target`` is left alone. Returns the removed paths.
    """
    target = Path(target)
    suffix = re.escape(target.suffix)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)-[0-9a-f]{{12}}\.(?:tmp|old)(?:{suffix})?")
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    for entry in target.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if match is None or _pid_alive(int(match[1])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def json_field_equals(path: str | os.PathLike[str], key: str, value: object) -> bool:
    """True if ``path`` is a JSON object whose ``key`` is ``value``: how an artefact directory recognises its own
    marker file (a dataset's ``index.json`` has no ``format`` field of an index)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get(key) == value


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
    remove_stale_leftovers(target)
    tmp = _sibling(target, "tmp")
    tmp.mkdir(mode=0o700)
    try:
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
        if target.exists():
            old = _sibling(target, "old")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
