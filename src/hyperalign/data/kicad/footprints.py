"""KiCad footprints (``<Library>.pretty/<Name>.kicad_mod``): the description, tags and 3D model references.

A footprint file is one S-expression written by KiCad's own formatter, ``(footprint "<Name>" ... (descr "...")
(tags "...") ... (model "${KICAD6_3DMODEL_DIR}/<Library>.3dshapes/<Model>.wrl" ...))``. Only these three keys are
read, each from its first occurrence; strings are double-quoted with backslash escapes. A model reference is reduced
to its path below the 3D model directory with the ``.wrl`` extension (KiCad loads the VRML beside a STEP reference).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

_STRING = r'"((?:[^"\\]|\\.)*)"'
_DESCR = re.compile(r"\(descr\s+" + _STRING)
_TAGS = re.compile(r"\(tags\s+" + _STRING)
_MODEL = re.compile(r"\(model\s+(?:" + _STRING + r"|([^\s()]+))")
_ESCAPE = re.compile(r"\\(.)")
_VARIABLE = re.compile(r"^\$\{?[A-Za-z0-9_]+\}?/")
MODEL_SUFFIXES = (".wrl", ".step", ".stp", ".wings", ".igs", ".iges")


class FootprintError(ValueError):
    """A footprint file that cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class Footprint:
    """One footprint: its library (``<Library>.pretty``), name, source file, description, tags and model keys."""

    library: str
    name: str
    file: str
    descr: str
    tags: str
    models: tuple[str, ...]  # "<Library>.3dshapes/<Model>.wrl", in file order


def parse_footprint(data: bytes, file: str) -> Footprint:
    """The footprint in ``data``, the bytes of the file ``file`` (a path ending ``<Library>.pretty/<Name>.kicad_mod``).

    Raises :class:`FootprintError` for a file that is not UTF-8 or not a ``(footprint`` / ``(module`` expression.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FootprintError(f"{file}: not UTF-8 text ({exc})") from None
    if not re.match(r"\s*\((footprint|module)\s", text):
        raise FootprintError(f"{file}: not a KiCad footprint; expected the file to start with '(footprint'")
    folder, name = posixpath.split(file)
    library = posixpath.basename(folder).removesuffix(".pretty")
    models = tuple(key for key in (model_key(a or b) for a, b in _MODEL.findall(text)) if key is not None)
    return Footprint(
        library=library,
        name=name.removesuffix(".kicad_mod"),
        file=file,
        descr=_first(_DESCR, text),
        tags=_first(_TAGS, text),
        models=tuple(dict.fromkeys(models)),
    )


def model_key(reference: str) -> str | None:
    """``${KICAD6_3DMODEL_DIR}/Lib.3dshapes/M.step`` -> ``Lib.3dshapes/M.wrl``; None for a path without a folder."""
    path = _VARIABLE.sub("", _ESCAPE.sub(r"\1", reference).strip().replace("\\", "/"))
    stem, suffix = posixpath.splitext(path)
    if suffix.lower() in MODEL_SUFFIXES:
        path = stem + ".wrl"
    parts = path.split("/")
    if len(parts) < 2 or not parts[-2].endswith(".3dshapes") or not path.endswith(".wrl"):
        return None
    return "/".join(parts[-2:])


def _first(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return _ESCAPE.sub(r"\1", match.group(1)).strip() if match else ""
