"""The demo's shape catalogue: categories, sub-types (each a builder of primitive parts) and their captions.

Units are metres, z points up and fronts face -y. A builder draws continuous attributes from its ``Draft``;
each attribute's tercile picks an optional word ("thin legs", "a high back"), so captions follow the geometry.
Sub-types of one category differ in part structure; instances of one sub-type differ in their attributes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hyperalign.data.demo.primitives import Box, Frustum, Primitive, Sphere, Torus, rod

# name -> (rgb, adjective, phrase); the main material of an instance.
MATERIALS: dict[str, tuple[tuple[float, float, float], str, str]] = {
    "wood": ((0.55, 0.36, 0.20), "wooden", "made of wood"),
    "metal": ((0.62, 0.63, 0.66), "metal", "made of metal"),
    "white": ((0.93, 0.93, 0.91), "white", "painted white"),
    "black": ((0.08, 0.08, 0.09), "black", "painted black"),
    "red": ((0.78, 0.12, 0.10), "red", "painted red"),
    "blue": ((0.15, 0.30, 0.70), "blue", "painted blue"),
}
ACCENTS: dict[str, tuple[float, float, float]] = {  # colours of lamp shades
    "white": (0.95, 0.94, 0.88),
    "black": (0.10, 0.10, 0.10),
    "red": (0.80, 0.15, 0.12),
    "green": (0.20, 0.55, 0.25),
}
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen")  # fmt: skip


class Draft:
    """A shape under construction: parts (with material slot), attributes, a size word and caption features."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.parts: list[Primitive] = []
        self.accent: list[bool] = []  # per part: accent (lamp shade) colour instead of the main material
        self.attrs: dict[str, Any] = {}
        self.size: str | None = None  # adjective before the noun ("tall", "low", ...)
        self.features: list[str] = []  # noun phrases after "with"; "{accent}" marks where the shade colour goes

    def value(self, name: str, lo: float, hi: float) -> tuple[float, int]:
        """A uniform attribute in [lo, hi] and its tercile (0 low, 1 middle, 2 high)."""
        q = float(self.rng.uniform())
        value = lo + q * (hi - lo)
        self.attrs[name] = round(value, 4)
        return value, min(int(q * 3), 2)

    def count(self, name: str, choices: tuple[int, ...]) -> int:
        """A whole-number attribute drawn uniformly from ``choices``."""
        value = int(self.rng.choice(choices))
        self.attrs[name] = value
        return value

    def option(self, name: str, choices: tuple[str, ...]) -> str:
        """A categorical attribute drawn uniformly from ``choices``."""
        value = str(self.rng.choice(choices))
        self.attrs[name] = value
        return value

    def add(self, *parts: Primitive, accent: bool = False) -> None:
        """Add parts, coloured by the accent (lamp shade) colour or the main material."""
        self.parts += parts
        self.accent += [accent] * len(parts)

    def feature(self, tier: int, low: str | None, high: str | None, middle: str | None = None) -> None:
        """Append the feature phrase for ``tier`` (None adds nothing)."""
        phrase = (low, middle, high)[tier]
        if phrase:
            self.features.append(phrase)


def _word(tier: int, low: str | None, high: str | None) -> str | None:
    return (low, None, high)[tier]


def _legs(d: Draft, xs: float, ys: float, height: float, thick: float) -> None:
    """Four square legs at (±xs, ±ys), from the floor up to ``height``."""
    for sx in (-1, 1):
        for sy in (-1, 1):
            d.add(Box((sx * xs, sy * ys, height / 2), (thick, thick, height)))


# ---- chairs -------------------------------------------------------------------------------------------------


def armchair(d: Draft) -> None:
    """Thick seat, four legs, a full-width back and two solid arm blocks."""
    width, w_tier = d.value("width", 0.62, 0.86)
    depth, _ = d.value("depth", 0.55, 0.7)
    seat, _ = d.value("seat_height", 0.38, 0.46)
    leg, leg_tier = d.value("leg_thickness", 0.035, 0.075)
    back, back_tier = d.value("back_height", 0.3, 0.6)
    arm, arm_tier = d.value("arm_width", 0.07, 0.15)
    cushion = 0.1
    _legs(d, width / 2 - leg / 2, depth / 2 - leg / 2, seat - cushion, leg)
    d.add(Box((0, 0, seat - cushion / 2), (width, depth, cushion)))
    d.add(Box((0, depth / 2 - 0.06, seat + back / 2), (width, 0.12, back)))
    arm_height = 0.22
    for sx in (-1, 1):
        d.add(Box((sx * (width / 2 - arm / 2), -0.03, seat + arm_height / 2), (arm, depth - 0.06, arm_height)))
    d.size = _word(w_tier, "narrow", "wide")
    d.feature(back_tier, "a low back", "a high back")
    d.feature(arm_tier, "slim arms", "broad arms", "padded arms")
    d.feature(leg_tier, "thin legs", "thick legs")


def dining_chair(d: Draft) -> None:
    """Thin seat, four legs, back posts and a solid, slatted or ladder back."""
    width, _ = d.value("width", 0.4, 0.5)
    depth, _ = d.value("depth", 0.4, 0.5)
    seat, _ = d.value("seat_height", 0.44, 0.48)
    leg, leg_tier = d.value("leg_thickness", 0.025, 0.045)
    back, back_tier = d.value("back_height", 0.35, 0.62)
    style = d.option("back_style", ("solid", "slatted", "ladder"))
    board = 0.03
    xs, ys = width / 2 - leg / 2, depth / 2 - leg / 2
    _legs(d, xs, ys, seat - board, leg)
    d.add(Box((0, 0, seat - board / 2), (width, depth, board)))
    for sx in (-1, 1):  # back posts continue the rear legs
        d.add(Box((sx * xs, ys, seat + back / 2), (leg, leg, back)))
    inner = width - 2 * leg
    if style == "solid":
        d.add(Box((0, ys, seat + back * 0.62), (inner, 0.02, back * 0.7)))
    elif style == "slatted":
        d.add(Box((0, ys, seat + back - 0.03), (inner, 0.025, 0.06)))
        slats = d.count("slats", (3, 4, 5))
        for x in np.linspace(-inner / 2, inner / 2, slats + 2)[1:-1]:
            d.add(Box((float(x), ys, seat + (back - 0.06) / 2), (0.03, 0.015, back - 0.06)))
    else:
        rails = d.count("rails", (3, 4))
        for z in np.linspace(seat + back * 0.3, seat + back - 0.03, rails):
            d.add(Box((0, ys, float(z)), (inner, 0.02, 0.04)))
    d.size = _word(back_tier, "low-backed", "high-backed")
    d.features.append(f"a {style} back")
    d.feature(leg_tier, "four thin legs", "four sturdy legs", "four legs")


def office_chair(d: Draft) -> None:
    """Seat and floating back on a gas column over a 4- or 5-arm star base with casters; optional arms."""
    width, _ = d.value("width", 0.45, 0.56)
    depth, _ = d.value("depth", 0.44, 0.5)
    seat, seat_tier = d.value("seat_height", 0.42, 0.52)
    back, back_tier = d.value("back_height", 0.35, 0.72)
    reach, _ = d.value("base_radius", 0.28, 0.34)
    arms = d.option("armrests", ("yes", "no")) == "yes"
    star = d.count("base_legs", (4, 5))
    cushion = 0.08
    d.add(Box((0, 0, seat - cushion / 2), (width, depth, cushion)))
    gap = 0.08
    d.add(Box((0, depth / 2 + 0.03, seat + gap + back / 2), (width * 0.92, 0.06, back)))
    d.add(Box((0, depth / 2 + 0.01, seat + gap / 2), (0.06, 0.03, gap + 0.02)))  # back support bar
    d.add(rod((0, 0, 0.1), (0, 0, seat - cushion), 0.03))  # gas column
    for k in range(star):
        angle = 2 * math.pi * k / star + math.pi / 2
        end = (reach * math.cos(angle), reach * math.sin(angle), 0.06)
        d.add(rod((0, 0, 0.1), end, 0.018), Sphere((end[0], end[1], 0.025), 0.025))
    if arms:
        for sx in (-1, 1):
            x = sx * (width / 2 + 0.02)
            d.add(Box((x, 0.02, seat + 0.1), (0.03, 0.03, 0.2)), Box((x, -0.02, seat + 0.2), (0.06, 0.24, 0.025)))
    d.size = _word(seat_tier, "low", "tall")
    d.feature(back_tier, "a low back", "a high back", "a mid-height back")
    d.features.append(f"a {NUMBERS[star]}-legged star base")
    d.features.append("armrests" if arms else "no armrests")


# ---- tables -------------------------------------------------------------------------------------------------


def pedestal_table(d: Draft) -> None:
    """Round top on one central column, standing on a round base or 3-4 radial feet."""
    radius, r_tier = d.value("top_radius", 0.35, 0.6)
    height, _ = d.value("height", 0.68, 0.78)
    column, c_tier = d.value("column_radius", 0.035, 0.075)
    base = d.option("base", ("disk", "feet"))
    top = 0.03
    d.add(Frustum((0, 0, height - top), (0, 0, height), radius, radius))
    d.add(rod((0, 0, 0.03), (0, 0, height - top), column))
    if base == "disk":
        d.add(Frustum((0, 0, 0), (0, 0, 0.04), radius * 0.55, radius * 0.45))
        d.features.append("a round base")
    else:
        feet = d.count("feet", (3, 4))
        for k in range(feet):
            angle = 2 * math.pi * k / feet
            d.add(rod((0, 0, 0.06), (0.6 * radius * math.cos(angle), 0.6 * radius * math.sin(angle), 0.02), 0.025))
        d.features.append(f"{NUMBERS[feet]} feet")
    d.size = _word(r_tier, "small", "large")
    d.feature(c_tier, "a slender column", "a thick column")


def dining_table(d: Draft) -> None:
    """Rectangular top on four legs at the corners, with or without an apron."""
    length, l_tier = d.value("length", 1.0, 1.8)
    width, _ = d.value("width", 0.7, 0.95)
    height, _ = d.value("height", 0.72, 0.78)
    leg, leg_tier = d.value("leg_thickness", 0.04, 0.09)
    apron = d.option("apron", ("yes", "no")) == "yes"
    top = 0.04
    d.add(Box((0, 0, height - top / 2), (length, width, top)))
    xs, ys = length / 2 - leg / 2 - 0.03, width / 2 - leg / 2 - 0.03
    _legs(d, xs, ys, height - top, leg)
    if apron:
        z = height - top - 0.05
        d.add(Box((0, ys, z), (2 * xs, 0.02, 0.1)), Box((0, -ys, z), (2 * xs, 0.02, 0.1)))
        d.add(Box((xs, 0, z), (0.02, 2 * ys, 0.1)), Box((-xs, 0, z), (0.02, 2 * ys, 0.1)))
    d.size = _word(l_tier, "short", "long")
    d.feature(leg_tier, "thin legs", "thick legs", "four legs")
    d.features.append("an apron under the top" if apron else "a plain top")


def coffee_table(d: Draft) -> None:
    """Low rectangular top, four legs and a lower shelf between them."""
    length, l_tier = d.value("length", 0.8, 1.3)
    width, _ = d.value("width", 0.45, 0.75)
    height, h_tier = d.value("height", 0.32, 0.45)
    leg, leg_tier = d.value("leg_thickness", 0.035, 0.07)
    top = 0.035
    d.add(Box((0, 0, height - top / 2), (length, width, top)))
    xs, ys = length / 2 - leg / 2, width / 2 - leg / 2
    _legs(d, xs, ys, height - top, leg)
    d.add(Box((0, 0, 0.1), (length - 2 * leg, width - 2 * leg, 0.02)))
    d.size = _word(h_tier, "very low", "tall")
    d.features.append("a lower shelf")
    d.feature(l_tier, "a compact top", "a long top")
    d.feature(leg_tier, "thin legs", "chunky legs")


# ---- lamps --------------------------------------------------------------------------------------------------


def floor_lamp(d: Draft) -> None:
    """Base disk, tall thin pole and an open conical shade at the top."""
    height, h_tier = d.value("height", 1.4, 1.85)
    base, _ = d.value("base_radius", 0.12, 0.2)
    shade, s_tier = d.value("shade_radius", 0.17, 0.27)
    d.add(Frustum((0, 0, 0), (0, 0, 0.03), base, base * 0.9))
    d.add(rod((0, 0, 0.03), (0, 0, height - 0.2), 0.015))
    d.add(Frustum((0, 0, height - 0.3), (0, 0, height), shade, shade * 0.55, caps=(False, False)), accent=True)
    d.size = _word(h_tier, "short", "tall")
    d.feature(s_tier, "a narrow {accent}shade", "a wide {accent}shade", "a {accent}shade")
    d.features.append("a round base")


def desk_lamp(d: Draft) -> None:
    """Small base, two-segment arm with an elbow joint and a conical head pointing down."""
    lower, l_tier = d.value("lower_arm", 0.28, 0.45)
    upper, _ = d.value("upper_arm", 0.25, 0.4)
    lean, _ = d.value("lean", 0.15, 0.45)
    dip, _ = d.value("head_dip", 0.1, 0.5)
    head, head_tier = d.value("head_radius", 0.05, 0.085)
    d.add(Frustum((0, 0, 0), (0, 0, 0.025), 0.09, 0.08))
    elbow = (0.0, lower * math.sin(lean), 0.025 + lower * math.cos(lean))
    tip = (0.0, elbow[1] - upper * math.cos(dip), elbow[2] - upper * math.sin(dip))
    d.add(rod((0, 0, 0.025), elbow, 0.012), Sphere(elbow, 0.02), rod(elbow, tip, 0.012))
    mouth = (0.0, tip[1] - 0.04, tip[2] - 0.12)
    d.add(Frustum(tip, mouth, 0.025, head, caps=(True, False)), accent=True)
    d.size = _word(l_tier, "short", "tall")
    d.features.append("an adjustable arm")
    d.feature(head_tier, "a small {accent}head", "a large {accent}head", "a {accent}head")


def pendant_lamp(d: Draft) -> None:
    """Ceiling canopy, cord and a dome or cone shade with a bulb at the bottom."""
    cord, c_tier = d.value("cord_length", 0.3, 1.0)
    radius, r_tier = d.value("shade_radius", 0.14, 0.3)
    style = d.option("shade", ("dome", "cone"))
    top = radius + cord
    d.add(Frustum((0, 0, top), (0, 0, top + 0.03), 0.06, 0.06))  # ceiling canopy
    d.add(rod((0, 0, radius * 0.8), (0, 0, top), 0.005))
    if style == "dome":
        d.add(Sphere((0, 0, 0), radius, z_lo=0.0, z_hi=1.0), accent=True)
    else:
        d.add(Frustum((0, 0, 0), (0, 0, radius * 0.8), radius, 0.03, caps=(False, True)), accent=True)
    d.add(Sphere((0, 0, 0.03), 0.045))  # bulb
    d.size = _word(r_tier, "small", "large")
    d.features.append(f"a {style}-shaped {{accent}}shade")
    d.feature(c_tier, "a short cord", "a long cord")


# ---- shelves ------------------------------------------------------------------------------------------------


def bookcase(d: Draft) -> None:
    """Two side panels, a back panel and evenly spaced horizontal boards."""
    height, h_tier = d.value("height", 0.9, 2.0)
    width, w_tier = d.value("width", 0.6, 1.2)
    depth, _ = d.value("depth", 0.25, 0.35)
    shelves = d.count("inner_shelves", (2, 3, 4, 5))
    t = 0.025
    for sx in (-1, 1):
        d.add(Box((sx * (width / 2 - t / 2), 0, height / 2), (t, depth, height)))
    d.add(Box((0, depth / 2 - t / 4, height / 2), (width, t / 2, height)))  # back panel
    for z in np.linspace(t / 2, height - t / 2, shelves + 2):
        d.add(Box((0, -t / 4, float(z)), (width - 2 * t, depth - t / 2, t)))
    d.size = _word(h_tier, "low", "tall")
    d.features.append(f"{NUMBERS[shelves + 1]} compartments")
    d.feature(w_tier, "a narrow frame", "a wide frame")


def ladder_shelf(d: Draft) -> None:
    """Two leaning rails, two back posts and shelves whose depth shrinks with height."""
    height, h_tier = d.value("height", 1.2, 1.9)
    width, _ = d.value("width", 0.5, 0.9)
    deep, _ = d.value("bottom_depth", 0.35, 0.5)
    rail, r_tier = d.value("rail_radius", 0.015, 0.03)
    shelves = d.count("shelves", (3, 4, 5))
    for sx in (-1, 1):
        x = sx * width / 2
        d.add(rod((x, -deep / 2, 0), (x, deep / 2, height), rail), rod((x, deep / 2, 0), (x, deep / 2, height), rail))
    for z in np.linspace(0.12, height * 0.85, shelves):
        front = -deep / 2 + deep * float(z) / height
        d.add(Box((0, (front + deep / 2) / 2, float(z)), (width, deep / 2 - front, 0.02)))
    d.size = _word(h_tier, "short", "tall")
    d.features.append(f"{NUMBERS[shelves]} shelves")
    d.feature(r_tier, "thin rails", "thick rails")


def cube_organiser(d: Draft) -> None:
    """Open grid of square cells: horizontal and vertical boards, no back."""
    rows = d.count("rows", (2, 3, 4))
    cols = d.count("columns", (2, 3, 4))
    cell, c_tier = d.value("cell", 0.3, 0.38)
    depth, _ = d.value("depth", 0.3, 0.38)
    t = 0.02
    width, height = cols * cell, rows * cell
    for i in range(rows + 1):
        d.add(Box((0, 0, i * cell), (width + t, depth, t)))
    for j in range(cols + 1):
        d.add(Box((-width / 2 + j * cell, 0, height / 2), (t, depth, height)))
    d.size = _word(c_tier, "compact", "large")
    d.features.append(f"a {NUMBERS[rows]}-by-{NUMBERS[cols]} grid of {NUMBERS[rows * cols]} cubes")


# ---- vases --------------------------------------------------------------------------------------------------


def bottle_vase(d: Draft) -> None:
    """Cylindrical body, conical shoulder and a narrow open neck."""
    body, b_tier = d.value("body_height", 0.15, 0.35)
    radius, _ = d.value("body_radius", 0.06, 0.1)
    neck_r, _ = d.value("neck_radius", 0.015, 0.03)
    neck, n_tier = d.value("neck_length", 0.06, 0.2)
    shoulder = radius * 0.8
    d.add(Frustum((0, 0, 0), (0, 0, body), radius, radius * 0.95, caps=(True, False)))
    d.add(Frustum((0, 0, body), (0, 0, body + shoulder), radius * 0.95, neck_r, caps=(False, False)))
    d.add(Frustum((0, 0, body + shoulder), (0, 0, body + shoulder + neck), neck_r, neck_r, caps=(False, False)))
    d.size = _word(b_tier, "short", "tall")
    d.feature(n_tier, "a short neck", "a long neck", "a narrow neck")


def round_vase(d: Draft) -> None:
    """Spherical body with a short open neck and a rolled lip."""
    radius, r_tier = d.value("body_radius", 0.08, 0.15)
    mouth, m_tier = d.value("mouth_radius", 0.03, 0.06)
    neck, _ = d.value("neck_length", 0.03, 0.08)
    z_hi = math.sqrt(1.0 - (mouth / radius) ** 2)
    d.add(Sphere((0, 0, radius), radius, z_lo=-1.0, z_hi=z_hi))
    base = radius + radius * z_hi
    d.add(Frustum((0, 0, base), (0, 0, base + neck), mouth, mouth, caps=(False, False)))
    d.add(Torus((0, 0, base + neck), mouth, 0.008))
    d.size = _word(r_tier, "small", "large")
    d.feature(m_tier, "a narrow mouth", "a wide mouth", "a short neck")


def amphora(d: Draft) -> None:
    """Foot, belly widening then narrowing to a neck, two loop handles."""
    lower, h_tier = d.value("lower_height", 0.15, 0.3)
    belly, _ = d.value("belly_radius", 0.1, 0.15)
    upper, _ = d.value("upper_height", 0.08, 0.15)
    handle, a_tier = d.value("handle_radius", 0.035, 0.06)
    neck_r = 0.04
    d.add(Frustum((0, 0, 0), (0, 0, 0.02), 0.06, 0.06))  # foot
    d.add(Frustum((0, 0, 0.02), (0, 0, 0.02 + lower), 0.05, belly, caps=(False, False)))
    top = 0.02 + lower + upper
    d.add(Frustum((0, 0, 0.02 + lower), (0, 0, top), belly, neck_r, caps=(False, False)))
    d.add(Frustum((0, 0, top), (0, 0, top + 0.06), neck_r, neck_r * 1.2, caps=(False, False)))
    z = top - handle * 0.3
    attach = neck_r + (belly - neck_r) * (top - z) / upper  # body radius at the handle's centre height
    for side in (1.0, -1.0):
        d.add(Torus((side * attach, 0, z), handle, 0.008, normal=(0, side, 0), ref=(0, 0, 1), arc=math.pi))
    d.size = _word(h_tier, "squat", "tall")
    d.features.append("two handles")
    d.feature(a_tier, "small handles", "large handles")


# ---- stools -------------------------------------------------------------------------------------------------


def _splayed_legs(d: Draft, n: int, top_r: float, foot_r: float, z_top: float, thick: float) -> None:
    """``n`` round legs from radius ``top_r`` under the seat (height ``z_top``) out to ``foot_r`` on the floor."""
    for k in range(n):
        angle = 2 * math.pi * k / n + math.pi / 4
        c, s = math.cos(angle), math.sin(angle)
        d.add(rod((top_r * c, top_r * s, z_top), (foot_r * c, foot_r * s, 0.0), thick))


def bar_stool(d: Draft) -> None:
    """Tall round seat on 3-4 splayed legs joined by a footrest ring."""
    height, h_tier = d.value("height", 0.62, 0.8)
    seat, _ = d.value("seat_radius", 0.16, 0.22)
    leg, leg_tier = d.value("leg_radius", 0.012, 0.025)
    legs = d.count("legs", (3, 4))
    ring_z, _ = d.value("footrest_height", 0.24, 0.32)
    d.add(Frustum((0, 0, height - 0.04), (0, 0, height), seat, seat))
    top_r, foot_r = seat * 0.75, seat * 1.15
    _splayed_legs(d, legs, top_r, foot_r, height - 0.04, leg)
    ring = foot_r + (top_r - foot_r) * ring_z / (height - 0.04)
    d.add(Torus((0, 0, ring_z), ring, 0.012))
    d.size = _word(h_tier, "counter-height", "tall")
    d.features.append(f"{NUMBERS[legs]} legs")
    d.feature(leg_tier, "thin legs", "thick legs")
    d.features.append("a footrest ring")


def milking_stool(d: Draft) -> None:
    """Low round seat on three widely splayed legs."""
    height, h_tier = d.value("height", 0.25, 0.45)
    seat, _ = d.value("seat_radius", 0.13, 0.2)
    thick, t_tier = d.value("seat_thickness", 0.03, 0.06)
    leg, leg_tier = d.value("leg_radius", 0.015, 0.03)
    d.add(Frustum((0, 0, height - thick), (0, 0, height), seat, seat))
    _splayed_legs(d, 3, seat * 0.55, seat * 1.3, height - thick, leg)
    d.size = _word(h_tier, "very low", "high")
    d.feature(t_tier, "a thin seat", "a thick seat")
    d.feature(leg_tier, "slender splayed legs", "stout splayed legs", "splayed legs")


def drum_stool(d: Draft) -> None:
    """Closed solid drum, straight or waisted like an hourglass."""
    radius, r_tier = d.value("radius", 0.18, 0.28)
    height, _ = d.value("height", 0.35, 0.48)
    waist, w_tier = d.value("waist", 0.6, 1.0)
    mid = (0, 0, height / 2)
    d.add(Frustum((0, 0, 0), mid, radius, radius * waist, caps=(True, False)))
    d.add(Frustum(mid, (0, 0, height), radius * waist, radius, caps=(False, True)))
    d.size = _word(r_tier, "narrow", "wide")
    d.feature(w_tier, "an hourglass waist", "straight sides", "a slightly narrowed waist")


# ---- the catalogue ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subtype:
    id: str  # short id; the tree node is "category/id"
    noun: str
    build: Callable[[Draft], None]
    captions: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    id: str
    captions: tuple[str, ...]
    subtypes: tuple[Subtype, ...]
    accent: bool = False  # whether its shapes have accent-coloured parts


CATALOGUE: tuple[Category, ...] = (
    Category(
        "chair",
        ("a chair", "a seat with a back", "a piece of furniture for one person to sit on"),
        (
            Subtype(
                "armchair", "armchair", armchair,
                ("an armchair", "a chair with armrests", "a wide upholstered chair with arms"),
            ),
            Subtype(
                "dining-chair", "dining chair", dining_chair,
                ("a dining chair", "a simple chair with four legs and a back", "a chair for a dining table"),
            ),
            Subtype(
                "office-chair", "office chair", office_chair,
                ("an office chair", "a swivel chair on a star base", "a desk chair on casters"),
            ),
        ),
    ),
    Category(
        "table",
        ("a table", "a piece of furniture with a flat top", "a raised flat surface to put things on"),
        (
            Subtype(
                "pedestal", "pedestal table", pedestal_table,
                ("a round pedestal table", "a round table on a single central column", "a table with one central leg"),
            ),
            Subtype(
                "four-leg", "dining table", dining_table,
                ("a rectangular four-leg table", "a rectangular dining table", "a long table on four legs"),
            ),
            Subtype(
                "coffee", "coffee table", coffee_table,
                ("a coffee table", "a low table with a lower shelf", "a low living-room table"),
            ),
        ),
    ),
    Category(
        "lamp",
        ("a lamp", "a light fixture", "a source of light for a room"),
        (
            Subtype(
                "floor", "floor lamp", floor_lamp,
                ("a floor lamp", "a tall lamp standing on the floor", "a standing lamp with a shade on a pole"),
            ),
            Subtype(
                "desk", "desk lamp", desk_lamp,
                ("a desk lamp", "a small lamp with an adjustable arm", "a reading lamp for a desk"),
            ),
            Subtype(
                "pendant", "pendant lamp", pendant_lamp,
                ("a pendant lamp", "a lamp hanging from the ceiling", "a ceiling light on a cord"),
            ),
        ),
        accent=True,
    ),
    Category(
        "shelf",
        ("a shelf", "a shelving unit", "furniture for storing and displaying things"),
        (
            Subtype(
                "bookcase", "bookcase", bookcase,
                ("a bookcase", "a shelving unit with side panels and a back", "a case of shelves for books"),
            ),
            Subtype(
                "ladder", "ladder shelf", ladder_shelf,
                ("a ladder shelf", "a leaning shelf with rails", "shelves leaning against the wall like a ladder"),
            ),
            Subtype(
                "cube", "cube organiser", cube_organiser,
                ("a cube organiser", "a cube storage shelf", "a grid of square compartments"),
            ),
        ),
    ),
    Category(
        "vase",
        ("a vase", "a decorative vessel", "a container for flowers"),
        (
            Subtype(
                "bottle", "bottle vase", bottle_vase,
                ("a bottle vase", "a vase with a narrow neck", "a bottle-shaped vase"),
            ),
            Subtype(
                "round", "round vase", round_vase,
                ("a round vase", "a bulb-shaped vase", "a spherical vase with a short neck"),
            ),
            Subtype(
                "amphora", "amphora", amphora,
                ("an amphora", "a vase with two handles", "a tapering jar with handles"),
            ),
        ),
    ),
    Category(
        "stool",
        ("a stool", "a seat without a back", "a backless seat"),
        (
            Subtype(
                "bar", "bar stool", bar_stool,
                ("a bar stool", "a tall stool with a footrest", "a high stool for a counter"),
            ),
            Subtype(
                "milking", "three-legged stool", milking_stool,
                ("a three-legged stool", "a low stool with splayed legs", "a small milking stool"),
            ),
            Subtype(
                "drum", "drum stool", drum_stool,
                ("a drum stool", "a solid cylindrical stool", "a pouf"),
            ),
        ),
    ),
)


def _article(phrase: str) -> str:
    return f"an {phrase}" if phrase[:1] in "aeiou" else f"a {phrase}"


def _join(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def instance_captions(
    noun: str, size: str | None, material: str | None, accent: str | None, features: list[str]
) -> list[str]:
    """Three paraphrases spelling out the attributes, with different word orders and phrasing.

    ``material`` is a MATERIALS key or None (no colour in the data); ``accent`` fills "{accent}" in features.
    """
    feats = [f.replace("{accent}", f"{accent} " if accent else "") for f in features]
    adjective, phrase = (MATERIALS[material][1], MATERIALS[material][2]) if material else (None, None)
    lead = " ".join(w for w in (size, adjective, noun) if w)
    first = _article(lead) + (f" with {_join(feats)}" if feats else "")
    second = _article(" ".join(w for w in (size, noun) if w))
    second += (f" {phrase}" if phrase else "") + (f", with {_join(feats[::-1])}" if feats else "")
    states = [w for w in (size, adjective) if w]
    third = f"this {noun}" + (f" is {_join(states)}" if states else "")
    if feats:
        third += (" and has " if states else " has ") + _join(feats)
    return [first, second, third]
