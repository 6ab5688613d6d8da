"""The faceted search, against counts made by brute force over the same facet rows."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cp4cds_wps.catalogue.search import search, words
from cp4cds_wps.inventory import drs
from cp4cds_wps.inventory.facet_index import FacetIndex


def _rows(n: int = 450, seed: int = 3) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    while len(rows) < n:
        facets = {
            "project": "cmip6",
            "activity": f"MIP{rng.integers(3)}",
            "institute": f"INST{rng.integers(4)}",
            "model": f"MODEL-{rng.integers(9)}",
            "experiment": ["historical", "ssp126", "ssp585", "piControl"][rng.integers(4)],
            "member": f"r{rng.integers(1, 4)}i1p1f1",
            "table": ["Amon", "Omon", "day"][rng.integers(3)],
            "variable": ["tas", "tasmax", "pr", "tos", "siconc"][rng.integers(5)],
            "grid": ["gn", "gr"][rng.integers(2)],
            "version": f"v2019010{rng.integers(1, 3)}",
        }
        key = tuple(facets.values())
        if key not in seen:
            seen.add(key)
            rows.append(facets)
    return sorted(rows, key=drs.build_id)


ROWS = _rows()
INDEX = FacetIndex.build(ROWS, generation=1)


def _matches(row: dict, selection: dict, text: list[str]) -> bool:
    for name, values in selection.items():
        if row.get(name) not in values:
            return False
    return all(any(w in v.lower() for v in row.values()) for w in text)


@pytest.mark.parametrize(
    ("selection", "text"),
    [
        ({}, ""),
        ({"experiment": ["historical"]}, ""),
        ({"experiment": ["historical", "ssp585"], "variable": ["tas"]}, ""),
        ({"model": ["MODEL-1"], "table": ["Amon"], "grid": ["gn"]}, ""),
        ({}, "tas"),
        ({"experiment": ["ssp126"]}, "MODEL-3 r2i1p1f1"),
        ({"institute": ["INST0", "INST2"]}, "MODEL-1.historical"),
        ({"variable": ["tos"]}, "no-such-word"),
    ],
)
def test_counts_and_matches_equal_a_brute_force_count(selection, text):
    result = search(INDEX, selection, text, per_page=500)
    wanted = words(text)
    expected = [r for r in ROWS if _matches(r, selection, wanted)]
    assert result.matches == len(expected)
    assert list(result.ids) == [drs.build_id(r) for r in expected]
    for name in INDEX.names:
        # a selected facet counts under the other selections: its other values stay offered
        others = {n: v for n, v in selection.items() if n != name}
        counted = Counter(r[name] for r in ROWS if _matches(r, others, wanted))
        assert dict(result.facets[name]) == dict(counted), name
        assert [c for _, c in result.facets[name]] == sorted(counted.values(), reverse=True)


def test_text_words_split_at_dots_and_spaces_and_ignore_case():
    assert words("  HadGEM2-ES.historical   TAS ") == ["hadgem2-es", "historical", "tas"]
    one = search(INDEX, {}, "model-1 HISTORICAL").matches
    assert one == search(INDEX, {}, "MODEL-1.historical").matches > 0


def test_pages_split_the_matches_in_id_order():
    everything = search(INDEX, {"table": ["Omon"]}, per_page=500).ids
    pages = [search(INDEX, {"table": ["Omon"]}, page=p, per_page=50) for p in (1, 2, 3)]
    assert pages[0].pages == -(-len(everything) // 50)
    assert pages[0].ids + pages[1].ids + pages[2].ids == everything[:150]
    last = search(INDEX, {"table": ["Omon"]}, page=10**6, per_page=50)
    assert last.page == last.pages and last.ids == everything[(last.pages - 1) * 50 :]


def test_values_are_matched_as_the_meta_wps_matches_them():
    found = search(INDEX, {"experiment": ["HISTORICAL"]})
    assert found.selected == {"experiment": ("historical",)}
    assert found.matches == sum(r["experiment"] == "historical" for r in ROWS)


def test_unknown_values_match_nothing_and_are_named():
    found = search(INDEX, {"experiment": ["histerical"], "variable": ["tas"]})
    assert found.matches == 0 and found.ids == ()
    assert found.unknown == (("experiment", "histerical"),)
    # a known value beside an unknown one of the same facet still matches
    mixed = search(INDEX, {"experiment": ["histerical", "historical"]})
    assert mixed.matches == sum(r["experiment"] == "historical" for r in ROWS)
    assert search(INDEX, {"nofacet": ["x"]}).unknown == (("nofacet", "x"),)
