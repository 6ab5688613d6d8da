"""A columnar index of the datasets' facets, for counting facet values under a selection.

Each facet is dictionary-encoded: its distinct values are sorted and numbered from 1 (0 means
"the dataset has no such facet"), and one integer column holds each dataset's code. Rows
are the datasets in id order. Per facet the index keeps the rows sorted by code (posting
lists: the rows of each value are one slice), and per pair of facets the table of joint
counts, so that:

- with nothing selected, the counts of every facet are stored;
- with values of one facet selected, the counts of every other facet are a row of the pair
  table (no pass over the datasets);
- with several facets selected, the rows of the rarest selected value are narrowed by the
  other selections, and the remaining facets are counted over those rows only.

The index is built from the inventory's ``datasets`` table once per inventory generation
(each scan that changes datasets starts a new one) and saved as one ``.npy`` file per array,
which every process of the service maps read-only: the operating system's page cache holds
one copy for all of them.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Facets in the order they are shown (facets not listed here follow, sorted by name).
FACET_ORDER = (
    "project",
    "product",
    "activity",
    "origin",
    "domain",
    "institute",
    "driving_model",
    "model",
    "rcm_version",
    "experiment",
    "sub_experiment",
    "member",
    "frequency",
    "realm",
    "table",
    "variable",
    "grid",
    "version",
)
#: Largest pair table kept (cells); rarer pairs of large facets are counted over rows.
MAX_PAIR_CELLS = 4_000_000
_META = "index.json"


def facet_names(names: Iterable[str]) -> tuple[str, ...]:
    """Return facet names in display order (:data:`FACET_ORDER`, then others sorted)."""
    names = set(names)
    known = [n for n in FACET_ORDER if n in names]
    return (*known, *sorted(names - set(known)))


def _code_dtype(cardinality: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if cardinality < np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"{cardinality} distinct values are too many")


@dataclass(frozen=True)
class Matched:
    """The datasets a selection matches.

    ``selection`` is the selection without the facets that every dataset satisfies;
    ``rows`` are the matching rows (None when all rows match), ``matches`` their number,
    and ``others`` the rows that do not match, when fewer (counted instead).
    """

    selection: Mapping[str, Sequence[int]]
    rows: np.ndarray | None
    matches: int
    others: np.ndarray | None = None


class FacetIndex:
    """Dictionary-encoded facet columns of all datasets, with posting lists and pair tables.

    Use :meth:`build` (from facet dictionaries) or :meth:`load` (a saved index); the arrays
    may be memory-mapped.

    Attributes
    ----------
    generation
        The inventory generation the index was built from.
    size
        Number of datasets (rows).
    names
        Facet names, in display order.
    values
        Per facet, its values by code: ``values[name][0]`` is ``""`` (no such facet).
    """

    def __init__(
        self,
        generation: int,
        values: Mapping[str, Sequence[str]],
        arrays: Mapping[str, np.ndarray],
    ):
        self.generation = generation
        self.names = facet_names(values)
        self.values = {name: tuple(values[name]) for name in self.names}
        self._arrays = dict(arrays)
        self.size = int(self._arrays[f"codes.{self.names[0]}"].size) if self.names else 0
        self._lookup = {name: {v: i for i, v in enumerate(vals)} for name, vals in values.items()}
        self._folded = {
            name: {v.lower(): v for v in reversed(vals[1:])} for name, vals in values.items()
        }

    # -- building, saving and loading ------------------------------------------------------

    @classmethod
    def build(cls, rows: Sequence[Mapping[str, str]], generation: int) -> FacetIndex:
        """Build the index of datasets given by their facets, in row order.

        Parameters
        ----------
        rows
            One facet dictionary per dataset.
        generation
            The inventory generation the rows come from.

        Returns
        -------
        FacetIndex
        """
        names = facet_names(name for row in rows for name in row)
        values: dict[str, list[str]] = {}
        arrays: dict[str, np.ndarray] = {}
        for name in names:
            column = np.array([row.get(name) for row in rows], dtype=object)
            raw, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
            values[name] = ["", *(str(u) for u in uniques)]
            codes = (raw + 1).astype(_code_dtype(len(values[name])))
            arrays[f"codes.{name}"] = codes
            order = np.argsort(codes, kind="stable").astype(np.int32)
            totals = np.bincount(codes, minlength=len(values[name]))
            arrays[f"order.{name}"] = order
            arrays[f"starts.{name}"] = np.concatenate([[0], np.cumsum(totals)]).astype(np.int64)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                shape = (len(values[a]), len(values[b]))
                if shape[0] * shape[1] > MAX_PAIR_CELLS:
                    continue
                joint = arrays[f"codes.{a}"].astype(np.int64) * shape[1] + arrays[f"codes.{b}"]
                table = np.bincount(joint, minlength=shape[0] * shape[1]).reshape(shape)
                arrays[f"pair.{a}.{b}"] = table.astype(np.int32)
        return cls(generation, values, arrays)

    def save(self, folder: Path) -> Path:
        """Save the index into ``folder/g<generation>`` (written aside, then renamed).

        When another process has saved the same generation meanwhile, its copy is kept.

        Returns
        -------
        Path
            The generation's folder.
        """
        target = Path(folder) / f"g{self.generation}"
        partial = Path(folder) / f".g{self.generation}.{os.getpid()}.{uuid.uuid4().hex}"
        partial.mkdir(parents=True)
        try:
            for key, array in self._arrays.items():
                np.save(partial / f"{key}.npy", np.ascontiguousarray(array))
            meta = {"generation": self.generation, "values": self.values}
            (partial / _META).write_text(json.dumps(meta))
            try:
                partial.rename(target)
            except OSError:
                if not (target / _META).is_file():
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return target

    @classmethod
    def load(cls, path: Path) -> FacetIndex:
        """Load a saved index (a ``g<generation>`` folder), memory-mapping its arrays.

        Raises
        ------
        FileNotFoundError
            When the folder holds no complete index.
        """
        path = Path(path)
        meta = json.loads((path / _META).read_text())
        arrays = {p.stem: np.load(p, mmap_mode="r") for p in path.glob("*.npy")}
        return cls(meta["generation"], meta["values"], arrays)

    # -- lookups ---------------------------------------------------------------------------

    def code(self, name: str, value: str) -> int | None:
        """The code of a facet value, matched exactly, else case-insensitively; or None."""
        codes = self._lookup.get(name, {})
        if value in codes and value:
            return codes[value]
        folded = self._folded.get(name, {}).get(value.lower())
        return None if folded is None else codes[folded]

    def column(self, name: str) -> np.ndarray:
        """The codes of a facet, one per row."""
        return self._arrays[f"codes.{name}"]

    def totals(self, name: str) -> np.ndarray:
        """Number of datasets with each code of a facet."""
        return np.diff(self._arrays[f"starts.{name}"])

    def posting(self, name: str, codes: Sequence[int]) -> np.ndarray:
        """The rows holding any of ``codes`` of a facet (sorted by row within each code)."""
        order, starts = self._arrays[f"order.{name}"], self._arrays[f"starts.{name}"]
        parts = [order[starts[c] : starts[c + 1]] for c in codes]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def facets_of(self, row: int) -> dict[str, str]:
        """The facets of the dataset in ``row``."""
        found = {}
        for name in self.names:
            code = int(self.column(name)[row])
            if code:
                found[name] = self.values[name][code]
        return found

    # -- counting --------------------------------------------------------------------------

    def select(self, selection: Mapping[str, Sequence[int]]) -> Matched:
        """Return the rows matching every selected facet (any of its codes).

        Parameters
        ----------
        selection
            Facet name -> codes accepted (at least one each).

        Returns
        -------
        Matched
        """
        sizes = {
            name: int(self.totals(name)[list(codes)].sum()) for name, codes in selection.items()
        }
        selection = {n: codes for n, codes in selection.items() if sizes[n] < self.size}
        if not selection:
            return Matched(selection, None, self.size)
        first = min(selection, key=sizes.__getitem__)
        rows = self.posting(first, selection[first])
        for name, codes in selection.items():
            if name == first or rows.size == 0:
                continue
            column = self.column(name)
            if len(codes) == 1:
                rows = rows[column[rows] == codes[0]]
            else:
                wanted = np.zeros(len(self.values[name]), dtype=bool)
                wanted[list(codes)] = True
                rows = rows[wanted[column[rows]]]
        others = None
        if len(selection) > 1 and rows.size > self.size // 2:
            keep = np.ones(self.size, dtype=bool)
            keep[rows] = False
            others = np.flatnonzero(keep)
        return Matched(selection, rows, int(rows.size), others)

    def counts(self, name: str, matched: Matched) -> np.ndarray:
        """Number of datasets per code of facet ``name`` among the matched rows.

        Parameters
        ----------
        name
            The facet counted.
        matched
            What :meth:`select` returned.

        Returns
        -------
        numpy.ndarray
            One count per code (index 0: datasets without the facet).
        """
        size = len(self.values[name])
        if matched.rows is None:
            return self.totals(name)
        if len(matched.selection) == 1:
            ((fixed, codes),) = matched.selection.items()
            table = self._pair(fixed, name)
            if table is not None:
                return table[list(codes)].sum(axis=0)
        if matched.others is not None:
            others = np.bincount(self.column(name)[matched.others], minlength=size)
            return self.totals(name) - others
        return np.bincount(self.column(name)[matched.rows], minlength=size)

    def joint(self, first: str, second: str, matched: Matched) -> np.ndarray:
        """Number of datasets per pair of codes of two facets among the matched rows.

        Returns
        -------
        numpy.ndarray
            Shape (codes of ``first``, codes of ``second``).
        """
        shape = (len(self.values[first]), len(self.values[second]))
        if matched.rows is None and (table := self._pair(first, second)) is not None:
            return np.asarray(table)
        rows = np.arange(self.size) if matched.rows is None else matched.rows
        pairs = self.column(first)[rows].astype(np.int64) * shape[1] + self.column(second)[rows]
        return np.bincount(pairs, minlength=shape[0] * shape[1]).reshape(shape)

    def _pair(self, fixed: str, name: str) -> np.ndarray | None:
        """The joint counts table with ``fixed`` along the rows, if it was kept."""
        direct = self._arrays.get(f"pair.{fixed}.{name}")
        if direct is not None:
            return direct
        flipped = self._arrays.get(f"pair.{name}.{fixed}")
        return None if flipped is None else flipped.T
