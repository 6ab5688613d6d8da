"""Ensembles: the datasets of several members of one simulation along a ``realization`` axis.

Members are concatenated only when they agree in everything but their values: the same
variables and units, the same grid (coordinates, levels and cell bounds), the same calendar
and the same time steps. Any difference is refused, naming the member and what differs.

Decadal hindcasts (DCPP) start each member at a start date ``sYYYY``; members of different
start dates cover different dates. They are not aligned by lead time: a time axis can carry
only one date per step, and putting the first month of the 1960 and of the 1961 hindcast on
one step would label one of them with a wrong date (and lead-time axes are beyond the means
and file naming here). Members of different start dates are therefore concatenated only over
the dates they share, which the user selects with the ``time`` input; the refusal names that
common period.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.ops.cf import bounds_names, value_encoding

__all__ = ["LABEL", "REALIZATION", "calendar_name", "concat_realizations"]

#: The new dimension and its integer coordinate (CF standard name ``realization``).
REALIZATION = "realization"
#: The label variable holding the member ids along ``realization``.
LABEL = "member_id"
#: Largest difference between coordinate values of members on the same grid: files of one
#: model round their bounds differently (EC-Earth3 lat_bnds -89.114885 and -89.11488646).
_TOLERANCE = 1e-4
#: Calendar names that CF defines as the same calendar.
_CALENDAR_ALIASES = {"gregorian": "standard"}


def concat_realizations(members: Sequence[tuple[str, xr.Dataset]]) -> xr.Dataset:
    """Concatenate the datasets of ensemble members along a new ``realization`` dimension.

    Parameters
    ----------
    members
        ``(member id, dataset)`` pairs, in the order wanted; the datasets as returned by
        :func:`cp4cds_wps.ops.open.open_dataset` (possibly subset).

    Returns
    -------
    xarray.Dataset
        Lazy. Every data variable with a time axis (every data variable but cell bounds when
        there is no time) gains the leading dimension ``realization``, whose coordinate is
        the member's position (0, 1, ...; ``standard_name: realization``) and whose label
        variable ``member_id`` holds the member ids. Coordinates, bounds and the other
        variables are those of the first member; global attributes are those all members
        share (e.g. ``variant_label`` and ``tracking_id`` are dropped).

    Raises
    ------
    ValueError
        When ``members`` is empty.
    DatasetInconsistent
        When a member differs from the first in variables, units, grid, calendar or time
        steps; the reason names the member and the difference.
    """
    if not members:
        raise ValueError("concat_realizations needs at least one member")
    first_id, first = members[0]
    variables = _member_variables(first)
    for member_id, ds in members[1:]:
        reason = _difference(first, ds, variables)
        if reason is not None:
            raise DatasetInconsistent(
                "collection",
                f"member {member_id} cannot be concatenated with {first_id}: {reason}",
            )
    combined = xr.concat(
        [ds for _, ds in members],
        dim=REALIZATION,
        data_vars=variables,
        coords="minimal",
        compat="override",
        join="override",
        combine_attrs="drop_conflicts",
    )
    for name in variables:
        combined[name].encoding = value_encoding(first[name])
    index = xr.Variable(
        REALIZATION,
        np.arange(len(members), dtype=np.int32),
        {"standard_name": "realization", "long_name": "position of the member", "units": "1"},
    )
    labels = xr.Variable(
        REALIZATION,
        np.array([member_id for member_id, _ in members], dtype=object),
        {"long_name": "ensemble member id"},
    )
    return combined.assign_coords({REALIZATION: index, LABEL: labels})


def _member_variables(ds: xr.Dataset) -> list[str]:
    """The data variables that differ between members: those with a time axis (all but
    cell bounds in data without time)."""
    bounds = bounds_names(ds)
    names = [n for n, v in ds.data_vars.items() if n not in bounds and v.ndim]
    if "time" in ds.dims:
        names = [n for n in names if "time" in ds[n].dims]
    return names


def _difference(first: xr.Dataset, ds: xr.Dataset, variables: list[str]) -> str | None:
    """How ``ds`` differs from ``first`` in what concatenation needs the same, or None."""
    others = _member_variables(ds)
    if sorted(others) != sorted(variables):
        return f"it has the variables {_names(others)}, the first member {_names(variables)}"
    for name in variables:
        units = ds[name].attrs.get("units"), first[name].attrs.get("units")
        if units[0] != units[1]:
            return f"its {name} is in {units[0]}, that of the first member in {units[1]}"
    sizes = {d: n for d, n in ds.sizes.items() if d != "time"}
    wanted = {d: n for d, n in first.sizes.items() if d != "time"}
    if sizes != wanted:
        return f"its grid has the dimensions {_sizes(sizes)}, the first member {_sizes(wanted)}"
    reason = _grid_difference(first, ds, variables)
    if reason is None and ("time" in ds.dims) != ("time" in first.dims):
        reason = "one has a time axis, the other not"
    if reason is None and "time" in first.dims:
        reason = _time_difference(first, ds)
    return reason


def _grid_difference(first: xr.Dataset, ds: xr.Dataset, variables: list[str]) -> str | None:
    """Differences of the time-free numeric variables: coordinates, levels, cell bounds."""
    for name in (*first.coords, *first.data_vars):  # coordinates first: the clearer message
        var = first[name].variable
        if name in variables or "time" in var.dims or var.dtype.kind not in "iuf":
            continue
        if name not in ds.variables:
            return f"it lacks the variable {name} of the first member"
        values = np.asarray(ds[name].values, dtype=float)
        expected = np.asarray(var.values, dtype=float)
        if values.shape != expected.shape or not np.allclose(
            values, expected, rtol=1e-6, atol=_TOLERANCE, equal_nan=True
        ):
            return f"its {name} values differ from those of the first member (another grid)"
    return None


def calendar_name(calendar: str | None) -> str | None:
    """The CF name of a calendar, one per calendar (``gregorian`` is ``standard``)."""
    return _CALENDAR_ALIASES.get(calendar, calendar)


def _calendar(ds: xr.Dataset) -> str:
    return calendar_name(ds.indexes["time"].calendar)


def _time_difference(first: xr.Dataset, ds: xr.Dataset) -> str | None:
    if _calendar(ds) != _calendar(first):
        return (
            f"its calendar is {ds.indexes['time'].calendar}, that of the first member "
            f"{first.indexes['time'].calendar}"
        )
    times, expected = ds.indexes["time"], first.indexes["time"]
    if len(times) == len(expected) and (np.asarray(times) == np.asarray(expected)).all():
        return None
    reason = f"its time axis is {_span(times)}, that of the first member {_span(expected)}"
    starts = {d.attrs.get("sub_experiment_id", "none") for d in (first, ds)} - {"none"}
    if len(starts) > 1:
        reason += (
            f"; hindcasts of different start dates ({', '.join(sorted(starts))}) are not "
            "aligned by lead time"
        )
    low, high = max(times[0], expected[0]), min(times[-1], expected[-1])
    if (low, high) == (expected[0], expected[-1]) == (times[0], times[-1]):
        reason += "; the steps between differ"
    elif low <= high:
        reason += (
            "; select the dates both cover with the time input, e.g. "
            f"{low.strftime('%Y-%m-%d')}/{high.strftime('%Y-%m-%d')}"
        )
    else:
        reason += "; they share no date"
    return reason


def _span(times: xr.CFTimeIndex) -> str:
    return f"{times[0].isoformat()} to {times[-1].isoformat()} ({len(times)} steps)"


def _names(names: list[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _sizes(sizes: dict) -> str:
    return ", ".join(f"{d} ({n})" for d, n in sizes.items()) or "none"
