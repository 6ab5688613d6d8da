"""Time steps a dataset holds twice: in two of its files (a December repeated at the start of
the next file) or within one file. Find them, compare their values, drop the repeats.

A repeated step is a step whose time equals a step of an earlier file (files in time order)
or an earlier step of the same file. Repeats are dropped when every time-dependent variable
is equal at the repeated time (missing values equal missing values); repeats with other
values make the dataset ambiguous, unless the operator declared which file to keep.

>>> repeats = find_repeats(parts, names)  # doctest: +SKIP
>>> check_equal(parts, repeats)  # DatasetInconsistent at a difference  # doctest: +SKIP
>>> parts = drop_repeats(parts, repeats)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent

__all__ = ["Repeat", "check_equal", "drop_repeats", "find_repeats", "first_difference"]


@dataclass(frozen=True)
class Repeat:
    """Steps of part ``later`` whose times part ``earlier`` already holds (the same part for
    steps repeated within one file).

    ``positions`` are the steps' positions in ``later``, ``earlier_positions`` those of the
    same times in ``earlier``; ``names`` holds the two files' names.
    """

    earlier: int
    later: int
    earlier_positions: tuple[int, ...]
    positions: tuple[int, ...]
    times: tuple
    names: tuple[str, str]

    def describe(self) -> str:
        """Which steps of which files, in words."""
        span = _iso(self.times[0]) + ("" if len(self.times) == 1 else f" to {_iso(self.times[-1])}")
        where = (
            f"within {self.names[0]}"
            if self.earlier == self.later
            else f"in {self.names[0]} and {self.names[1]}"
        )
        return f"{len(self.positions)} time step(s) {where} ({span})"


def time_dim(ds: xr.Dataset) -> str | None:
    """The dataset's time dimension: ``time``, else that of a coordinate with ``axis: T`` or
    ``standard_name: time``; None without one."""
    if "time" in ds.dims:
        return "time"
    for coord in ds.coords.values():
        if coord.ndim == 1 and (
            coord.attrs.get("axis") == "T" or coord.attrs.get("standard_name") == "time"
        ):
            return coord.dims[0] if coord.dims[0] in ds.dims else None
    return None


def _key(value) -> tuple | object:
    """A time as a key that compares across calendars (cftime) or as it is (numbers)."""
    if hasattr(value, "year"):
        return (value.year, value.month, value.day, value.hour, value.minute, value.second,
                value.microsecond)  # fmt: skip
    return value


def _iso(value) -> str:
    if hasattr(value, "year"):
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
            f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
        )
    return str(value)


def find_repeats(parts: Sequence[xr.Dataset], names: Sequence[str]) -> list[Repeat]:
    """Find the time steps of each part that an earlier part, or the part itself, holds.

    Parameters
    ----------
    parts
        The files of one dataset, opened, in time order.
    names
        Their file names, for messages.

    Returns
    -------
    list of Repeat
        One per pair of parts (or part) with repeated steps, in time order.

    Raises
    ------
    DatasetInconsistent
        When, repeats aside, a part's steps do not come after those of the earlier parts
        (files overlapping with steps at other times).
    """
    seen: dict[object, tuple[int, int]] = {}
    repeats: dict[tuple[int, int], list[tuple[int, int, object]]] = {}
    last: tuple[object, int] | None = None
    for i, part in enumerate(parts):
        dim = time_dim(part)
        if dim is None:
            continue
        for position, value in enumerate(part[dim].values):
            key = _key(value)
            if key in seen:
                earlier, earlier_position = seen[key]
                repeats.setdefault((earlier, i), []).append((earlier_position, position, value))
                continue
            if last is not None and key < last[0]:
                where = (
                    f"{names[i]} holds time steps out of order"
                    if last[1] == i
                    else f"{names[last[1]]} and {names[i]} overlap in time with steps at "
                    "other times"
                )
                raise DatasetInconsistent(
                    "collection",
                    f"{where} (first at {_iso(value)}), so their steps cannot be put in order",
                )
            seen[key] = (i, position)
            last = (key, i)
    return [
        Repeat(
            earlier=earlier,
            later=later,
            earlier_positions=tuple(e for e, _, _ in steps),
            positions=tuple(p for _, p, _ in steps),
            times=tuple(v for _, _, v in steps),
            names=(names[earlier], names[later]),
        )
        for (earlier, later), steps in repeats.items()
    ]


def _same(a, b):
    """Elementwise equality, missing values equal to missing values."""
    equal = a == b
    if np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.complexfloating):
        equal = equal | (da.isnan(a) & da.isnan(b))
    return equal


def first_difference(parts: Sequence[xr.Dataset], repeat: Repeat) -> tuple[int, str] | None:
    """The first repeated step whose values differ, and a variable that differs there.

    Every variable along the time dimension but the time coordinate itself is compared,
    lazily, chunk by chunk.

    Returns
    -------
    tuple or None
        ``(index into repeat.positions, variable name)``, None when all are equal.
    """
    first, later = parts[repeat.earlier], parts[repeat.later]
    dim = time_dim(later)
    a = first.isel({dim: list(repeat.earlier_positions)})
    b = later.isel({dim: list(repeat.positions)})
    checks = {}
    for name, variable in b.variables.items():
        if name == dim or dim not in variable.dims or name not in a.variables:
            continue
        left, right = a.variables[name], variable.transpose(*a.variables[name].dims)
        if left.shape != right.shape:
            checks[name] = da.zeros(len(repeat.positions), dtype=bool)
            continue
        equal = _same(da.asarray(left.data), da.asarray(right.data))
        axes = tuple(i for i, d in enumerate(left.dims) if d != dim)
        checks[name] = equal.all(axis=axes) if axes else equal
    (computed,) = dask.compute(checks)
    found = [
        (int(np.flatnonzero(~np.asarray(ok))[0]), name)
        for name, ok in computed.items()
        if not np.all(ok)
    ]
    return min(found) if found else None


def check_equal(parts: Sequence[xr.Dataset], repeats: Sequence[Repeat]) -> None:
    """Refuse repeats whose values differ, naming the files and the first such time.

    Raises
    ------
    DatasetInconsistent
        At the first repeat with other values.
    """
    for repeat in repeats:
        found = first_difference(parts, repeat)
        if found is not None:
            index, variable = found
            raise DatasetInconsistent("collection", conflict_message(repeat, index, variable))


def conflict_message(repeat: Repeat, index: int, variable: str) -> str:
    """The reason a repeat with other values is refused."""
    where = (
        f"{repeat.names[0]} repeats time steps"
        if repeat.earlier == repeat.later
        else f"{repeat.names[0]} and {repeat.names[1]} overlap in time"
    )
    return (
        f"{where} with other values: {variable} differs at {_iso(repeat.times[index])} (the "
        f"first of {len(repeat.positions)} repeated step(s) to differ), so it is unclear which "
        "to use; the service operator can declare the file to keep (a drop_duplicate_steps "
        "fix in the known-issues register)"
    )


def drop_repeats(
    parts: Sequence[xr.Dataset], repeats: Sequence[Repeat], keep: str = "first"
) -> list[xr.Dataset]:
    """The parts without their repeated steps: the later copies (``keep="first"``) or the
    earlier ones (``"last"``). Parts left without steps are left out."""
    dropped: dict[int, set[int]] = {}
    for repeat in repeats:
        if keep == "last" and repeat.earlier != repeat.later:
            dropped.setdefault(repeat.earlier, set()).update(repeat.earlier_positions)
        else:
            dropped.setdefault(repeat.later, set()).update(repeat.positions)
    kept = []
    for i, part in enumerate(parts):
        if i not in dropped:
            kept.append(part)
            continue
        dim = time_dim(part)
        remaining = [p for p in range(part.sizes[dim]) if p not in dropped[i]]
        if remaining:
            kept.append(part.isel({dim: remaining}))
    return kept
