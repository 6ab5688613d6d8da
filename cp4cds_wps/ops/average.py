"""Means of a lazy xarray Dataset over its axes (means over calendar periods are in
:mod:`cp4cds_wps.ops.periods`, and exported here too).

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

from collections.abc import Sequence

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
from cp4cds_wps.ops.periods import (
    FREQS,
    average_time,
    check_coarser,
    midpoint,
    parse_freq,
    step_days,
    time_bounds,
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
    scalar = xr.Variable((), midpoint(low, high), attrs, coord.encoding)
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
        edges = time_bounds(ds)
        if edges is not None:
            factors.append(xr.DataArray(step_days(edges), dims="time"))
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
