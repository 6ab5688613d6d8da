"""The search page and the availability matrix, server-rendered from the facet index.

Both take the selection from the query string (``?experiment=historical&model=MIROC6``;
several values of one facet by repeating it or with commas; the meta-WPS's facet aliases
such as ``source_id`` work too), so that every state of a page is a link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

from cp4cds_wps.catalogue.html import (
    BASE,
    dataset_url,
    link,
    query,
    status_badge,
    table,
)
from cp4cds_wps.catalogue.search import SearchResult
from cp4cds_wps.inventory import Dataset
from cp4cds_wps.inventory.report import human_size
from cp4cds_wps.meta.availability import Availability
from cp4cds_wps.meta.selection import ALIASES

#: Query parameters of the pages that are not facets.
RESERVED = ("q", "page", "per_page", "expand", "rows", "columns")
#: Values of a facet shown before "all values".
SHOWN_VALUES = 8
#: Most rows and columns of the availability table (the most populated are kept).
MAX_MATRIX = 60


def selection_of(args: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The facet selection of a query string's parameters (name -> values)."""
    found: dict[str, tuple[str, ...]] = {}
    for key, raw in args.items():
        name = ALIASES.get(key.strip().lower(), key.strip().lower())
        if name in RESERVED or not name:
            continue
        values = [v.strip() for item in raw for v in item.split(",") if v.strip()]
        found[name] = tuple(dict.fromkeys(found.get(name, ()) + tuple(values)))
    return {n: v for n, v in found.items() if v}


def _toggled(selected: Mapping[str, Sequence[str]], name: str, value: str) -> dict:
    """The selection with ``value`` of facet ``name`` added, or removed when selected."""
    changed = {n: list(v) for n, v in selected.items()}
    values = changed.setdefault(name, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    return changed


def _facet_box(result: SearchResult, name: str, expanded: bool) -> str:
    values = result.facets.get(name, [])
    chosen = result.selected.get(name, ())
    if not values and not chosen:
        return ""
    shown = values if expanded else values[:SHOWN_VALUES]
    shown += [(v, 0) for v in chosen if v not in dict(shown)]
    base = {**result.selected, "q": result.text}
    items = []
    for value, count in shown:
        selected = value in chosen
        href = f"{BASE}/{query({**_toggled(result.selected, name, value), 'q': result.text})}"
        items.append(
            f'<li class="{"selected" if selected else ""}">'
            f"{link(href, ('☑ ' if selected else '☐ ') + value, title=f'{name} {value}')}"
            f'<span class="count">{count:,}</span></li>'
        )
    more = ""
    if len(values) > SHOWN_VALUES:
        if expanded:
            more = link(f"{BASE}/{query(base)}", "fewer values")
        else:
            more = link(f"{BASE}/{query({**base, 'expand': name})}", f"all {len(values):,} values")
    return (
        f'<div class="facet" data-facet="{escape(name)}"><h3>{escape(name)}</h3>'
        f"<ul>{''.join(items)}</ul>{more}</div>"
    )


def _pager(result: SearchResult) -> str:
    if result.pages == 1:
        return ""
    base = {**result.selected, "q": result.text}
    parts = []
    for label, page in (
        ("« first", 1),
        ("‹ previous", result.page - 1),
        ("next ›", result.page + 1),
        ("last »", result.pages),
    ):
        if 1 <= page <= result.pages and page != result.page:
            parts.append(link(f"{BASE}/{query({**base, 'page': str(page)})}", label))
    where = f"<span>page {result.page:,} of {result.pages:,}</span>"
    return f'<p class="pager">{where}{"".join(parts)}</p>'


def _span(dataset: Dataset) -> str:
    return f"{dataset.start[:10]} – {dataset.end[:10]}" if dataset.start and dataset.end else "–"


def search_body(result: SearchResult, datasets: Sequence[Dataset], expand: str = "") -> str:
    """The search page's content: filter, selected values, facets, a page of datasets.

    Parameters
    ----------
    result
        The search.
    datasets
        The datasets of the page (as the inventory records them), in page order.
    expand
        The facet whose values are all shown.
    """
    hidden = "".join(
        f'<input type="hidden" name="{escape(n)}" value="{escape(v)}">'
        for n, values in result.selected.items()
        for v in values
    )
    chips = "".join(
        link(
            f"{BASE}/{query({**_toggled(result.selected, n, v), 'q': result.text})}",
            f"{n}: {v} ✕",
            title="remove",
        )  # fmt: skip
        for n, values in result.selected.items()
        for v in values
    )
    if result.text:
        chips += link(f"{BASE}/{query(result.selected)}", f"text: {result.text} ✕")
    unknown = "".join(
        f'<p class="error">No dataset has {escape(n)} {escape(v)!s}.</p>' for n, v in result.unknown
    )
    facets = "".join(_facet_box(result, name, name == expand) for name in result.facets)
    by_id = {d.id: d for d in datasets}
    rows = []
    for dataset_id in result.ids:
        found = by_id.get(dataset_id)
        cells = [link(dataset_url(dataset_id), dataset_id)]
        if found is None:
            cells += ["–", "–", "–", "–"]
        else:
            cells += [
                _span(found),
                f'<span class="num">{len(found.files)}</span>',
                human_size(found.size),
                status_badge(found.status),
            ]
        rows.append(cells)
    listing = (
        table(("dataset", "time", "files", "size", "quality"), rows, "ids")
        if rows
        else '<p class="note">No dataset matches.</p>'
    )
    availability = link(f"{BASE}/availability{query(result.selected)}", "availability matrix")
    return (
        f'<form method="get" action="{BASE}/" class="search">{hidden}'
        f'<input type="search" name="q" value="{escape(result.text)}" size="60" '
        f'placeholder="words of dataset ids, e.g. HadGEM2 historical tas" aria-label="filter">'
        f' <button type="submit">Filter</button></form>'
        f'<p class="chips">{chips}</p>{unknown}'
        f'<div class="layout"><nav class="facets" aria-label="facets">{facets}</nav>'
        f'<section class="results"><p><strong id="matches">{result.matches:,}</strong> '
        f"datasets · the {availability} of this selection</p>"
        f"{_pager(result)}{listing}{_pager(result)}</section></div>"
    )


def _most(totals: np.ndarray) -> np.ndarray:
    if totals.size <= MAX_MATRIX:
        return np.arange(totals.size)
    return np.sort(np.argsort(-totals, kind="stable")[:MAX_MATRIX])


def _search_link(selection: Mapping, more: Mapping, text: str, title: str = "") -> str:
    """A link to the search of a selection with more facet values."""
    href = f"{BASE}/{query({**selection, **more})}"
    return link(href, text, title=title) if title else link(href, text)


def availability_body(matrix: Availability, facet_names: Sequence[str]) -> str:
    """The availability page's content: a form choosing the two facets, and the table of
    dataset counts, each cell a link to the search of its datasets.

    Parameters
    ----------
    matrix
        The availability matrix (:func:`cp4cds_wps.meta.availability.availability`).
    facet_names
        The facets that may be chosen as rows and columns.
    """
    selection = matrix.selection

    def options(chosen: str) -> str:
        return "".join(
            f'<option value="{escape(n)}"{" selected" if n == chosen else ""}>{escape(n)}</option>'
            for n in facet_names
        )

    hidden = "".join(
        f'<input type="hidden" name="{escape(n)}" value="{escape(v)}">'
        for n, values in selection.items()
        for v in values
    )
    where = ", ".join(f"{n} = {' | '.join(v)}" for n, v in selection.items()) or "all datasets"
    axes = {"rows": matrix.rows, "columns": matrix.columns}
    csv = f"{BASE}/availability.csv{query({**selection, **axes})}"
    form = (
        f'<form method="get" action="{BASE}/availability">{hidden}'
        f'<label for="rows">rows</label> <select id="rows" name="rows">'
        f"{options(matrix.rows)}</select> "
        f'<label for="columns">columns</label> <select id="columns" name="columns">'
        f'{options(matrix.columns)}</select> <button type="submit">Show</button></form>'
        f'<p class="note">Datasets per {escape(matrix.rows)} and {escape(matrix.columns)} among '
        f"{escape(where)} ({link(f'{BASE}/{query(selection)}', 'search them')}; "
        f"{link(csv, 'CSV')}"
        f").</p>"
    )
    if not matrix.row_values:
        return form + '<p class="note">No dataset has both facets.</p>'
    keep_rows = _most(matrix.counts.sum(axis=1))
    keep_cols = _most(matrix.counts.sum(axis=0))
    cut = ""
    if keep_rows.size < len(matrix.row_values) or keep_cols.size < len(matrix.column_values):
        cut = (
            f'<p class="note">The {keep_rows.size} most populated of '
            f"{len(matrix.row_values)} rows and {keep_cols.size} of "
            f"{len(matrix.column_values)} columns are shown; the CSV has all.</p>"
        )
    columns = [matrix.column_values[c] for c in keep_cols]
    head = "".join(
        f'<th title="{escape(v)}">{_search_link(selection, {matrix.columns: v}, v)}</th>'
        for v in columns
    )
    body = []
    for r in keep_rows:
        value = matrix.row_values[r]
        cells = [f"<th>{_search_link(selection, {matrix.rows: value}, value)}</th>"]
        for c, column in zip(keep_cols, columns, strict=True):
            count = int(matrix.counts[r, c])
            if not count:
                cells.append('<td class="zero"></td>')
                continue
            more = {matrix.rows: value, matrix.columns: column}
            cells.append(
                f"<td>{_search_link(selection, more, str(count), f'{value} × {column}')}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    corner = f"<th>{escape(matrix.rows)} \\ {escape(matrix.columns)}</th>"
    return (
        f'{form}{cut}<table class="matrix" id="matrix"><tr>{corner}{head}</tr>'
        f"{''.join(body)}</table>"
    )
