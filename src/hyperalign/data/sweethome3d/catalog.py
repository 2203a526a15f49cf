"""Sweet Home 3D furniture libraries (``.sh3f``): zip archives of ``PluginFurnitureCatalog*.properties`` plus models.

Item ``i`` of a catalogue is the set of keys ``<field>#i`` (``name#3``, ``model#3``, ...); translated names and
categories come from ``PluginFurnitureCatalog_<locale>.properties``. The licence of an item is its own ``license#i``,
else the catalogue's ``license``, else the one named in the library's ``LICENSE.TXT``; ``license_id`` is its SPDX
identifier when the text names a known licence.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from hyperalign.data.sweethome3d.properties import PropertiesError, parse_properties

CATALOG_PREFIX = "PluginFurnitureCatalog"
_TRANSLATION = re.compile(rf"{CATALOG_PREFIX}_([A-Za-z]{{2,3}}(?:_[A-Za-z0-9]+)*)\.properties")
_ITEM_KEY = re.compile(r"(\w+)#(\d+)")
# Licence texts of LICENSE.TXT, most specific first, and the SPDX identifier each stands for.
_LICENSE_TEXTS = (
    ("Creative Commons Zero", "CC0-1.0"),
    ("Public domain", "CC0-1.0"),
    ("Attribution 3.0 United States", "CC-BY-3.0-US"),
    ("Attribution 3.0", "CC-BY-3.0"),
)


class CatalogError(ValueError):
    """An unreadable library or catalogue entry; the message names the file and the key."""


@dataclass(frozen=True)
class CatalogItem:
    """One piece of furniture of a library, as its catalogue describes it (sizes in centimetres)."""

    library: str
    number: int
    id: str
    name: str
    category: str
    model: str
    width: float
    depth: float
    height: float
    tags: tuple[str, ...] = ()
    creator: str | None = None
    license: str | None = None
    license_id: str | None = None
    model_rotation: tuple[float, ...] | None = None
    door_or_window: bool = False
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


def read_library(path: str | Path) -> tuple[list[CatalogItem], list[tuple[str, str]]]:
    """The items of one ``.sh3f`` library in catalogue order, and ``(entry, reason)`` for entries that are unusable.

    An unreadable archive or catalogue file raises :class:`CatalogError`; one bad entry only skips that entry.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            main = f"{CATALOG_PREFIX}.properties"
            if main not in names:
                raise CatalogError(f"{path}: no {main} inside; expected a Sweet Home 3D furniture library")
            catalog = _read(archive, path, main)
            translations = {m[1]: _read(archive, path, n) for n in sorted(names) if (m := _TRANSLATION.fullmatch(n))}
            license_text = archive.read("LICENSE.TXT").decode("utf-8", "replace") if "LICENSE.TXT" in names else ""
    except (zipfile.BadZipFile, OSError) as exc:
        raise CatalogError(f"{path}: not a readable zip archive ({exc})") from None
    default_license = catalog.get("license") or _license_from_text(license_text)  # an SPDX id from LICENSE.TXT
    items, failures = [], []
    for number, fields in sorted(_group(catalog).items()):
        try:
            items.append(_item(path, number, fields, default_license, translations))
        except CatalogError as exc:
            failures.append((f"{path.stem}#{number}", str(exc)))
    return items, failures


def _read(archive: zipfile.ZipFile, path: Path, name: str) -> dict[str, str]:
    try:
        return parse_properties(archive.read(name), f"{path}!{name}")
    except PropertiesError as exc:
        raise CatalogError(str(exc)) from None


def _group(catalog: dict[str, str]) -> dict[int, dict[str, str]]:
    """``{i: {field: value}}`` from the ``field#i`` keys."""
    items: dict[int, dict[str, str]] = {}
    for key, value in catalog.items():
        match = _ITEM_KEY.fullmatch(key)
        if match:
            items.setdefault(int(match[2]), {})[match[1]] = value
    return items


def _license_from_text(text: str) -> str | None:
    lowered = text.lower()
    return next((spdx for phrase, spdx in _LICENSE_TEXTS if phrase.lower() in lowered), None)


def _item(
    path: Path,
    number: int,
    fields: dict[str, str],
    default_license: str | None,
    translations: dict[str, dict[str, str]],
) -> CatalogItem:
    def need(key: str) -> str:
        value = fields.get(key, "").strip()
        if not value:
            raise CatalogError(f"{path}: catalogue item #{number} has no '{key}#{number}'")
        return value

    def size(key: str) -> float:
        try:
            value = float(need(key))
        except ValueError:
            raise CatalogError(f"{path}: '{key}#{number}' = {fields[key]!r} is not a number") from None
        if not value > 0:
            raise CatalogError(f"{path}: '{key}#{number}' = {value} must be > 0 (centimetres)")
        return value

    license = fields.get("license", "").strip() or default_license
    return CatalogItem(
        library=path.stem,
        number=number,
        id=need("id"),
        name=need("name"),
        category=need("category"),
        model=need("model"),
        width=size("width"),
        depth=size("depth"),
        height=size("height"),
        tags=tuple(tag.strip() for tag in fields.get("tags", "").split(",") if tag.strip()),
        creator=fields.get("creator", "").strip() or None,
        license=license,
        license_id=_license_from_text(license or ""),
        model_rotation=_rotation(path, number, fields.get("modelRotation")),
        door_or_window=fields.get("doorOrWindow", "false").strip().lower() == "true",
        translations={
            locale: text
            for locale, catalog in translations.items()
            if (text := {k: catalog[f"{k}#{number}"] for k in ("name", "category") if catalog.get(f"{k}#{number}")})
        },
    )


def _rotation(path: Path, number: int, value: str | None) -> tuple[float, ...] | None:
    """``modelRotation``: nine numbers, the rows of a 3x3 matrix applied to model coordinates."""
    if value is None or not value.strip():
        return None
    try:
        numbers = tuple(float(v) for v in value.split())
    except ValueError:
        numbers = ()
    if len(numbers) != 9:
        raise CatalogError(f"{path}: 'modelRotation#{number}' = {value!r}; expected nine numbers (a 3x3 matrix)")
    return numbers
