"""WordNet noun database reading, hypernym chains and the furniture-name resolver (tiny fixture + real files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hyperalign.data.sweethome3d.classes import OTHER, ClassResolver, CoarseClass, query_phrases
from hyperalign.data.wordnet import DEFAULT_ROOT, WordNet, WordNetError

CLASSES = (
    CoarseClass("seat", "a seat", "a seat, furniture for sitting on", ("seat.n.01",)),
    CoarseClass("table", "a table", "a table or desk", ("table.n.02",)),
    CoarseClass("plant", "a plant", "a plant or tree", ("plant.n.02",)),
    CoarseClass("person", "a person", "a person", ("person.n.01",)),
)


@pytest.fixture(scope="module")
def wordnet(tiny_wordnet: Path) -> WordNet:
    return WordNet.load(tiny_wordnet)


def names(wn: WordNet, synsets: list) -> list[str]:
    return [wn.name(s) for s in synsets]


def test_senses_in_frequency_order_with_nltk_style_names(wordnet: WordNet) -> None:
    assert names(wordnet, wordnet.synsets("table")) == ["table.n.01", "table.n.02"]
    assert wordnet.sense("table.n.02").lemmas == ("table",)
    assert not hasattr(wordnet.sense("table.n.02"), "gloss")  # glosses are reserved for an independent evaluation
    assert names(wordnet, wordnet.synsets("Piece of Furniture")) == ["furniture.n.01"]
    with pytest.raises(KeyError, match="table.n.03"):
        wordnet.sense("table.n.03")


def test_hypernym_chain_up_to_the_root(wordnet: WordNet) -> None:
    chain = names(wordnet, wordnet.chain(wordnet.sense("armchair.n.01")))
    assert chain == ["armchair.n.01", "chair.n.01", "seat.n.01", "furniture.n.01", "artifact.n.01", "whole.n.01",
                     "object.n.01", "physical_entity.n.01", "entity.n.01"]  # fmt: skip
    assert {s.lemmas[0] for s in wordnet.ancestors(wordnet.sense("male.n.02"))} >= {"person", "living_thing"}


def test_plurals_and_compounds(wordnet: WordNet) -> None:
    assert names(wordnet, wordnet.synsets("chairs")) == ["chair.n.01"]
    assert names(wordnet, wordnet.synsets("shelves")) == ["shelf.n.01"]  # irregular, from noun.exc
    assert names(wordnet, wordnet.synsets("arm chair")) == ["armchair.n.01"]  # written as two words
    assert wordnet.synsets("xyzzy") == []


def test_physical_means_object_or_matter_not_process(wordnet: WordNet) -> None:
    assert wordnet.is_physical(wordnet.sense("table.n.02"))
    assert not wordnet.is_physical(wordnet.sense("table.n.01"))
    assert not wordnet.is_physical(wordnet.sense("childbed.n.01"))  # a process: physical_entity, not tangible


def test_missing_and_malformed_files_name_the_file(tmp_path: Path, tiny_wordnet: Path) -> None:
    with pytest.raises(WordNetError, match=r"index\.noun: no such file.*wordnet-base"):
        WordNet.load(tmp_path)
    root = Path(shutil.copytree(tiny_wordnet, tmp_path / "wn"))
    (root / "index.noun").write_text("chair n 2 0 1 0 00000001\n", encoding="utf-8")
    with pytest.raises(WordNetError, match=r"index\.noun: line 1: .*2 synset offsets"):
        WordNet.load(root)
    (root / "index.noun").write_text("chair n 1 0 1 0 00000005\n", encoding="utf-8")
    with pytest.raises(WordNetError, match=r"data\.noun: offset 5: not a WordNet noun synset line"):
        WordNet.load(root).synsets("chair")


def test_resolver_prefers_a_classed_physical_sense_over_the_first(wordnet: WordNet) -> None:
    resolver = ClassResolver(wordnet, CLASSES, overrides={})
    table = resolver.resolve("Table", "Living room")
    assert (table.match, table.synset, table.coarse.id) == ("phrase", "table.n.02", "table")
    armchair = resolver.resolve("Office armchair 2", "Office")
    assert (armchair.match, armchair.phrase, armchair.coarse.id) == ("head", "armchair", "seat")
    assert armchair.chain[:3] == ("armchair.n.01", "chair.n.01", "seat.n.01")
    # Both senses of "plant" are physical; only the organism has a class.
    assert resolver.resolve("Indoor plant", "Living room").synset == "plant.n.02"


def test_resolver_people_only_among_characters(wordnet: WordNet) -> None:
    resolver = ClassResolver(wordnet, CLASSES, overrides={})
    assert resolver.resolve("Sitting male", "Characters").synset == "male.n.02"  # restricted to person / animal
    elsewhere = resolver.resolve("Male", "Living room")
    assert elsewhere.synset == "male.n.01"  # the animal: a last resort, people are never taken here


def test_resolver_fallbacks(wordnet: WordNet) -> None:
    resolver = ClassResolver(wordnet, CLASSES, overrides={"plant": None, "xyzzy": "chair.n.01"})
    unknown = resolver.resolve("Flux capacitor", "Office")
    assert (unknown.match, unknown.synset, unknown.coarse) == ("none", None, OTHER)
    assert resolver.resolve("Xyzzy", "Office").match == "curated"
    assert resolver.resolve("Plant", "Living room").match == "none"  # curated as "names nothing"
    assert resolver.resolve("Frob", "Office", ("Blend Swap", "Chair")).match == "tag"
    assert resolver.resolve("Mystery", "Characters").coarse.id == "person"  # the category's class
    assert resolver.resolve("Table", "Vehicles").match == "none"  # not a vehicle sense: rejected


def test_resolver_refuses_unknown_anchors(wordnet: WordNet) -> None:
    with pytest.raises(WordNetError, match="sofa.n.01"):
        ClassResolver(wordnet, (CoarseClass("sofa", "a sofa", "a sofa", ("sofa.n.01",)),), overrides={})


def test_query_phrases() -> None:
    assert query_phrases("Office armchair") == ["office armchair", "armchair"]
    assert query_phrases("Sofa 3 seats") == ["sofa 3 seats", "sofa"]
    assert query_phrases("Chair with cushion") == ["chair with cushion", "chair"]
    assert query_phrases("Convertible sofa BZ")[-2:] == ["convertible sofa", "sofa"]  # a trailing code is dropped
    assert query_phrases("Apple iMac 1998") == ["apple imac 1998", "apple imac", "imac"]  # no guess at "apple"
    assert "french window" in query_phrases("Quadruple French window small panes", exhaustive=True)


real = pytest.mark.skipif(
    not (DEFAULT_ROOT / "data.noun").is_file(),
    reason=f"WordNet 3.0 not installed at {DEFAULT_ROOT} (Debian package wordnet-base)",
)


@pytest.mark.slow
@real
def test_real_wordnet_chains_and_curated_senses() -> None:
    wordnet = WordNet.load()
    resolver = ClassResolver(wordnet)  # every anchor and curated sense exists in WordNet 3.0
    chain = names(wordnet, wordnet.chain(wordnet.sense("armchair.n.01")))
    assert chain[:4] == ["armchair.n.01", "chair.n.01", "seat.n.03", "furniture.n.01"]
    assert chain[-1] == "entity.n.01"
    assert names(wordnet, wordnet.synsets("table"))[:2] == ["table.n.01", "table.n.02"]
    assert resolver.resolve("Table", "Living room").synset == "table.n.02"  # the furniture, not the data table
    assert resolver.resolve("Office armchair", "Office").coarse.id == "seat"
    assert resolver.resolve("Sitting female", "Characters").coarse.id == "person"
    assert resolver.resolve("Double French window 3 panes", "Doors and windows").synset == "french_window.n.01"
