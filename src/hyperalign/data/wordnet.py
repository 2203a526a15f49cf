"""The WordNet 3.0 noun hierarchy, read directly from the database files (Debian ``wordnet-base``).

``index.noun`` maps a lemma to its synsets, most frequent sense first; ``data.noun`` holds one synset per line,
and a synset's offset *is* the byte position of its line, so synsets are parsed lazily on first use. Only nouns are
read. Synsets are named like NLTK's ``chair.n.01``: first lemma, then its sense number for that lemma.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/usr/share/wordnet")
HYPERNYM_POINTERS = ("@", "@i")  # hypernym, instance hypernym
# Tangible things are objects or matter; WordNet also files processes under physical_entity, which we exclude.
TANGIBLE_ROOTS = ("object.n.01", "matter.n.03")
# Regular plural endings and their singular forms (WordNet's "morphy" detachment rules for nouns).
_NOUN_SUFFIXES = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
                  ("ies", "y"), ("s", ""))  # fmt: skip


class WordNetError(ValueError):
    """A missing or malformed WordNet file; the message names the file, the line or offset and the expectation."""


@dataclass(frozen=True)
class Synset:
    """One noun synset: its byte offset in ``data.noun``, lexicographer file number, lemmas and hypernyms. The gloss
    and example sentences that close each line are reserved for an independent evaluation: they are never kept."""

    offset: int
    lexfile: int
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]


class WordNet:
    """Noun lookups over one WordNet database directory; see :meth:`load`."""

    def __init__(self, index: dict[str, tuple[int, ...]], data: bytes, exceptions: dict[str, tuple[str, ...]],
                 data_path: Path) -> None:  # fmt: skip
        self._index = index
        self._data = data
        self._exceptions = exceptions
        self._data_path = data_path
        self.root = data_path.parent
        self._synsets: dict[int, Synset] = {}
        self._tangible: set[int | None] | None = None

    @classmethod
    def load(cls, root: str | os.PathLike[str] = DEFAULT_ROOT) -> WordNet:
        """Read ``root/index.noun`` and ``root/data.noun`` (and ``noun.exc`` for irregular plurals, if present)."""
        root = Path(root)
        paths = {name: root / name for name in ("index.noun", "data.noun")}
        for path in paths.values():
            if not path.is_file():
                raise WordNetError(
                    f"{path}: no such file; expected a WordNet 3.0 database directory (Debian package wordnet-base)"
                )
        index = _read_index(paths["index.noun"])
        exc_path = root / "noun.exc"
        exceptions = _read_exceptions(exc_path) if exc_path.is_file() else {}
        return cls(index, paths["data.noun"].read_bytes(), exceptions, paths["data.noun"])

    def synsets(self, phrase: str) -> list[Synset]:
        """Senses of a noun phrase, most frequent first, over all the lemmas it may stand for (:meth:`lemmas`):
        ``shelves`` gives the senses of ``shelf``; ``shoes`` those of ``shoes``, then those of ``shoe``."""
        offsets = [offset for lemma in self.lemmas(phrase) for offset in self._index[lemma]]
        return [self.synset(offset) for offset in dict.fromkeys(offsets)]

    def lemmas(self, phrase: str) -> list[str]:
        """Index lemmas a phrase may stand for, only those in the index: itself, base forms of its last word, then
        the compound written the other way ("fork lift" -> "forklift", "bathmat" -> "bath mat")."""
        key = _key(phrase)
        if not key:
            return []
        head, _, last = key.rpartition("_")
        prefix = f"{head}_" if head else ""
        forms = [key, *(prefix + base for base in self._exceptions.get(last, ()))]
        forms += [prefix + last[: -len(end)] + base for end, base in _NOUN_SUFFIXES if last.endswith(end)]
        found = [form for form in dict.fromkeys(forms) if form in self._index]
        if found:
            return found
        if "_" in key:
            joined = key.replace("_", "")
            return [joined] if joined in self._index else []
        return [split for i in range(2, len(key) - 1) if (split := f"{key[:i]}_{key[i:]}") in self._index][:1]

    def synset(self, offset: int) -> Synset:
        """The synset at byte ``offset`` of ``data.noun`` (parsed once, then cached)."""
        cached = self._synsets.get(offset)
        if cached is None:
            cached = self._synsets[offset] = _parse_synset(self._data, offset, self._data_path)
        return cached

    def name(self, synset: Synset) -> str:
        """NLTK-style name ``lemma.n.NN``: the first lemma and the synset's sense number for it (00 if the index
        does not list the synset under that lemma, which WordNet 3.0 never does)."""
        lemma = synset.lemmas[0].lower()
        senses = self._index.get(lemma, ())
        number = senses.index(synset.offset) + 1 if synset.offset in senses else 0
        return f"{lemma}.n.{number:02d}"

    def sense(self, name: str) -> Synset:
        """The synset called ``lemma.n.NN`` (e.g. ``chair.n.01``); raises KeyError if there is no such sense."""
        lemma, pos, number = (name.rsplit(".", 2) + ["", ""])[:3]
        senses = self._index.get(_key(lemma), ())
        if pos != "n" or not number.isdigit() or not 1 <= int(number) <= len(senses):
            raise KeyError(f"no noun sense {name!r} in WordNet ({len(senses)} senses of {lemma!r})")
        return self.synset(senses[int(number) - 1])

    def _sense_offset(self, name: str) -> int | None:
        try:
            return self.sense(name).offset
        except KeyError:
            return None

    def chain(self, synset: Synset) -> list[Synset]:
        """The hypernym path from ``synset`` up to the root, following the first hypernym at each step."""
        path = [synset]
        while path[-1].hypernyms and len(path) < 64:  # WordNet nouns are < 20 deep; 64 guards a corrupt file
            path.append(self.synset(path[-1].hypernyms[0]))
        return path

    def is_physical(self, synset: Synset) -> bool:
        """True for tangible things: :data:`TANGIBLE_ROOTS` (object, matter) is among the synset's ancestors."""
        if self._tangible is None:
            self._tangible = {self._sense_offset(name) for name in TANGIBLE_ROOTS} - {None}
        return any(ancestor.offset in self._tangible for ancestor in self.ancestors(synset))

    def ancestors(self, synset: Synset) -> Iterator[Synset]:
        """``synset`` and every synset above it, along all hypernym paths, each once (breadth first)."""
        seen = {synset.offset}
        queue = [synset]
        while queue:
            current = queue.pop(0)
            yield current
            for offset in current.hypernyms:
                if offset not in seen:
                    seen.add(offset)
                    queue.append(self.synset(offset))


def _key(phrase: str) -> str:
    """Index form of a phrase: lower case, words joined by underscores."""
    return "_".join(phrase.lower().replace("_", " ").split())


def _read_index(path: Path) -> dict[str, tuple[int, ...]]:
    """``lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offset...``; license lines start with spaces."""
    index: dict[str, tuple[int, ...]] = {}
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if line.startswith(" ") or not line.strip():
                continue
            fields = line.split()
            try:
                n_synsets, n_pointers = int(fields[2]), int(fields[3])
                offsets = fields[6 + n_pointers :]
                if fields[1] != "n" or len(offsets) != n_synsets:
                    raise ValueError(f"expected pos 'n' and {n_synsets} synset offsets")
                index[fields[0]] = tuple(int(offset) for offset in offsets)
            except (IndexError, ValueError) as exc:
                raise WordNetError(f"{path}: line {number}: not a WordNet noun index line ({exc})") from None
    return index


def _read_exceptions(path: Path) -> dict[str, tuple[str, ...]]:
    """``inflected base [base...]`` per line (irregular plurals such as ``mice mouse``)."""
    exceptions = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) >= 2:
            exceptions[words[0]] = tuple(words[1:])
    return exceptions


def _parse_synset(data: bytes, offset: int, path: Path) -> Synset:
    """``offset lex_filenum n w_cnt(hex) [word lex_id]... p_cnt [symbol offset pos source/target]... | gloss``."""
    end = data.find(b"\n", offset)
    try:
        body = data[offset : end if end >= 0 else len(data)].decode("utf-8").partition(" | ")[0]
        fields = body.split()
        if offset < 0 or not fields or int(fields[0]) != offset:
            raise ValueError("the line there does not start with that offset")
        n_words = int(fields[3], 16)
        lemmas = tuple(fields[4 : 4 + 2 * n_words : 2])
        at = 4 + 2 * n_words
        n_pointers = int(fields[at])
        pointers = [fields[at + 1 + 4 * i : at + 5 + 4 * i] for i in range(n_pointers)]
        if len(lemmas) != n_words or any(len(p) != 4 for p in pointers):
            raise ValueError("the word or pointer counts do not match the line")
        hypernyms = tuple(int(p[1]) for p in pointers if p[0] in HYPERNYM_POINTERS and p[2] == "n")
        return Synset(offset, int(fields[1]), lemmas, hypernyms)
    except (IndexError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise WordNetError(f"{path}: offset {offset}: not a WordNet noun synset line ({exc})") from None
