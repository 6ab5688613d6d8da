"""The data availability matrix: datasets per pair of facet values, e.g. model x variable.

Counted by the facet index under a selection (for instance one experiment), and given as
JSON, CSV and a PNG heatmap.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.meta.selection import Selection

#: Most rows or columns drawn in the heatmap (the most populated are kept).
MAX_DRAWN = 80


@dataclass(frozen=True)
class Availability:
    """Datasets per pair of values of two facets, under a selection.

    ``counts[i][j]`` is the number of datasets with ``rows`` facet ``row_values[i]`` and
    ``columns`` facet ``column_values[j]``; only values with at least one dataset appear.
    """

    rows: str
    columns: str
    row_values: tuple[str, ...]
    column_values: tuple[str, ...]
    counts: np.ndarray
    selection: dict[str, list[str]]

    def to_dict(self) -> dict:
        """The matrix as JSON-ready data."""
        return {
            "rows": self.rows,
            "columns": self.columns,
            "selection": self.selection,
            "row_values": list(self.row_values),
            "column_values": list(self.column_values),
            "counts": self.counts.tolist(),
            "datasets": int(self.counts.sum()),
        }

    def to_csv(self) -> str:
        """The matrix as CSV: a header of column values, then one line per row value."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([f"{self.rows}\\{self.columns}", *self.column_values])
        for value, counts in zip(self.row_values, self.counts, strict=True):
            writer.writerow([value, *(int(c) for c in counts)])
        return out.getvalue()

    def plot(self, path: Path) -> Path:
        """Draw the matrix as a heatmap (PNG) of at most :data:`MAX_DRAWN` rows and columns."""
        rows = _most(self.counts.sum(axis=1))
        cols = _most(self.counts.sum(axis=0))
        counts = self.counts[np.ix_(rows, cols)]
        width = min(24.0, 3.0 + 0.25 * len(cols))
        height = min(24.0, 2.5 + 0.22 * len(rows))
        fig = Figure(figsize=(width, height), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        image = ax.imshow(
            np.ma.masked_equal(counts, 0), aspect="auto", cmap="viridis", interpolation="nearest"
        )
        ax.set_xticks(range(len(cols)), [self.column_values[c] for c in cols], rotation=90)
        ax.set_yticks(range(len(rows)), [self.row_values[r] for r in rows])
        ax.set_xlabel(self.columns)
        ax.set_ylabel(self.rows)
        where = ", ".join(f"{k}={'|'.join(v)}" for k, v in self.selection.items()) or "all"
        ax.set_title(f"Datasets per {self.rows} and {self.columns} ({where})")
        bar = fig.colorbar(image, ax=ax, label="datasets")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
        fig.tight_layout()
        fig.savefig(path, format="png")
        return Path(path)


def _most(totals: np.ndarray) -> np.ndarray:
    """Positions of the largest totals (at most :data:`MAX_DRAWN`), in their order."""
    if totals.size <= MAX_DRAWN:
        return np.arange(totals.size)
    return np.sort(np.argsort(-totals, kind="stable")[:MAX_DRAWN])


def availability(
    inventory: Inventory, rows: str, columns: str, selection: Selection
) -> Availability:
    """Count datasets per pair of values of two facets under a selection.

    Parameters
    ----------
    inventory
        The archive inventory.
    rows, columns
        Facet names (e.g. ``model`` and ``variable``).
    selection
        Facet values the datasets must have (e.g. ``experiment=historical``).

    Returns
    -------
    Availability

    Raises
    ------
    InvalidParameter
        On an unknown or repeated facet, or a selected value that no dataset has.
    """
    index = inventory.facet_index()
    for name, facet in (("rows", rows), ("columns", columns), *((n, n) for n in selection.facets)):
        if facet not in index.names:
            raise InvalidParameter(
                name, f"unknown facet {facet!r}; facets are {', '.join(index.names)}"
            )
    if rows == columns:
        raise InvalidParameter("columns", f"rows and columns are both {rows!r}; choose two facets")
    codes = {}
    for name, values in selection.facets.items():
        codes[name] = [index.code(name, v) for v in values]
        if None in codes[name]:
            unknown = values[codes[name].index(None)]
            raise InvalidParameter(name, f"no dataset has {name} {unknown!r}")
    matched = index.select(codes)
    table = index.joint(rows, columns, matched)[1:, 1:]
    kept_rows = np.flatnonzero(table.sum(axis=1))
    kept_cols = np.flatnonzero(table.sum(axis=0))
    return Availability(
        rows=rows,
        columns=columns,
        row_values=tuple(index.values[rows][r + 1] for r in kept_rows),
        column_values=tuple(index.values[columns][c + 1] for c in kept_cols),
        counts=table[np.ix_(kept_rows, kept_cols)],
        selection={n: [index.values[n][c] for c in cs] for n, cs in codes.items()},
    )
