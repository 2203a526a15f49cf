"""From a furniture name to a WordNet sense and a coarse, basic-level class (seat, table, lamp, plant, ...).

The WordNet ancestors a few levels up are often abstract ("an instrumentality", "a whole"), so each class is
anchored at curated senses and a sense takes the class of its nearest anchor. A name is looked up as a whole phrase,
then by its head (trailing words: "office armchair" -> "armchair"; text after "with", "and", a comma or a number is
dropped), then by the item's tags. Senses rank by tier, then by WordNet's frequency order: a sense with a class
(other than person or animal), a physical sense, an animal; abstract senses and, outside the Characters category,
people never resolve a name. Categories that name a kind of thing (Vehicles, Lights, ...) only accept senses of
their classes. A short curated table fixes the phrases these rules get wrong for this catalogue. A name that
resolves to nothing takes its category's class, or ``object``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hyperalign.data.wordnet import Synset, WordNet, WordNetError


@dataclass(frozen=True)
class CoarseClass:
    """A basic-level class: its id, the noun phrase used inside descriptions, its own caption, WordNet anchors."""

    id: str
    noun: str
    caption: str
    anchors: tuple[str, ...] = ()


COARSE_CLASSES = (
    CoarseClass("seat", "a seat", "a seat, furniture for sitting on", ("seat.n.03",)),
    CoarseClass("table", "a table", "a table or desk", ("table.n.02", "table.n.03", "desk.n.01")),
    CoarseClass("bed", "a bed", "a bed, furniture for sleeping on", ("bed.n.01", "baby_bed.n.01", "mattress.n.01")),
    CoarseClass("lamp", "a lamp", "a lamp or light", ("source_of_illumination.n.01", "lighting_fixture.n.01")),
    CoarseClass("storage", "a piece of storage furniture", "storage furniture such as a cabinet or shelves",
                ("cabinet.n.01", "cabinet.n.03", "bookcase.n.01", "wardrobe.n.01", "chest_of_drawers.n.01",
                 "shelf.n.01", "cupboard.n.01", "rack.n.01", "chest.n.02", "file.n.03")),
    CoarseClass("bathroom_fixture", "a bathroom fixture", "a bathroom fixture such as a sink, toilet or bathtub",
                ("plumbing_fixture.n.01", "bathtub.n.01", "bidet.n.01", "washbasin.n.02", "showerhead.n.01",
                 "shower_stall.n.01")),
    CoarseClass("appliance", "a household appliance", "a household appliance",
                ("home_appliance.n.01", "appliance.n.02", "heater.n.01", "boiler.n.01", "furnace.n.01",
                 "fan.n.01", "air_conditioner.n.01", "range_hood.n.01", "water_cooler.n.01")),
    CoarseClass("electronics", "an electronic device", "an electronic or electrical device",
                ("electronic_equipment.n.01", "computer.n.01", "electrical_device.n.01", "switch.n.01",
                 "socket.n.03", "wall_socket.n.01", "camera.n.01", "projector.n.01")),
    CoarseClass("kitchenware", "a piece of kitchenware", "kitchenware or tableware",
                ("tableware.n.01", "kitchen_utensil.n.01", "glass.n.02")),
    CoarseClass("decoration", "a decoration", "a decoration or work of art",
                ("decoration.n.01", "art.n.01", "picture.n.01", "photograph.n.01", "vase.n.01", "figure.n.04",
                 "timepiece.n.01")),
    CoarseClass("textile", "a textile furnishing", "a rug, curtain, towel or other textile",
                ("floor_cover.n.01", "curtain.n.01", "window_blind.n.01", "towel.n.01", "bath_linen.n.01",
                 "bedclothes.n.01")),
    CoarseClass("container", "a container", "a container such as a box, bottle or basket", ("container.n.01",)),
    CoarseClass("plant", "a plant", "a plant or tree", ("plant.n.02", "plant_part.n.01")),
    CoarseClass("person", "a person", "a person", ("person.n.01", "person.n.02")),
    CoarseClass("animal", "an animal", "an animal", ("animal.n.01",)),
    CoarseClass("vehicle", "a vehicle", "a vehicle", ("vehicle.n.01", "wheeled_vehicle.n.01", "public_transport.n.01")),
    CoarseClass("door_or_window", "a door or window", "a door or window",
                ("door.n.01", "window.n.01", "doorway.n.01", "movable_barrier.n.01")),
    CoarseClass("food", "food", "food or drink", ("food.n.01", "food.n.02", "beverage.n.01")),
    CoarseClass("clothing", "a piece of clothing", "clothing, shoes or an accessory",
                ("clothing.n.01", "footwear.n.02", "accessory.n.01", "spectacles.n.01")),
    CoarseClass("tool", "a tool", "a tool or measuring instrument",
                ("tool.n.01", "implement.n.01", "measuring_instrument.n.01")),
    CoarseClass("toy_or_sport", "a toy or sports item", "a toy, game or piece of sports equipment",
                ("plaything.n.01", "sports_equipment.n.01", "game_equipment.n.01", "exercise_device.n.01",
                 "board_game.n.01", "checkerboard.n.01", "dartboard.n.01", "playing_card.n.01", "puzzle.n.02")),
    CoarseClass("instrument", "a musical instrument", "a musical instrument", ("musical_instrument.n.01",)),
    CoarseClass("structure", "a structure", "a structure or fixture of a building or garden",
                ("structure.n.01", "stairway.n.01", "pool.n.01", "chimney.n.01")),
)  # fmt: skip
OTHER = CoarseClass("object", "an object", "an everyday object")
# Catalogue categories that name a kind of thing: their items only take senses of these classes.
CATEGORY_CLASSES = {
    "Characters": ("person", "animal"),
    "Doors and windows": ("door_or_window",),
    "Lights": ("lamp",),
    "Staircases": ("structure",),
    "Vehicles": ("vehicle",),
}
# Curated senses for phrases whose automatic choice is wrong for this catalogue (None: the phrase names nothing
# WordNet has, e.g. a kitchen "island"). The catalogue's "plugs" are wall outlets, its "banks" benches (French banc).
SENSE_OVERRIDES: dict[str, str | None] = {
    "male": "male.n.02", "female": "female.n.02", "plant": "plant.n.02", "plate": "plate.n.04",
    "mixer": "mixer.n.04", "white board": "display_panel.n.01", "grinder": "mill.n.04", "puff": "ottoman.n.03",
    "bill": "bill.n.03", "oil servers": "cruet.n.01", "socket": "socket.n.03", "plug": "wall_socket.n.01",
    "hose reel": "reel.n.03", "glove": "glove.n.02", "clothes horse": "clotheshorse.n.01",
    "rubik's cube": "puzzle.n.02", "scale": "scale.n.07", "keys": "key.n.01", "christmas tree": "christmas_tree.n.05",
    "scooter": "motor_scooter.n.01", "bike": "bicycle.n.01", "van": "van.n.05", "coffee machine": "coffee_maker.n.01",
    "coffee brewer": "coffee_maker.n.01", "coffee press": "coffee_maker.n.01", "dryer machine": "clothes_dryer.n.01",
    "shower head": "showerhead.n.01", "card game": "playing_card.n.01", "dart game": "dartboard.n.01",
    "children game": "plaything.n.01", "spice tower": "spice_rack.n.01", "fitness tower": "exercise_device.n.01",
    "doll house": "dollhouse.n.02", "lock": "lock.n.01", "column": "column.n.07", "lavatory": "washbasin.n.01",
    "lip stick": "lipstick.n.01", "cone": "cone.n.01", "hood": "range_hood.n.01", "bath": "bathtub.n.01",
    "wood bank": "bench.n.01", "little bank": "bench.n.01", "machine": "machine.n.01", "device": "device.n.01",
    "toilets unit": "toilet.n.02", "entry bell ring": "doorbell.n.01", "trunck": "trunk.n.02",
    "jacuzzi": "hot_tub.n.01", "ficus": "fig_tree.n.01", "logs": "log.n.01", "tablet": "computer.n.01",
    "table tennis": "table-tennis_table.n.01", "rail crossing": "level_crossing.n.01", "toy train": "plaything.n.01",
    "rock": "rock.n.01", "short": "short_pants.n.01", "parking slot": "parking_space.n.01", "canopy": "canopy.n.03",
    "arrow turn right": "arrow.n.01", "arrow straight ahead": "arrow.n.01", "deep fryer": "kitchen_appliance.n.01",
    "extension": None, "island": None, "station": None, "unit": None, "base": None,
}  # fmt: skip
# Tags that name the library or its maker rather than the item.
IGNORED_TAGS = frozenset({"blend swap", "scpts", "kator legaz", "reallusion", "scopia"})
_LEXFILE_ANIMAL, _LEXFILE_PERSON = 5, 18  # WordNet lexicographer files noun.animal and noun.person
# Where the first clause of a name ends: " - ", a comma, a bracket, a preposition or conjunction, a number.
CLAUSE_END = re.compile(r"\s+-\s+|[,(/]|\s+(?:with|and|on|for|in|under|from)\s+|\s+\d")


@dataclass(frozen=True)
class NameSense:
    """How a name resolved: the phrase looked up, how, the WordNet sense (``chair.n.01``) and the coarse class.

    ``match`` is ``phrase`` (the whole name), ``head`` (part of it), ``curated`` (a :data:`SENSE_OVERRIDES` entry),
    ``tag`` (one of the item's tags) or ``none`` (the class then comes from the category).
    """

    phrase: str | None
    match: str
    synset: str | None
    chain: tuple[str, ...]
    coarse: CoarseClass

    def meta(self) -> dict[str, object]:
        """The WordNet part of an item's metadata."""
        return {"query": self.phrase, "match": self.match, "synset": self.synset, "chain": list(self.chain)}


class ClassResolver:
    """Resolves furniture names against one WordNet; every anchor and override sense must exist there."""

    def __init__(
        self,
        wordnet: WordNet,
        classes: tuple[CoarseClass, ...] = COARSE_CLASSES,
        overrides: Mapping[str, str | None] = SENSE_OVERRIDES,
    ) -> None:
        self.wordnet = wordnet
        self.classes = {c.id: c for c in classes}
        self._order = {c.id: i for i, c in enumerate(classes)}
        self._anchor: dict[int, CoarseClass] = {}
        self._overrides: dict[str, Synset | None] = {}
        missing = []
        for coarse in classes:
            for name in coarse.anchors:
                try:
                    self._anchor.setdefault(wordnet.sense(name).offset, coarse)
                except KeyError:
                    missing.append(name)
        for phrase, name in overrides.items():
            try:
                self._overrides[phrase] = None if name is None else wordnet.sense(name)
            except KeyError:
                missing.append(name)
        if missing:
            raise WordNetError(f"senses not found in WordNet: {', '.join(missing)}; expected WordNet 3.0")
        self._cache: dict[tuple[str, str, tuple[str, ...]], NameSense] = {}

    def resolve(self, name: str, category: str, tags: tuple[str, ...] = ()) -> NameSense:
        """The sense and coarse class of a furniture ``name`` in catalogue ``category`` (``tags`` as a fallback)."""
        key = (name, category, tags)
        if key not in self._cache:
            self._cache[key] = self._resolve(name, category, tags)
        return self._cache[key]

    def coarse_of(self, synset: Synset) -> CoarseClass | None:
        """The class of the nearest anchor above ``synset`` over all hypernym paths (ties: earlier class)."""
        level, seen = [synset], {synset.offset}
        for _ in range(64):  # WordNet nouns are < 20 deep; 64 guards a corrupt file
            found = [self._anchor[s.offset] for s in level if s.offset in self._anchor]
            if found:
                return min(found, key=lambda c: self._order.get(c.id, len(self._order)))
            upper = [self.wordnet.synset(o) for s in level for o in s.hypernyms if o not in seen]
            seen.update(s.offset for s in upper)
            level = upper
            if not level:
                break
        return None

    def _resolve(self, name: str, category: str, tags: tuple[str, ...]) -> NameSense:
        allowed = CATEGORY_CLASSES.get(category)
        whole = _words(name)
        sources = [(p, "phrase" if p == whole else "head") for p in query_phrases(name, exhaustive=bool(allowed))]
        for tag in tags:
            if tag.strip().lower() not in IGNORED_TAGS:
                sources += [(p, "tag") for p in query_phrases(tag)]
        for phrase, match in sources:
            if phrase in self._overrides:
                synset = self._overrides[phrase]
                if synset is None:
                    continue
                coarse, match = self.coarse_of(synset), "curated"
            else:
                synset, coarse = self._pick(self.wordnet.synsets(phrase), allowed)
                if synset is None:
                    continue
            chain = tuple(self.wordnet.name(s) for s in self.wordnet.chain(synset))
            return NameSense(phrase, match, chain[0], chain, coarse or OTHER)
        fallback = self.classes.get(allowed[0]) if allowed else None
        return NameSense(None, "none", None, (), fallback or OTHER)

    def _pick(
        self, senses: list[Synset], allowed: tuple[str, ...] | None
    ) -> tuple[Synset | None, CoarseClass | None]:
        """The best sense and its class, or (None, None) if no sense is acceptable.

        Restricted categories take the first sense of an allowed class. Otherwise senses rank by tier, then by
        WordNet's frequency order: a class other than person or animal; a physical sense without class; an animal.
        People are only found among Characters, so person senses are never taken elsewhere.
        """
        best: tuple[int, int, Synset, CoarseClass | None] | None = None
        for rank, synset in enumerate(senses):
            coarse = self.coarse_of(synset)
            cid = coarse.id if coarse else None
            if allowed is not None:
                tier = 0 if cid in allowed else None
            elif cid == "person" or synset.lexfile == _LEXFILE_PERSON:
                tier = None
            elif cid == "animal" or synset.lexfile == _LEXFILE_ANIMAL:
                tier = 2
            elif coarse is not None:
                tier = 0
            else:
                tier = 1 if self.wordnet.is_physical(synset) else None
            if tier is not None and (best is None or (tier, rank) < best[:2]):
                best = (tier, rank, synset, coarse)
        return (best[2], best[3]) if best else (None, None)


def query_phrases(name: str, *, exhaustive: bool = False) -> list[str]:
    """Phrases to look a name up by, most specific first.

    The whole name; then its first clause (before "with", "and", a comma, a number, ...) and that clause's trailing
    words ("french window" before "window"); then, after dropping trailing codes ("BZ", "R6"), the same again.
    ``exhaustive`` adds every run of words of the clause, later-ending first (used when the category constrains the
    sense, so a wrong head such as "panes" is skipped for "french window").
    """
    phrases = [_words(name)]
    clause = CLAUSE_END.split(name, maxsplit=1)[0].split()
    while clause:
        phrases += [_words(" ".join(clause[i:])) for i in range(len(clause))]
        if exhaustive:
            phrases += [_words(" ".join(clause[i:j])) for j in range(len(clause) - 1, 0, -1) for i in range(j)]
            break
        if not _is_code(clause[-1]) or len(clause) == 1:
            break
        clause = clause[:-1]
    return [p for p in dict.fromkeys(phrases) if p]


def _words(text: str) -> str:
    """Lower-case words (letters, digits, apostrophes, hyphens) separated by single spaces."""
    return " ".join(re.findall(r"[a-z0-9][a-z0-9'\-]*", text.lower()))


def _is_code(word: str) -> bool:
    """A model code rather than a word: has a digit, or is all capitals ("BZ", "R6", "YZR")."""
    return any(ch.isdigit() for ch in word) or (len(word) > 1 and word.isupper())
