"""Caption text for KiCad components: tree keys from footprint names and captions for each level.

Footprint names follow the KiCad library conventions, ``<Family>[-<pins>]_<dimensions>_<options>`` (SOIC-8_3.9x4.9mm
_P1.27mm, PinHeader_2x05_P1.27mm_Horizontal, C_0805_2012Metric). The family is the name before the first token with
a digit (or the letters before the pin count, "SOIC-8" -> "SOIC"); the variant adds that first token (the pin count,
rows or size class: "SOIC-8", "PinHeader_2x05", "C_0805"). Captions only restate what the files say: the library
and family names, words every footprint of the node shares (tags, leading descr clauses) and the footprint's own
descr and tags, with web links, datasheet pointers and generator notes removed; dimensions are kept verbatim.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from hyperalign.data.sweethome3d.text import article

# Component prefixes of the KiCad library conventions: the first name token -> what it denotes.
PREFIXES = {
    "C": "capacitor",
    "CP": "polarized capacitor",
    "R": "resistor",
    "L": "inductor",
    "D": "diode",
    "SW": "switch",
}
MAX_LIBRARY_TAGS = 5
MIN_LIBRARY_TAG_SHARE = 0.25
_URL = re.compile(
    r"(?:https?://|ftp://|www\.|\b[a-z][\w-]*(?:\.[\w-]+)*\.(?:com|org|net|de|jp|cn|io|kr|tw|eu|co\.uk)/)"
    r"\S*[^\s.,;:)\]]",
    re.IGNORECASE,
)
_LINK = "\x00"  # stands for a removed link while the words pointing at it are removed
_LINK_POINTER = re.compile(
    r"(?:\b(?:see(?: also)?|e\.g\.|datasheet|data sheet|source|refer to|according to|can be found|found|available"
    r"|(?:figure|section|chapter|table)\s+[\w.]+|page\s+[0-9]+|at|from|of|in|on|under)\s*:?\s*)*" + _LINK,
    re.IGNORECASE,
)
_GENERATOR = re.compile(
    r"[,;]?\s*\(?(?:generated|created|made)\s+(?:with|by|using)\s+[^,;()]*\)?"
    r"|[,;]?\s*\(?script[- ]generated(?:\s+(?:with|by|using)\s+[^,;()]*)?\)?"
    r"|[,;]?\s*[\[(]?(?:kicad )?stepup generated footprint[\])]?"
    r"|[,;]?\s*\(from kicad [0-9.]+!?\)",
    re.IGNORECASE,
)
_POINTER = re.compile(r"\b(?:see(?: also)?|datasheet|data sheet|source|refer to|according to)\s*:?\s*(?=[),;]|$)",
                      re.IGNORECASE)  # fmt: skip
_REFERENCE_GROUP = re.compile(r"\((?:[^()]*\b(?:see|datasheet|source:|page)\b[^()]*)\)", re.IGNORECASE)
# Empty brackets, or a label whose link was removed: "(Body size from: <url>)", "(footprint from <url>)".
_PAGE = re.compile(r"[,;]?\s*\b(?:p|pp|page)\.?\s*[0-9]+(?:-[0-9]+)?\b", re.IGNORECASE)  # a page of a removed link
_EMPTY_GROUP = re.compile(r"\(\s*[,;:]*\s*\)|\[\s*[,;:]*\s*\]|\([^()]*(?::|\bfrom|\bsee)\s*\)"
                          r"|\((?:footprint|datasheet|source)\)", re.IGNORECASE)  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-/]*")


def family_key(name: str) -> str:
    """The family part of a footprint name: tokens before the first one with a digit ("PinHeader_2x05" -> "PinHeader"),
    else the first token without its pin count ("SOIC-8_3.9x4.9mm" -> "SOIC"); a name without digits keeps all but
    its last token."""
    tokens = [t for t in name.split("_") if t]
    head = _head(tokens)
    if head:
        return "_".join(head)
    return re.sub(r"-[0-9].*$", "", tokens[0]) or tokens[0]


def variant_key(name: str) -> str:
    """The family part plus the first token with a digit ("SOIC-8", "PinHeader_2x05", "C_0805"); a name without
    digits is its own variant."""
    tokens = [t for t in name.split("_") if t]
    head = _head(tokens)
    return "_".join(tokens[: len(head) + 1]) if len(head) < len(tokens) else name


def _head(tokens: Sequence[str]) -> list[str]:
    head: list[str] = []
    for token in tokens:
        if any(ch.isdigit() for ch in token):
            return head
        head.append(token)
    return head[:-1] if len(head) > 1 else head


def readable(key: str) -> str:
    """A name as words: underscores become spaces and CamelCase is split ("PinHeader_2x05" -> "Pin Header 2x05")."""
    return " ".join(_CAMEL.sub(" ", key.replace("_", " ")).split())


def family_phrase(family: str) -> str:
    """The family name as words, a leading component prefix spelled out ("C" -> "capacitor", "R_Box" ->
    "resistor Box")."""
    first, _, rest = family.partition("_")
    if first in PREFIXES:
        return f"{PREFIXES[first]} {readable(rest)}".strip()
    return readable(family)


def clean_descr(descr: str) -> str:
    """``descr`` without web links, datasheet pointers and generator notes; wording and dimensions unchanged."""
    text = _LINK_POINTER.sub("", _URL.sub(_LINK, descr)).replace(_LINK, "")
    text = _GENERATOR.sub("", text)
    text = _PAGE.sub("", text)
    text = _REFERENCE_GROUP.sub("", text)
    text = _POINTER.sub("", text)
    for _ in range(3):
        text = _EMPTY_GROUP.sub("", text)
        text = re.sub(r"\s+([,;:)\]])", r"\1", text)
        text = re.sub(r"([(\[])\s+", r"\1", text)
        text = re.sub(r"[,;:]\s*([)\]])", r"\1", text)
        text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = " ".join(text.split())
    return text.strip(" ,;:-")


def clauses(text: str) -> list[str]:
    """Comma-separated clauses of a text, outside parentheses, stripped."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return [c for c in out if c]


def common_clauses(texts: Sequence[str]) -> list[str]:
    """The leading clauses every text starts with, in order (case-insensitive match, first spelling kept)."""
    split = [clauses(t) for t in texts]
    common = []
    for position, clause in enumerate(split[0] if split else []):
        if all(len(s) > position and s[position].casefold() == clause.casefold() for s in split[1:]):
            common.append(clause)
        else:
            break
    return common


def tag_words(tags: str) -> list[str]:
    """The words of a tag string, in order, without repeats (case-insensitive)."""
    seen: dict[str, str] = {}
    for word in _WORD.findall(tags):
        seen.setdefault(word.casefold(), word)
    return list(seen.values())


def library_caption(library: str, tags: Sequence[str], generic: frozenset[str] = frozenset()) -> str:
    """The library's caption, e.g. "a component from the KiCad Package SO library, often tagged SOIC, SO": the tag
    words on at least a quarter of the library's footprints, most frequent first, leaving out words of the library
    name and ``generic`` words (case-folded; e.g. those common to many libraries)."""
    named = {w.casefold() for w in _WORD.findall(readable(library))} | generic
    counts = Counter(w.casefold() for t in tags for w in tag_words(t))
    spelling = {w.casefold(): w for t in tags for w in tag_words(t)}
    common = [spelling[w] for w, n in counts.most_common() if n >= MIN_LIBRARY_TAG_SHARE * len(tags) and w not in named]
    caption = f"a component from the KiCad {readable(library)} library"
    if common[:MAX_LIBRARY_TAGS]:
        caption += ", often tagged " + ", ".join(common[:MAX_LIBRARY_TAGS])
    return caption


def family_caption(family: str, library: str, descrs: Sequence[str]) -> str:
    """The family's caption: "<family> (<clauses all its descrs start with>), a family of the KiCad <library>
    library"."""
    phrase = family_phrase(family)
    shared = [c for c in common_clauses(descrs) if c.casefold() != phrase.casefold()]
    detail = f" ({', '.join(shared)})" if shared else ""
    return f"{phrase}{detail}, a family of the KiCad {readable(library)} library"


def variant_caption(variant: str, family: str, library: str) -> str:
    """The variant's caption: "<variant as words>, a <family> variant in <library>" ("SOIC-8, an SOIC variant in
    Package SO")."""
    phrase = family_phrase(family)
    return f"{readable(variant)}, {article(phrase)} {phrase} variant in {readable(library)}"


def instance_caption(descr: str, tags: str) -> str:
    """The cleaned descr, then the tag words it does not contain yet; the tags alone when the descr was only links;
    empty when both are empty."""
    text = clean_descr(descr)
    if not text:
        return " ".join(tag_words(clean_descr(tags)))
    known = {w.casefold() for w in _WORD.findall(text)}
    extra = [w for w in tag_words(clean_descr(tags)) if w.casefold() not in known]
    return f"{text}; {' '.join(extra)}" if extra else text
