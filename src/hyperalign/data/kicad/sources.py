"""Where the KiCad files come from: the Debian packages ``kicad-footprints`` and ``kicad-packages3d``, either as
``.deb`` archives (``apt-get download``; streamed through ``dpkg-deb --fsys-tarfile``, never unpacked to disk) or as
an installed copy under ``/usr/share/kicad``.

A source is a ``.deb`` file or a directory holding ``<Library>.pretty`` (footprints) or ``<Library>.3dshapes``
(models) folders. Members are yielded as ``(path below the footprint / model directory, bytes)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

INSTALLED_FOOTPRINTS = Path("/usr/share/kicad/footprints")
INSTALLED_MODELS = Path("/usr/share/kicad/3dmodels")
FOOTPRINT_PACKAGE = "kicad-footprints"
MODEL_PACKAGE = "kicad-packages3d"
_DEB_PREFIX = {FOOTPRINT_PACKAGE: "usr/share/kicad/footprints/", MODEL_PACKAGE: "usr/share/kicad/3dmodels/"}


class SourceError(ValueError):
    """A missing, unreadable or corrupt source; the message names the file and the reason."""


def locate(package: str, given: Path | None, debs: Path, installed: Path) -> Path:
    """The source of ``package``: ``given`` if set, else the installed copy, else ``<debs>/<package>_*.deb``."""
    if given is not None:
        if not given.exists():
            raise SourceError(f"{given}: no such file or directory; expected the {package} .deb or its folder")
        return given
    if installed.is_dir() and any(installed.iterdir()):
        return installed
    found = sorted(debs.glob(f"{package}_*.deb")) if debs.is_dir() else []
    if not found:
        raise SourceError(
            f"{debs}: no {package}_*.deb and no installed copy in {installed}; run "
            f"`cd {debs} && apt-get download {package}` or pass its path"
        )
    return found[-1]


def download(packages: tuple[str, ...], debs: Path) -> None:
    """``apt-get download`` the packages into ``debs`` (the Debian archive; kicad-packages3d is 379 MB)."""
    if shutil.which("apt-get") is None:
        raise SourceError(f"apt-get not found: download {', '.join(packages)} by hand into {debs}")
    debs.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["apt-get", "download", *packages], cwd=debs, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SourceError(f"apt-get download {' '.join(packages)} failed in {debs}: {done.stderr.strip()[-500:]}")


def identity(source: Path) -> dict[str, object]:
    """What identifies a source's content for the cache: path, and size and modification time of a file."""
    stat = source.stat()
    return {"path": str(source.resolve()), "size": stat.st_size if source.is_file() else None,
            "mtime_ns": stat.st_mtime_ns if source.is_file() else None}  # fmt: skip


def members(
    source: Path, package: str, suffix: str, wanted: Callable[[str], bool] = lambda _: True
) -> Iterator[tuple[str, bytes | None]]:
    """Every ``*<suffix>`` member of the source as (relative path, bytes); bytes are read only when ``wanted(path)``
    (None otherwise), so a listing pass costs no copies. Raises :class:`SourceError` for a corrupt archive."""
    if source.is_dir():
        for path in sorted(source.glob(f"*/*{suffix}")):
            rel = path.relative_to(source).as_posix()
            yield rel, (path.read_bytes() if wanted(rel) else None)
        return
    yield from _deb_members(source, _DEB_PREFIX[package], suffix, wanted)


def _deb_members(
    deb: Path, prefix: str, suffix: str, wanted: Callable[[str], bool]
) -> Iterator[tuple[str, bytes | None]]:
    if shutil.which("dpkg-deb") is None:
        raise SourceError(f"{deb}: dpkg-deb (Debian package dpkg) is needed to read .deb archives")
    process = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", os.fspath(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    complete = False
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
            for info in archive:
                name = info.name.removeprefix("./")
                if not (info.isfile() and name.startswith(prefix) and name.endswith(suffix)):
                    continue
                rel = name[len(prefix) :]
                data = None
                if wanted(rel):
                    extracted = archive.extractfile(info)
                    data = extracted.read() if extracted is not None else b""
                yield rel, data
        complete = True
    except tarfile.TarError as exc:
        raise SourceError(f"{deb}: corrupt archive ({exc}); {_stderr(process)}") from None
    finally:
        if not complete:
            process.kill()
        process.stdout.close()
        code = process.wait()
    if code != 0:
        raise SourceError(f"{deb}: dpkg-deb failed (exit {code}): {_stderr(process)}")


def _stderr(process: subprocess.Popen[bytes]) -> str:
    try:
        text = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
    except ValueError:
        text = ""
    return " ".join(text.split())[-300:] or "no message from dpkg-deb"
