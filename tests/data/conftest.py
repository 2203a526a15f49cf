"""Shared data fixtures: a tiny WordNet noun database in the real file format (data.noun, index.noun, noun.exc).

Synset offsets are byte positions in data.noun, as in WordNet: every offset is written with 8 digits, so line
lengths are known before the offsets are assigned.
"""

from __future__ import annotations

from pathlib import Path

import pytest

LICENSE = "  1 This software and database is being provided to you, the LICENSEE, by  \n  2 Princeton University.  \n"

# key: (lexfile, lemmas, hypernym keys, gloss); each lemma's senses are numbered in this order.
SYNSETS: dict[str, tuple[int, tuple[str, ...], tuple[str, ...], str]] = {
    "entity": (3, ("entity",), (), "that which is perceived to have its own distinct existence"),
    "physical_entity": (3, ("physical_entity",), ("entity",), "an entity that has physical existence"),
    "abstraction": (3, ("abstraction",), ("entity",), "a general concept"),
    "object": (3, ("object", "physical_object"), ("physical_entity",), "a tangible and visible entity"),
    "matter": (3, ("matter",), ("physical_entity",), "that which has mass and occupies space"),
    "process": (3, ("process",), ("physical_entity",), "a sustained phenomenon"),
    "childbed": (22, ("parturiency", "childbed"), ("process",), "the concluding state of pregnancy"),
    "whole": (3, ("whole", "unit"), ("object",), "an assemblage of parts regarded as a single entity"),
    "artifact": (6, ("artifact",), ("whole",), "a man-made object"),
    "furniture": (6, ("furniture", "piece_of_furniture"), ("artifact",), "furnishings that make a room ready"),
    "seat": (6, ("seat",), ("furniture",), "furniture that is designed for sitting on"),
    "chair": (6, ("chair",), ("seat",), "a seat for one person, with a support for the back"),
    "armchair": (6, ("armchair",), ("chair",), "chair with a support on each side for arms"),
    "array": (14, ("array",), ("abstraction",), "an orderly arrangement"),
    "table_data": (14, ("table", "tabular_array"), ("array",), "a set of data arranged in rows and columns"),
    "table": (6, ("table",), ("furniture",), "a piece of furniture having a smooth flat top"),
    "shelf": (6, ("shelf",), ("furniture",), "a support that consists of a horizontal surface"),
    "living_thing": (3, ("living_thing",), ("whole",), "a living (or once living) entity"),
    "factory": (6, ("plant", "works"), ("artifact",), "buildings for carrying on industrial labor"),
    "flora": (3, ("plant", "flora"), ("living_thing",), "a living organism lacking the power of locomotion"),
    "person": (18, ("person", "individual"), ("living_thing",), "a human being"),
    "male_animal": (5, ("male",), ("living_thing",), "an animal that produces gametes (spermatozoa)"),
    "male_person": (18, ("male", "male_person"), ("person",), "a person who belongs to the sex that cannot bear"),
}
EXCEPTIONS = "shelves shelf\n"


def write_wordnet(root: Path) -> Path:
    """Write data.noun, index.noun and noun.exc for :data:`SYNSETS` under ``root``; return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    keys = list(SYNSETS)
    placeholder = {key: 0 for key in keys}
    lengths = [len(_line(key, placeholder).encode("utf-8")) for key in keys]
    offsets, position = {}, len(LICENSE.encode("utf-8"))
    for key, length in zip(keys, lengths):
        offsets[key] = position
        position += length
    (root / "data.noun").write_bytes((LICENSE + "".join(_line(key, offsets) for key in keys)).encode("utf-8"))
    senses: dict[str, list[int]] = {}
    for key in keys:
        for lemma in SYNSETS[key][1]:
            senses.setdefault(lemma.lower(), []).append(offsets[key])
    index_lines = [
        f"{lemma} n {len(found)} 1 @ {len(found)} 0 {' '.join(f'{o:08d}' for o in found)}  \n"
        for lemma, found in sorted(senses.items())
    ]
    (root / "index.noun").write_text(LICENSE + "".join(index_lines), encoding="utf-8")
    (root / "noun.exc").write_text(EXCEPTIONS, encoding="utf-8")
    return root


def _line(key: str, offsets: dict[str, int]) -> str:
    lexfile, lemmas, hypernyms, gloss = SYNSETS[key]
    words = " ".join(f"{lemma} 0" for lemma in lemmas)
    pointers = " ".join(f"@ {offsets[h]:08d} n 0000" for h in hypernyms)
    return f"{offsets[key]:08d} {lexfile:02d} n {len(lemmas):02x} {words} {len(hypernyms):03d} {pointers} | {gloss}  \n"


@pytest.fixture(scope="session")
def tiny_wordnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of a tiny WordNet written once per session (copy it before changing a file)."""
    return write_wordnet(tmp_path_factory.mktemp("wordnet"))
