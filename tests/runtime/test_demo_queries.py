"""The demo's example queries: fixed, in the generator's words, every level covered, judged by tree ancestry."""

from __future__ import annotations

from hyperalign.data.demo import make_demo
from hyperalign.data.demo.catalogue import CATALOGUE, MATERIALS, instance_captions
from hyperalign.data.layout import load_dataset
from hyperalign.runtime.demo import EXAMPLE_QUERIES, ExampleQuery, check_top_result


def test_queries_cover_every_level_in_the_generators_own_words(tiny_demo):
    assert {q.level for q in EXAMPLE_QUERIES} == {"category", "subtype", "instance"}
    node_ids = {n.id for n in load_dataset(tiny_demo).index.nodes}
    categories = {c.id: c for c in CATALOGUE}
    for q in EXAMPLE_QUERIES:
        assert q.node in node_ids
        cat = categories[q.node.split("/")[0]]
        if q.level == "category":
            assert q.text in cat.captions
            continue
        sub = next(s for s in cat.subtypes if f"{cat.id}/{s.id}" == q.node)
        if q.level == "subtype":
            assert q.text in sub.captions
        else:
            assert q.material in MATERIALS and MATERIALS[q.material][1] in q.text.split()
            assert q.text == instance_captions(sub.noun, None, q.material, None, [])[0]
    assert len({q.text for q in EXAMPLE_QUERIES}) == len(EXAMPLE_QUERIES)


def test_top_result_flags_follow_the_items_ancestry(tiny_demo):
    ds = load_dataset(tiny_demo)
    office = next(it for it in ds.items("test") if it.node == "chair/office-chair")
    armchair = next(it for it in ds.items("test") if it.node == "chair/armchair")
    lamp = next(it for it in ds.items("test") if it.node == "lamp/floor")
    chair = ExampleQuery("a chair", "category", "chair")
    office_q = ExampleQuery("an office chair", "subtype", "chair/office-chair")
    assert check_top_result(chair, ds, office) == {"right_category": True}
    assert check_top_result(chair, ds, lamp) == {"right_category": False}
    assert check_top_result(office_q, ds, office) == {"right_category": True, "right_subtype": True}
    assert check_top_result(office_q, ds, armchair) == {"right_category": True, "right_subtype": False}
    assert check_top_result(office_q, ds, lamp) == {"right_category": False, "right_subtype": False}
    material = office.meta["material"]
    other = next(m for m in MATERIALS if m != material)
    assert check_top_result(ExampleQuery("x", "instance", "chair/office-chair", material), ds, office)["right_material"]
    assert not check_top_result(ExampleQuery("x", "instance", "chair/office-chair", other), ds, office)["right_material"]


def test_flags_read_the_tree_not_the_item_metadata(tiny_demo):
    """An item re-attached under the lamp node is judged a lamp, whatever its metadata and id say."""
    ds = load_dataset(tiny_demo)
    index = ds.index.model_copy(deep=True)
    moved = next(it for it in index.items if it.node == "chair/office-chair")
    moved.node = "lamp/floor"
    assert moved.meta["category"] == "chair" and moved.id.startswith("chair-")
    relinked = type(ds)(ds.root, index)
    query = ExampleQuery("an office chair", "subtype", "chair/office-chair")
    assert check_top_result(query, relinked, moved) == {"right_category": False, "right_subtype": False}
    assert check_top_result(ExampleQuery("a lamp", "category", "lamp"), relinked, moved) == {"right_category": True}


def test_every_query_describes_test_items_of_the_default_demo(tmp_path):
    """Splits and materials do not depend on the point count, so a 16-point copy of the default demo has the same."""
    ds = load_dataset(make_demo(tmp_path, n_points=16).parent)
    for q in EXAMPLE_QUERIES:
        hits = [it for it in ds.items("test") if it.node is not None and (it.node + "/").startswith(q.node + "/")
                and q.material in (None, it.meta["material"])]
        assert hits, q
