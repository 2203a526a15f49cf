"""Java ``.properties`` files as ``java.util.Properties.load`` reads them (the Sweet Home 3D catalogue format).

Comment lines start with ``#`` or ``!``; a line ending in an odd number of backslashes continues on the next one
(whose leading blanks are dropped); the key ends at the first unescaped ``=``, ``:`` or blank; escapes are ``\\t``,
``\\n``, ``\\r``, ``\\f``, ``\\uXXXX`` and ``\\<char>`` for the character itself. Bytes are decoded as UTF-8, or as
ISO-8859-1 when they are not valid UTF-8 (the rule of Java's resource bundles).
"""

from __future__ import annotations

import re

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_BLANKS = " \t\f"
_TRAILING_BACKSLASHES = re.compile(r"\\*$")


class PropertiesError(ValueError):
    """A malformed ``.properties`` file; the message names the file and line."""


def parse_properties(data: bytes | str, source: str = "<properties>") -> dict[str, str]:
    """Key -> value of a ``.properties`` file (later duplicates win, as in Java)."""
    text = data if isinstance(data, str) else _decode(data)
    result: dict[str, str] = {}
    for number, line in _logical_lines(text):
        try:
            key, value = _split(line)
            result[_unescape(key)] = _unescape(value)
        except ValueError as exc:
            raise PropertiesError(f"{source}: line {number}: {exc}") from None
    return result


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, joined text) of each non-comment logical line."""
    lines: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        line = raw.lstrip(_BLANKS)
        if pending is None:
            if not line or line[0] in "#!":
                continue
            start, pending = number, ""
        continues = len(_TRAILING_BACKSLASHES.search(line)[0]) % 2 == 1  # type: ignore[index]
        pending += line[:-1] if continues else line
        if not continues:
            lines.append((start, pending))
            pending = None
    if pending is not None:
        lines.append((start, pending))  # a final backslash continues into nothing
    return lines


def _split(line: str) -> tuple[str, str]:
    """The raw key (up to an unescaped separator) and raw value of one logical line."""
    i = 0
    while i < len(line) and line[i] not in "=:" + _BLANKS:
        i += 2 if line[i] == "\\" else 1
    key = line[: min(i, len(line))]
    rest = line[i:].lstrip(_BLANKS)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_BLANKS)
    return key, rest


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\" or i + 1 == len(text):
            out.append("" if char == "\\" else char)
            i += 1
            continue
        code = text[i + 1]
        if code == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"malformed \\uXXXX escape {text[i : i + 6]!r}; expected four hex digits")
            out.append(chr(int(digits, 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(code, code))
            i += 2
    # Java strings are UTF-16: a character outside the BMP arrives as two \u escapes (a surrogate pair).
    return "".join(out).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
