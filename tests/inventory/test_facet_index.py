"""The facet index against brute-force counting over synthetic facet dictionaries."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cp4cds_wps.inventory.facet_index import FacetIndex, facet_names

NAMES = ("project", "model", "experiment", "variable", "member", "domain")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """3000 datasets, skewed values, a facet some datasets lack (domain)."""
    rng = np.random.default_rng(7)
    found = []
    for _ in range(3000):
        row = {
            "project": "cmip6" if rng.random() < 0.8 else "cordex",
            "model": f"M{int(rng.zipf(1.5)) % 40}",
            "experiment": rng.choice(["historical", "ssp126", "ssp585", "amip"]),
            "variable": f"v{int(rng.zipf(1.3)) % 60}",
            "member": f"r{int(rng.zipf(2.0)) % 10 + 1}i1p1f1",
        }
        if row["project"] == "cordex":
            row["domain"] = rng.choice(["EUR-11", "AFR-22"])
        found.append({k: str(v) for k, v in row.items()})
    return found


def matching(rows, selection: dict[str, list[str]]) -> list[dict[str, str]]:
    return [r for r in rows if all(r.get(n) in values for n, values in selection.items())]


def brute(rows, selection: dict[str, list[str]], name: str) -> Counter:
    return Counter(r[name] for r in matching(rows, selection) if name in r)


def as_counter(index: FacetIndex, name: str, counts: np.ndarray) -> Counter:
    return Counter({index.values[name][c]: int(n) for c, n in enumerate(counts) if c and n})


def selections(rows, count: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        row = rows[int(rng.integers(len(rows)))]
        names = list(
            rng.choice([n for n in NAMES if n in row], size=rng.integers(0, 4), replace=False)
        )
        selection = {n: [row[n]] for n in names}
        if names and rng.random() < 0.3:  # a second value of one facet
            other = rows[int(rng.integers(len(rows)))]
            if names[0] in other:
                selection[names[0]].append(other[names[0]])
        yield selection


def codes(index: FacetIndex, selection: dict[str, list[str]]) -> dict[str, list[int]]:
    return {n: sorted({index.code(n, v) for v in values}) for n, values in selection.items()}


def test_counts_equal_brute_force(rows):
    index = FacetIndex.build(rows, generation=1)
    for selection in selections(rows, 150):
        matched = index.select(codes(index, selection))
        expected = matching(rows, selection)
        assert matched.matches == len(expected)
        for name in index.names:
            counted = as_counter(index, name, index.counts(name, matched))
            assert counted == Counter(r[name] for r in expected if name in r), (selection, name)


def test_saved_index_is_memory_mapped_and_answers_the_same(rows, tmp_path):
    built = FacetIndex.build(rows, generation=4)
    folder = built.save(tmp_path)
    assert folder.name == "g4"
    loaded = FacetIndex.load(folder)
    assert loaded.generation == 4 and loaded.size == len(rows)
    assert isinstance(loaded.column("model"), np.memmap)
    for selection in selections(rows, 50, seed=5):
        a, b = built.select(codes(built, selection)), loaded.select(codes(loaded, selection))
        for name in built.names:
            np.testing.assert_array_equal(built.counts(name, a), loaded.counts(name, b))
    # a second save of the same generation keeps the first copy
    assert built.save(tmp_path) == folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g4"]


def test_broad_selections_count_the_complement(rows):
    index = FacetIndex.build(rows, generation=1)
    selection = {"project": ["cmip6"], "member": ["r1i1p1f1", "r2i1p1f1", "r3i1p1f1"]}
    matched = index.select(codes(index, selection))
    assert matched.others is not None and matched.matches > len(rows) // 2
    assert as_counter(index, "model", index.counts("model", matched)) == brute(
        rows, selection, "model"
    )


def test_selections_every_dataset_satisfies_are_dropped():
    index = FacetIndex.build([{"project": "cmip6", "model": m} for m in "ABCA"], generation=1)
    matched = index.select({"project": [1], "model": [index.code("model", "A")]})
    assert list(matched.selection) == ["model"] and matched.matches == 2
    assert index.select({"project": [1]}).rows is None


def test_codes_match_exactly_then_ignoring_case(rows):
    index = FacetIndex.build(rows, generation=1)
    assert index.values["project"][index.code("project", "CMIP6")] == "cmip6"
    assert index.code("project", "nothing") is None
    assert index.code("project", "") is None
    assert index.code("nofacet", "x") is None


def test_rows_give_back_each_dataset_facets(rows):
    index = FacetIndex.build(rows, generation=1)
    assert [index.facets_of(i) for i in (0, 17, 2999)] == [rows[0], rows[17], rows[2999]]


def test_joint_counts(rows):
    index = FacetIndex.build(rows, generation=1)
    selection = {"experiment": ["historical"]}
    table = index.joint("model", "variable", index.select(codes(index, selection)))
    expected = Counter((r["model"], r["variable"]) for r in rows if r["experiment"] == "historical")
    found = {
        (index.values["model"][i], index.values["variable"][j]): int(n)
        for (i, j), n in np.ndenumerate(table)
        if n
    }
    assert found == dict(expected)
    everything = index.joint("project", "domain", index.select({}))
    assert everything[index.code("project", "cmip6"), 0] == sum(
        r["project"] == "cmip6" for r in rows
    )


def test_facet_names_follow_the_display_order():
    assert facet_names(["variable", "zzz", "project", "model", "aaa"]) == (
        "project",
        "model",
        "variable",
        "aaa",
        "zzz",
    )
