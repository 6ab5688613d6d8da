"""Faceted search over the inventory's facet index: counts per value, a text filter, pages.

A search is a selection of facet values (several values of one facet: any of them), an
optional text and a page. It is answered from the facet index
(:mod:`cp4cds_wps.inventory.facet_index`) alone, without the database:

- the matching rows are those of :meth:`FacetIndex.select` (posting lists), narrowed by the
  text;
- each facet's values are counted as a faceted search shows them: a facet with values
  selected is counted under the *other* selections (so that more of its values can be
  added), every other facet under the whole search;
- the text is split into words at spaces and dots (the parts of an id); a dataset matches
  when each word is part of one of its facet values (case-insensitive), so that
  ``HadGEM2 historical tas`` and ``HadGEM2-ES.historical`` both find the ids they name;
- the page's rows are the matching rows in id order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cp4cds_wps.inventory import drs
from cp4cds_wps.inventory.facet_index import FacetIndex

#: Datasets per page, by default and at most.
PER_PAGE, MAX_PER_PAGE = 50, 500
#: Words of the text filter used (the rest are ignored).
MAX_WORDS = 8
_WORDS = re.compile(r"[\s.]+")


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    ``selected`` holds the selected values as the inventory spells them; ``unknown`` the
    selected (facet, value) pairs no dataset has; ``facets`` per facet its values with
    dataset counts (most datasets first; values with none left out); ``ids`` the dataset
    ids of the page.
    """

    matches: int
    selected: dict[str, tuple[str, ...]]
    unknown: tuple[tuple[str, str], ...]
    facets: dict[str, list[tuple[str, int]]]
    text: str
    page: int
    per_page: int
    ids: tuple[str, ...]

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.matches // self.per_page))


def words(text: str) -> list[str]:
    """The words of a text filter, lower-case (at most :data:`MAX_WORDS`)."""
    return [w.lower() for w in _WORDS.split(text.strip()) if w][:MAX_WORDS]


def _word_mask(index: FacetIndex, word: str) -> np.ndarray:
    """Whether each row has some facet value containing ``word`` (from the posting lists
    of the matching values, so that the cost follows the rows they hold)."""
    keep = np.zeros(index.size, dtype=bool)
    for name in index.names:
        codes = [c for c, value in enumerate(index.values[name]) if c and word in value.lower()]
        if codes:
            keep[index.posting(name, codes)] = True
    return keep


def _rows(
    index: FacetIndex, codes: Mapping[str, Sequence[int]], masks: Sequence[np.ndarray]
) -> np.ndarray:
    """The rows matching the facet codes and every word's mask, in id order."""
    matched = index.select(codes)
    if matched.rows is None:
        rows = np.arange(index.size, dtype=np.int64)
    else:
        rows = np.asarray(matched.rows)
        if rows.size > 1 and np.any(rows[1:] < rows[:-1]):
            rows = np.sort(rows)
    for mask in masks:
        rows = rows[mask[rows]]
    return rows


def _counts(
    index: FacetIndex,
    name: str,
    codes: Mapping[str, Sequence[int]],
    masks: Sequence[np.ndarray],
    rows: np.ndarray,
) -> np.ndarray:
    """Datasets per code of facet ``name`` under the selections of the other facets (the
    matching ``rows`` when ``name`` is not selected)."""
    others = {n: c for n, c in codes.items() if n != name}
    if not masks:
        return np.asarray(index.counts(name, index.select(others)))
    if name in codes:
        rows = _rows(index, others, masks)
    return np.bincount(index.column(name)[rows], minlength=len(index.values[name]))


def search(
    index: FacetIndex,
    selection: Mapping[str, Sequence[str]],
    text: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> SearchResult:
    """Search the datasets of a facet index.

    Parameters
    ----------
    index
        The inventory's facet index.
    selection
        Facet name -> values wanted (any of them); values are matched as the meta-WPS
        matches them (exactly, else ignoring case).
    text
        Words each of which must be part of a facet value of the dataset.
    page, per_page
        Which page of the matching ids (from 1), and its length (at most
        :data:`MAX_PER_PAGE`).

    Returns
    -------
    SearchResult
    """
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    unknown: list[tuple[str, str]] = []
    codes: dict[str, list[int]] = {}
    for name, values in selection.items():
        if not values:
            continue
        codes[name] = []
        for value in values:
            code = index.code(name, value) if name in index.names else None
            if code is None:
                unknown.append((name, value))
            elif code not in codes[name]:
                codes[name].append(code)
    text_words = words(text)
    empty = any(not c for c in codes.values())  # a facet none of whose values exists
    codes = {n: c for n, c in codes.items() if c}
    masks = [] if empty else [_word_mask(index, word) for word in text_words]
    rows = np.zeros(0, dtype=np.int64) if empty else _rows(index, codes, masks)
    facets = {}
    for name in index.names:
        counts = np.zeros(1) if empty else _counts(index, name, codes, masks, rows)
        present = [int(c) for c in np.flatnonzero(counts) if c]
        ranked = sorted(present, key=lambda c: (-counts[c], index.values[name][c]))
        facets[name] = [(index.values[name][c], int(counts[c])) for c in ranked]
    page = min(max(1, page), max(1, -(-rows.size // per_page)))
    shown = rows[(page - 1) * per_page : page * per_page]
    return SearchResult(
        matches=int(rows.size),
        selected={n: tuple(index.values[n][c] for c in cs) for n, cs in codes.items()},
        unknown=tuple(unknown),
        facets=facets,
        text=" ".join(text_words),
        page=page,
        per_page=per_page,
        ids=tuple(drs.build_id(index.facets_of(int(row))) for row in shown),
    )
