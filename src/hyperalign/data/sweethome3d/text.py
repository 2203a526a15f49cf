"""Caption text for Sweet Home 3D items: articles, room phrases and the caption of each tree level.

Levels, coarse to fine: the class ("a seat, furniture for sitting on"), the name ("an armchair"), the name in its
catalogue category ("an armchair for the office") and the item's description from name, category, class and tags
("an office armchair, a seat"). No sizes: clouds keep their proportions, so sizes in captions would let a bounding
box answer the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hyperalign.data.sweethome3d.classes import CLAUSE_END, IGNORED_TAGS, CoarseClass

# Categories that are rooms: (phrase after a name, adjective before it).
ROOMS = {
    "Bathroom": ("for the bathroom", "bathroom"),
    "Bedroom": ("for the bedroom", "bedroom"),
    "Kitchen": ("for the kitchen", "kitchen"),
    "Living room": ("for the living room", "living room"),
    "Office": ("for the office", "office"),
    "Exterior": ("for outdoors", "outdoor"),
}
MAX_TAGS = 4
# Names read as uncountable: no article.
MASS_NOUNS = frozenset({"butter", "milk", "sugar", "bread", "soap"})
# A vowel letter with a consonant sound ("a unit"), and the reverse ("an hour").
_A_BEFORE = ("eu", "uni", "use", "usu", "uri", "ura", "ure", "uti", "ute", "one", "once")
_AN_BEFORE = ("hour", "honest", "honor", "honour", "heir")
_VOWEL_LETTER_NAMES = set("AEFHILMNORSX")  # letters whose spoken name starts with a vowel (an "F", an "SUV")
_FUNCTION_WORDS = frozenset({"a", "an", "or", "of", "piece"})


def phrase(name: str) -> str:
    """A catalogue name as a phrase: the first word lower-cased unless it is an acronym ("TV 16:9" stays)."""
    first, _, rest = name.strip().partition(" ")
    if first[:1].isupper() and first[1:].islower():
        first = first.lower()
    return f"{first} {rest}".strip()


def with_article(text: str) -> str:
    """``text`` with "a" or "an" in front, or bare for plurals and mass nouns ("tulips", "butter")."""
    clause = CLAUSE_END.split(text, maxsplit=1)[0].strip()
    last = clause.split()[-1].lower() if clause else ""
    if last in MASS_NOUNS or (last.endswith("s") and not last.endswith(("ss", "us", "is", "ics"))):
        return text
    return f"{article(text)} {text}"


def article(text: str) -> str:
    """'a' or 'an' by the sound of the first word (letters of acronyms are spelled out)."""
    word = text.split()[0] if text.split() else ""
    if len(word) > 1 and word.isupper() or (word[:1].isupper() and any(ch.isdigit() for ch in word)):
        return "an" if word[0] in _VOWEL_LETTER_NAMES else "a"
    lower = word.lower()
    if lower.startswith(_AN_BEFORE):
        return "an"
    if lower.startswith(_A_BEFORE):
        return "a"
    return "an" if lower[:1] in "aeiou" else "a"


def name_caption(name: str) -> str:
    """Caption of a name node: "an armchair"."""
    return with_article(phrase(name))


def room_caption(name: str, category: str) -> str:
    """Caption of a name-in-category node: "an armchair for the office"; non-room categories are named as such."""
    room = ROOMS.get(category)
    if room is not None:
        return f"{name_caption(name)} {room[0]}"
    return f"{name_caption(name)}, from the {category.lower()} section of the catalogue"


def room_query(category: str) -> str:
    """A room-level query with no name in it, for room retrieval and shape -> room classification:
    "an item for the kitchen", "an item from the lights section of the catalogue"."""
    room = ROOMS.get(category)
    if room is not None:
        return f"an item {room[0]}"
    return f"an item from the {category.lower()} section of the catalogue"


def instance_caption(name: str, category: str, coarse: CoarseClass, tags: Iterable[str]) -> str:
    """The item's own description: "an office armchair, a seat" plus up to :data:`MAX_TAGS` informative tags.

    The class noun is left out when the name already says it ("a bedroom bed"); a description that would read
    exactly like the name's caption gets the category appended, so the two levels never share a text.
    """
    text = phrase(name)
    room = ROOMS.get(category)
    if room is not None and room[1] not in text.lower():
        text = f"{room[1]} {text}"
    name_words = set(_words(name))
    parts = [with_article(text)]
    if not set(_words(coarse.noun)) - _FUNCTION_WORDS <= name_words:
        parts.append(coarse.noun)
    known = set(_words(f"{text} {category} {coarse.noun}"))
    for tag in tags:
        words = set(_words(tag))
        if tag.strip().lower() in IGNORED_TAGS or not words or words <= known or len(parts) > MAX_TAGS + 1:
            continue
        parts.append(tag.strip().lower())
        known |= words
    if len(parts) == 1 and parts[0] == name_caption(name):
        parts.append(category.lower())
    return ", ".join(parts)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())
