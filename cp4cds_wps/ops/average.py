"""Means of a lazy xarray Dataset over its axes and over calendar periods.

Means are weighted: over the horizontal grid by cell area (see
:mod:`cp4cds_wps.ops.weights`), over levels by layer thickness and over time by the length
of each time step, whenever the dataset has the bounds to say so. Missing values (NaN, e.g.
land cells of ocean data) count neither in the sums nor in the weights. Everything stays
lazy: only coordinates, bounds and cell areas are loaded.

An averaged axis that has a 1-D coordinate keeps it as a scalar coordinate at the middle of
the averaged range, with bounds spanning it, and the variables' ``cell_methods`` name the
mean (CF 1.8, section 7.3).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta

import cftime
import numpy as np
import xarray as xr

from cp4cds_wps.errors import InvalidParameter, MissingParameter
from cp4cds_wps.ops.cf import (
    bounds_name,
    bounds_names,
    value_encoding,
    with_cell_method,
    without_grid_mapping,
)
from cp4cds_wps.ops.weights import cell_areas, horizontal_grid

__all__ = [
    "DIMS",
    "FREQS",
    "REALIZATION_DIMS",
    "average_over_dims",
    "average_time",
    "check_coarser",
    "parse_dims",
    "parse_freq",
    "realization_dim",
]

#: The dimensions a user may average over.
DIMS = ("time", "level", "latitude", "longitude", "realization")
#: Names of ensemble axes, averaged by ``realization``.
REALIZATION_DIMS = ("realization", "member", "ensemble")
#: The periods of time means and the shortest length (days) of one period in any calendar.
FREQS = {"day": 1.0, "month": 28.0, "season": 89.0, "year": 360.0}
#: ``frequency`` global attribute of the results (CMIP vocabulary; it has no season).
_FREQUENCY_ATTRS = {"day": "day", "month": "mon", "year": "yr"}
#: Months starting each month's meteorological season (DJF, MAM, JJA, SON).
_SEASON_START = np.array([12, 12, 3, 3, 3, 6, 6, 6, 9, 9, 9, 12])
_SECONDS_PER_DAY = 86400.0


def _split(text: str | None) -> list[str]:
    return [part.lower() for part in (text or "").replace(",", " ").split()]


def parse_dims(text: str | None, name: str = "dims") -> tuple[str, ...]:
    """Parse the dimensions to average over, e.g. ``"latitude,longitude"``.

    Parameters
    ----------
    text
        Comma or space separated names out of :data:`DIMS` (any case).
    name
        The request input named in errors.

    Returns
    -------
    tuple of str
        The dimensions in the order given.

    Raises
    ------
    MissingParameter
        When no dimension is given.
    InvalidParameter
        On unknown or repeated names.
    """
    dims = tuple(_split(text))
    if not dims:
        raise MissingParameter(name)
    for dim in dims:
        if dim not in DIMS:
            raise InvalidParameter(
                name, f"unknown dimension {dim!r}; choose among {', '.join(DIMS)}"
            )
    repeated = sorted({d for d in dims if dims.count(d) > 1})
    if repeated:
        raise InvalidParameter(name, f"dimension given more than once: {', '.join(repeated)}")
    return dims


def parse_freq(text: str | None, name: str = "freq") -> str:
    """Parse the period of a time mean: ``day``, ``month``, ``season`` or ``year`` (any case).

    Raises
    ------
    MissingParameter
        When no value is given.
    InvalidParameter
        On any other value.
    """
    values = _split(text)
    if not values:
        raise MissingParameter(name)
    if len(values) > 1 or values[0] not in FREQS:
        raise InvalidParameter(name, f"{text!r} is not one of {', '.join(FREQS)}")
    return values[0]


# -- helpers on coordinates ----------------------------------------------------------------


def _dims_text(ds: xr.Dataset) -> str:
    return ", ".join(f"{d} ({n})" for d, n in ds.sizes.items()) or "none"


def _vertical_dim(ds: xr.Dataset) -> str | None:
    for name in ds.cf.axes.get("Z", []) + ds.cf.coordinates.get("vertical", []):
        if name in ds.dims:
            return name
    return None


def realization_dim(ds: xr.Dataset) -> str | None:
    """The ensemble axis: ``realization``, ``member`` or ``ensemble``, else the dimension of
    a 1-D variable of standard name ``realization`` (e.g. the member labels of the IPCC
    atlas files), or None."""
    for name in REALIZATION_DIMS:
        if name in ds.dims:
            return name
    for var in ds.variables.values():
        if var.attrs.get("standard_name") == "realization" and var.ndim == 1:
            return var.dims[0]
    return None


def _time_bounds(ds: xr.Dataset) -> np.ndarray | None:
    """The time bounds ``(n, 2)`` as cftime dates (read once: they are dask-backed), or None."""
    bounds = bounds_name(ds, "time")
    return None if bounds is None else ds[bounds].values


def _lengths(edges: np.ndarray) -> np.ndarray:
    """Length in days of each ``(start, end)`` pair of dates."""
    return np.array([(b[-1] - b[0]).total_seconds() for b in edges]) / _SECONDS_PER_DAY


def _midpoint(low, high):
    return low + (high - low) / 2


def _scalar_coordinate(ds: xr.Dataset, dim: str) -> dict[str, xr.Variable]:
    """The scalar coordinate (and its bounds) that replaces an averaged 1-D axis ``dim``."""
    coord = ds[dim].variable
    bounds = bounds_name(ds, dim)
    values = (ds[bounds] if bounds else ds[dim]).values
    if isinstance(values.flat[0], cftime.datetime):
        low, high = min(values.flat), max(values.flat)
    else:
        low, high = np.nanmin(values), np.nanmax(values)
    bounds = bounds or f"{dim}_bnds"
    attrs = {**coord.attrs, "bounds": bounds}
    scalar = xr.Variable((), _midpoint(low, high), attrs, coord.encoding)
    edges = xr.Variable(("bnds",), np.array([low, high]), {}, coord.encoding)
    return {dim: scalar, bounds: edges}


# -- means over axes -----------------------------------------------------------------------


def _resolve(ds: xr.Dataset, dims: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The dataset dimensions behind each requested dimension."""
    resolved: dict[str, tuple[str, ...]] = {}
    for dim in dims:
        if dim in ("latitude", "longitude"):
            grid = horizontal_grid(ds)
            if grid.regular:
                resolved[dim] = (grid.lat if dim == "latitude" else grid.lon).dims
            elif {"latitude", "longitude"} <= set(dims):
                resolved[dim] = grid.dims
            else:
                raise InvalidParameter(
                    "dims",
                    f"on this {_grid_kind(ds, grid.dims)} grid latitude and longitude both vary "
                    f"along the dimensions {', '.join(grid.dims)}, so {dim} alone has no "
                    "meaning: average latitude and longitude together",
                )
            continue
        if dim == "level":
            found = _vertical_dim(ds)
        elif dim == "realization":
            found = realization_dim(ds)
        else:
            found = dim if dim in ds.dims else None
        if found is None:
            raise InvalidParameter(
                "dims", f"dataset has no {dim} axis; its dimensions are {_dims_text(ds)}"
            )
        resolved[dim] = (found,)
    return resolved


def _grid_kind(ds: xr.Dataset, dims: tuple[str, ...]) -> str:
    rotated = (
        any(
            ds[v].attrs.get("grid_mapping_name") == "rotated_latitude_longitude"
            for v in ds.variables
        )
        or "rlat" in dims
    )
    return "rotated-pole" if rotated else "curvilinear"


def average_over_dims(
    ds: xr.Dataset, dims: Sequence[str], *, weights: xr.DataArray | None = None
) -> xr.Dataset:
    """Weighted means over the named axes of every data variable that has them.

    Parameters
    ----------
    ds
        The dataset, as returned by :func:`cp4cds_wps.ops.open.open_dataset`.
    dims
        Names out of :data:`DIMS`. ``latitude`` and ``longitude`` are the grid's 1-D axes on
        regular grids; on curvilinear and rotated-pole grids they must be asked together and
        mean both horizontal dimensions. ``level`` is the vertical axis.
    weights
        Cell areas of the horizontal grid (e.g. ``cell_areas(ds, areacella=...)``); by default
        computed from the grid by :func:`cp4cds_wps.ops.weights.cell_areas`.

    Returns
    -------
    xarray.Dataset
        Lazy means. Horizontal means are weighted by cell area, level means by layer
        thickness when the vertical axis has bounds (else plain), time means by the length of
        each step when time has bounds (else plain). Variables without the axes are kept
        unchanged; coordinates and bounds of averaged axes are replaced by scalar coordinates
        (1-D axes) or dropped (2-D latitude/longitude, rotated axes, cell vertices); a
        horizontal mean drops the ``grid_mapping`` of the means and the grid-mapping
        variables no other variable refers to. Other axes (ensemble members, levels, ...)
        and their coordinates are kept. ``cell_methods`` say what was done, e.g.
        ``"time: mean area: mean (comment: area-weighted, cell areas from bounds)"``.

    Raises
    ------
    InvalidParameter
        When the dataset lacks a requested axis, or only one of latitude/longitude is asked
        on a curvilinear or rotated-pole grid.
    """
    resolved = _resolve(ds, dims)
    reduced = tuple(dict.fromkeys(d for names in resolved.values() for d in names))
    factors, methods = _weights_and_methods(ds, resolved, weights)
    horizontal = "latitude" in resolved or "longitude" in resolved
    means = {}
    for name, var in ds.data_vars.items():
        if name in bounds_names(ds) or not set(reduced) <= set(var.dims):
            continue
        weight = _product(factors, var)
        mean = (
            var.weighted(weight).mean(reduced, keep_attrs=True)
            if weight is not None
            else (var.mean(reduced, keep_attrs=True))
        )
        mean.attrs["cell_methods"] = var.attrs.get("cell_methods")
        for method in methods:
            mean.attrs["cell_methods"] = with_cell_method(mean.attrs["cell_methods"], method)
        if horizontal:
            mean.attrs.pop("cell_measures", None)
        mean.encoding = value_encoding(var)
        means[name] = mean
    # 1-D axes become scalar coordinates; 2-D grids and ensemble members leave no coordinate
    scalar = [
        names[0] for dim, names in resolved.items() if len(names) == 1 and dim != "realization"
    ]
    out = _replace_axes(ds, means, reduced, scalar)
    return without_grid_mapping(out, means) if horizontal else out


def _weights_and_methods(
    ds: xr.Dataset, resolved: dict[str, tuple[str, ...]], areas: xr.DataArray | None
) -> tuple[list[xr.DataArray], list[str]]:
    factors, methods = [], []
    if "time" in resolved:
        edges = _time_bounds(ds)
        if edges is not None:
            factors.append(xr.DataArray(_lengths(edges), dims="time"))
        methods.append("time: mean")
    if "level" in resolved:
        (axis,) = resolved["level"]
        bounds = bounds_name(ds, axis)
        if bounds is not None:
            edges = ds[bounds].values
            factors.append(xr.DataArray(np.abs(edges[:, -1] - edges[:, 0]), dims=axis))
            methods.append(f"{axis}: mean (comment: thickness-weighted)")
        else:
            methods.append(f"{axis}: mean (comment: unweighted, the levels have no bounds)")
    if "latitude" in resolved or "longitude" in resolved:
        areas = cell_areas(ds) if areas is None else areas
        comment = f"area-weighted, cell areas {areas.attrs.get('comment', 'given')}"
        factors.append(areas.reset_coords(drop=True).drop_indexes(list(areas.indexes)))
        if {"latitude", "longitude"} <= set(resolved):
            methods.append(f"area: mean (comment: {comment})")
        else:
            for dim in ("latitude", "longitude"):
                if dim in resolved:
                    methods.append(f"{resolved[dim][0]}: mean (comment: {comment})")
    if "realization" in resolved:
        methods.append(f"{resolved['realization'][0]}: mean")
    return factors, methods


def _product(factors: list[xr.DataArray], var: xr.DataArray) -> xr.DataArray | None:
    """The weights of ``var``: the product of the factors, chunked like ``var`` when lazy."""
    if not factors:
        return None
    weight = factors[0]
    for factor in factors[1:]:
        weight = weight * factor
    if var.chunks is not None:
        # the chunks of the values: those of its coordinates (e.g. labels along an ensemble
        # axis, read in one chunk) may differ
        chunks = var.variable.chunksizes
        weight = weight.chunk({d: chunks[d] for d in weight.dims})
    return weight


def _replace_axes(
    ds: xr.Dataset, means: dict[str, xr.DataArray], reduced: tuple[str, ...], scalar: list[str]
) -> xr.Dataset:
    """``ds`` with ``means`` in place of their variables and the averaged axes removed."""
    gone = [n for n, v in ds.variables.items() if set(v.dims) & set(reduced)]
    out = ds.drop_vars(gone)
    scalars = {}
    for dim in scalar:
        if dim in ds.indexes:
            scalars.update(_scalar_coordinate(ds, dim))
    bounds = {n: v for n, v in scalars.items() if n not in reduced}
    out = out.assign({**means, **bounds})
    return out.assign_coords({d: scalars[d] for d in reduced if d in scalars})


# -- means over calendar periods -----------------------------------------------------------


def average_time(ds: xr.Dataset, freq: str) -> xr.Dataset:
    """Daily, monthly, seasonal or yearly means, in the dataset's own calendar.

    Parameters
    ----------
    ds
        The dataset, with a ``time`` axis of cftime dates (any calendar).
    freq
        ``day``, ``month``, ``season`` (DJF, MAM, JJA, SON; a December is counted with the
        following January and February, as in xarray's ``QS-DEC`` resampling) or ``year``.

    Returns
    -------
    xarray.Dataset
        Lazy means of every variable with a time axis, one step per period that holds data.
        Each step is weighted by its length: from the time bounds, else days in the month for
        monthly data, else equally. Missing values count neither in sums nor weights. The new
        ``time_bnds`` span the data of each period (from the input bounds; without them the
        whole calendar period); ``time`` is the middle of its bounds. ``cell_methods`` end
        with ``time: mean``.

    Raises
    ------
    InvalidParameter
        When the dataset has no time axis, or its steps are as long as or longer than
        ``freq`` (e.g. a daily mean of monthly data).
    """
    if "time" not in ds.dims or "time" not in ds.indexes:
        raise InvalidParameter(
            "freq", f"dataset has no time axis; its dimensions are {_dims_text(ds)}"
        )
    index = ds.indexes["time"]
    edges = _time_bounds(ds)
    days = None if edges is None else _lengths(edges)
    if days is not None:
        check_coarser(freq, float(np.median(days)))
    elif len(index) > 1:
        check_coarser(freq, _median_step(index))
    if days is None:
        days = _default_step_days(index)
    keys, first = _periods(index, freq)
    last = np.r_[first[1:], len(keys)] - 1
    time_bounds = bounds_name(ds, "time")
    if edges is not None:
        low, high = edges[first, 0], edges[last, -1]
    else:
        low = np.array([_period_start(k, index.calendar) for k in keys[first]])
        high = np.array([_next_start(d, freq) for d in low])
    mid = np.array([_midpoint(a, b) for a, b in zip(low, high, strict=True)])

    means = {}
    for name, var in ds.data_vars.items():
        if "time" not in var.dims or name == time_bounds:
            continue
        mean = _period_means(var, days, first)
        mean.attrs = {**var.attrs, "cell_methods": _time_mean(var.attrs.get("cell_methods"))}
        mean.encoding = value_encoding(var)
        means[name] = mean
    return _new_time_axis(ds, means, mid, np.stack([low, high], axis=1), freq)


def _period_means(data: xr.DataArray, weights: np.ndarray, first: np.ndarray) -> xr.DataArray:
    """Weighted means, NaN left out, over the runs of time steps starting at ``first``.

    Lazy data is rechunked along time so that each chunk holds whole periods (about as many
    steps as its chunks had), and each chunk gives its periods' means in one task, summing
    step by step: the data are read once, a chunk at a time, and no temporary is larger than
    one field, whatever the number and length of the periods.
    """
    axis = data.get_axis_num("time")

    def means(block: np.ndarray, block_weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
        # step by step, so that no temporary is larger than one field
        steps = np.moveaxis(block, axis, 0)
        out = np.empty((len(starts), *steps.shape[1:]), dtype=block.dtype)
        for k, (a, b) in enumerate(itertools.pairwise([*starts, len(steps)])):
            total = np.zeros(steps.shape[1:])
            counted = np.zeros(steps.shape[1:])
            for field, weight in zip(steps[a:b], block_weights[a:b], strict=True):
                valid = ~np.isnan(field)
                total += np.where(valid, field, 0.0) * weight
                counted += valid * weight
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k] = total / np.where(counted > 0, counted, np.nan)
        return np.moveaxis(out, 0, axis)

    if data.chunks is None:
        return xr.DataArray(means(data.values, weights, first), dims=data.dims)
    size = data.chunks[axis][0]
    edges = [0]
    for start in first[1:]:
        if start - edges[-1] >= size:
            edges.append(int(start))
    edges.append(data.sizes["time"])
    array = data.data.rechunk({axis: tuple(np.diff(edges))})
    pieces = [
        (weights[a:b], first[(first >= a) & (first < b)] - a) for a, b in itertools.pairwise(edges)
    ]

    def block_means(block: np.ndarray, block_info=None) -> np.ndarray:
        return means(block, *pieces[block_info[0]["chunk-location"][axis]])

    chunks = (*array.chunks[:axis], tuple(len(p[1]) for p in pieces), *array.chunks[axis + 1 :])
    return xr.DataArray(
        array.map_blocks(block_means, chunks=chunks, dtype=array.dtype), dims=data.dims
    )


def _time_mean(cell_methods: str | None) -> str:
    """``cell_methods`` ending with ``time: mean`` (a mean of means stays ``time: mean``)."""
    if (cell_methods or "").rstrip().endswith("time: mean"):
        return cell_methods.strip()
    return with_cell_method(cell_methods, "time: mean")


def check_coarser(freq: str, step_days: float) -> None:
    """Refuse means over periods of ``freq`` of data whose steps are ``step_days`` long.

    Raises
    ------
    InvalidParameter
        Named ``freq`` when a period is not clearly longer than a step, naming the
        frequencies that would be.
    """
    if step_days >= 0.9 * FREQS[freq]:
        coarser = [f for f, length in FREQS.items() if length > step_days * 1.1]
        choice = f"choose {' or '.join(coarser)}" if coarser else "the data are yearly or coarser"
        raise InvalidParameter(
            "freq",
            f"the dataset's time steps are about {step_days:.3g} days long, not shorter than a "
            f"{freq}: a {freq} mean needs finer data; {choice}",
        )


def _median_step(index: xr.CFTimeIndex) -> float:
    """The median distance (days) between consecutive times."""
    steps = np.diff(np.asarray(index))
    return float(np.median([step.total_seconds() for step in steps])) / _SECONDS_PER_DAY


def _default_step_days(index: xr.CFTimeIndex) -> np.ndarray:
    """Step lengths without time bounds: days of the month for monthly data, else equal."""
    if len(index) > 1 and 25 <= _median_step(index) <= 32:
        return np.asarray(index.days_in_month, dtype=float)
    return np.ones(len(index))


def _periods(index: xr.CFTimeIndex, freq: str) -> tuple[np.ndarray, np.ndarray]:
    """An increasing integer key ``YYYYMMDD`` of the start of each step's period, and the
    positions of the first steps of the periods."""
    year, month, day = (
        np.asarray(getattr(index, f), dtype=np.int64) for f in ("year", "month", "day")
    )
    if freq == "season":
        year = year - (month < 3)
        month = _SEASON_START[month - 1]
    if freq in ("season", "month", "year"):
        day = np.ones_like(day)
    if freq == "year":
        month = np.ones_like(month)
    keys = year * 10000 + month * 100 + day
    return keys, np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _period_start(key: int, calendar: str) -> cftime.datetime:
    return cftime.datetime(key // 10000, key // 100 % 100, key % 100, calendar=calendar)


def _next_start(start: cftime.datetime, freq: str) -> cftime.datetime:
    if freq == "day":
        return start + timedelta(days=1)
    months = {"month": 1, "season": 3, "year": 12}[freq]
    total = start.year * 12 + start.month - 1 + months
    return start.replace(year=total // 12, month=total % 12 + 1)


def _new_time_axis(
    ds: xr.Dataset, means: dict[str, xr.DataArray], mid: np.ndarray, edges: np.ndarray, freq: str
) -> xr.Dataset:
    time = ds["time"].variable
    bounds = bounds_name(ds, "time") or "time_bnds"
    bounds_dim = ds[bounds].dims[-1] if bounds in ds.variables else "bnds"
    out = ds.drop_vars([n for n, v in ds.variables.items() if "time" in v.dims])
    out = out.assign_coords(
        time=xr.Variable("time", mid, {**time.attrs, "bounds": bounds}, time.encoding)
    )
    encoding = {k: v for k, v in time.encoding.items() if k in ("units", "calendar", "dtype")}
    out = out.assign({**means, bounds: xr.Variable(("time", bounds_dim), edges, {}, encoding)})
    if freq in _FREQUENCY_ATTRS:
        out.attrs["frequency"] = _FREQUENCY_ATTRS[freq]
    else:
        out.attrs.pop("frequency", None)
    return out
