"""Usage statistics: which variables, experiments and models are asked for, per day.

Counted by the metrics middleware into the request log (:class:`cp4cds_wps.request_log.Usage`):
each dataset named in an accepted Execute of the WPS (by process), each original file
downloaded whole from ``/data`` (by its dataset). The page plots datasets asked for per day
and the most asked-for values of each facet (inline SVG, as the dashboard), and links the
same rows as CSV and JSON.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Sequence
from html import escape

from cp4cds_wps.catalogue.html import BASE, link, query, table
from cp4cds_wps.dashboard import chart
from cp4cds_wps.request_log import USAGE_SOURCES, Bucket, Usage

#: Days shown by default, and at most.
DAYS, MAX_DAYS = 30, 3660
#: Values of a facet shown in its plot.
TOP = 15
#: The facets tabulated on the page.
FACETS = ("variable", "experiment", "model")
_COLOURS = {"process": "#2f81f7", "download": "#1a7f37"}
_SOURCE_NAMES = {"process": "processes", "download": "downloads of original files"}
_BAR_HEIGHT, _LABEL_WIDTH, _PLOT_WIDTH = 18, 190, 420


def columns() -> list[str]:
    """The columns of the CSV."""
    return list(Usage.__dataclass_fields__)


def to_csv(rows: Sequence[Usage]) -> str:
    """The usage rows as CSV (days as ``YYYY-MM-DD``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, columns(), lineterminator="\n")
    writer.writeheader()
    writer.writerows(row.to_dict() for row in rows)
    return out.getvalue()


def totals(rows: Sequence[Usage], facet: str) -> dict[str, Counter]:
    """Datasets asked for per value of ``facet``, by source."""
    found: dict[str, Counter] = {source: Counter() for source in USAGE_SOURCES}
    for row in rows:
        found[row.source][getattr(row, facet)] += row.requests
    return found


def to_json(rows: Sequence[Usage], since_day: int, until_day: int) -> dict:
    """The usage rows and their totals per facet and source, as JSON-ready data."""
    return {
        "since": time.strftime("%Y-%m-%d", time.gmtime(since_day * 86400)),
        "until": time.strftime("%Y-%m-%d", time.gmtime(until_day * 86400)),
        "totals": {
            facet: {
                source: dict(counts.most_common()) for source, counts in totals(rows, facet).items()
            }
            for facet in ("project", *FACETS)
        },
        "rows": [row.to_dict() for row in rows],
    }


def _bars(counts: dict[str, Counter], facet: str) -> str:
    """A horizontal bar chart (SVG) of the most asked-for values, a bar per source."""
    overall = Counter()
    for found in counts.values():
        overall.update(found)
    ranked = [value for value, _ in overall.most_common(TOP)]
    top = max(overall.values(), default=0) or 1
    height = _BAR_HEIGHT * len(ranked) + 24
    width = _LABEL_WIDTH + _PLOT_WIDTH + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="datasets asked for per {escape(facet)}">'
    ]
    for i, value in enumerate(ranked):
        y = 4 + i * _BAR_HEIGHT
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 12}" text-anchor="end" font-size="11" '
            f'fill="#1d2733">{escape(value)}</text>'
        )
        x = _LABEL_WIDTH
        for source in USAGE_SOURCES:
            n = counts[source][value]
            if not n:
                continue
            w = max(_PLOT_WIDTH * n / top, 1)
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{_BAR_HEIGHT - 5}" '
                f'fill="{_COLOURS[source]}"><title>{escape(value)}: {n} by {source}</title></rect>'
            )
            x += w
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + 12}" font-size="11" fill="#57606a">'
            f"{overall[value]}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_body(rows: Sequence[Usage], since_day: int, until_day: int) -> str:
    """The usage page's content for the days ``since_day`` to ``until_day``."""
    days = until_day - since_day + 1
    per_day = {source: Counter() for source in USAGE_SOURCES}
    for row in rows:
        per_day[row.source][row.day] += row.requests
    buckets = [Bucket(float((since_day + i) * 86400), 0, 0, 0.0) for i in range(days)]
    plots = "".join(
        f"<h2>Datasets asked for by {_SOURCE_NAMES[source]} per day</h2>"
        + chart(
            buckets,
            [per_day[source][since_day + i] for i in range(days)],
            "%Y-%m-%d",
            "datasets",
            _COLOURS[source],
        )
        for source in USAGE_SOURCES
    )
    sums = {source: sum(per_day[source].values()) for source in USAGE_SOURCES}
    sections = []
    for facet in FACETS:
        counts = totals(rows, facet)
        table_rows = [
            (
                link(f"{BASE}/{query({facet: value})}", value),
                f'<span class="num">{counts["process"][value]}</span>',
                f'<span class="num">{counts["download"][value]}</span>',
            )
            for value, _ in (counts["process"] + counts["download"]).most_common(TOP)
        ]
        sections.append(
            f'<section class="usage-facet" data-facet="{facet}"><h2>Most asked-for {facet}s</h2>'
            f"{_bars(counts, facet)}"
            f"{table((facet, 'by processes', 'by downloads'), table_rows, 'usage')}</section>"
        )
    since = time.strftime("%Y-%m-%d", time.gmtime(since_day * 86400))
    choices = " ".join(
        link(f"{BASE}/usage{query({'days': str(n)})}", f"last {n} days") for n in (7, 30, 365)
    )
    downloads = " · ".join(
        link(f"{BASE}/usage.{kind}{query({'days': str(days)})}", kind.upper())
        for kind in ("csv", "json")
    )
    legend = " ".join(
        f'<span style="color:{_COLOURS[s]}">■</span> {_SOURCE_NAMES[s]}' for s in USAGE_SOURCES
    )
    return (
        f"<h1>Usage since {since}</h1><p>{choices} · download as {downloads}</p>"
        f'<p><strong id="process-total">{sums["process"]:,}</strong> datasets asked for by '
        f'processes, <strong id="download-total">{sums["download"]:,}</strong> by downloads of '
        f"original files ({legend}).</p>"
        '<p class="note">Counted: each dataset named in the collection of an Execute the WPS '
        "accepted, and the dataset of each original file downloaded whole from /data; UTC "
        f"days.</p>{plots}{''.join(sections)}"
    )
