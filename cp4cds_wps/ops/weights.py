"""Weights of grid cells for area means: cell areas on every kind of horizontal grid.

Cell areas come, in order of preference, from an ``areacella``/``areacello`` field, from the
cell bounds of the grid (the latitude band times the longitude width on regular grids; the
spherical polygon of the cell vertices on curvilinear and rotated-pole grids), or, when the
grid has no bounds, from the cosine of the latitude (relative weights).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent, InvalidParameter
from cp4cds_wps.ops.cf import bounds_of

__all__ = ["EARTH_RADIUS", "HorizontalGrid", "cell_areas", "horizontal_grid"]

#: Radius of the sphere the areas are computed on, in metres (that of CMIP's grids).
EARTH_RADIUS = 6_371_000.0
#: Largest distance (degrees) between a grid's coordinate and the matching areacella one.
_MATCH_TOLERANCE = 1e-3


class HorizontalGrid:
    """The latitude and longitude of a dataset and the dimensions they vary along.

    ``dims`` holds the dimensions of the grid in the data's order: ``(lat, lon)`` on a
    regular grid, ``(j, i)``, ``(y, x)``, ``(rlat, rlon)``, ... on a curvilinear or
    rotated-pole grid. ``regular`` is True when latitude and longitude are 1-D along
    different dimensions.
    """

    def __init__(self, lat: xr.DataArray, lon: xr.DataArray):
        self.lat = lat
        self.lon = lon
        self.regular = lat.ndim == 1 and lon.ndim == 1 and lat.dims != lon.dims
        self.dims: tuple[str, ...] = tuple(dict.fromkeys((*lat.dims, *lon.dims)))


def horizontal_grid(ds: xr.Dataset, name: str = "dims") -> HorizontalGrid:
    """Find the latitude and longitude coordinates of a dataset (by CF attributes).

    Parameters
    ----------
    ds
        A dataset with CF ``standard_name``/``units`` on its coordinates.
    name
        The request input named in errors.

    Returns
    -------
    HorizontalGrid

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude or no longitude coordinate.
    """
    found = {}
    for key in ("latitude", "longitude"):
        names = [n for n in ds.cf.coordinates.get(key, []) if ds[n].ndim in (1, 2)]
        if not names:
            raise InvalidParameter(
                name, f"dataset has no {key} axis; its dimensions are {_dims_text(ds)}"
            )
        found[key] = ds[names[0]].reset_coords(drop=True)
    return HorizontalGrid(found["latitude"], found["longitude"])


def _dims_text(ds: xr.Dataset) -> str:
    return ", ".join(f"{d} ({n})" for d, n in ds.sizes.items())


def cell_areas(ds: xr.Dataset, *, areacella: xr.DataArray | None = None) -> xr.DataArray:
    """Cell areas of the horizontal grid of ``ds``.

    Parameters
    ----------
    ds
        The dataset (regular, curvilinear or rotated-pole grid).
    areacella
        An ``areacella``/``areacello`` field of the same model grid, used when given. It may
        cover more of the grid than ``ds`` (a subset, or every Nth point): its cells are then
        picked by the coordinate values of the grid's dimensions.

    Returns
    -------
    xarray.DataArray
        Areas along the grid's dimensions (numpy-backed, small), named ``cell_area``. In m2
        (``units: m2``) from ``areacella`` or from cell bounds, or relative weights
        ``cos(latitude)`` (``units: 1``) when the grid has no bounds. The attribute
        ``comment`` says which. Cells without area (masked vertices) get 0.

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude/longitude.
    DatasetInconsistent
        When ``areacella`` does not match the grid.
    """
    grid = horizontal_grid(ds)
    if areacella is not None:
        values = _matched(areacella, ds, grid)
        comment = f"from {areacella.name or 'the cell area field'}"
    else:
        lat_bounds, lon_bounds = (bounds_of(ds, c) for c in (grid.lat, grid.lon))
        if lat_bounds is None or lon_bounds is None:
            return _named(np.cos(np.deg2rad(on_grid(grid.lat, grid))), "1", "cos(latitude)")
        if grid.regular:
            values = on_grid(_band_areas(lat_bounds, lon_bounds), grid)
        else:
            values = _polygon_areas(lat_bounds, lon_bounds, grid)
        comment = "from cell bounds on a sphere of radius 6371 km"
    return _named(values, "m2", comment)


def _named(values: xr.DataArray, units: str, comment: str) -> xr.DataArray:
    values = values.fillna(0.0).rename("cell_area").load()
    values.attrs = {"standard_name": "cell_area", "units": units, "comment": comment}
    return values


def on_grid(da: xr.DataArray, grid: HorizontalGrid) -> xr.DataArray:
    """``da`` broadcast to the grid's dimensions, in their order."""
    return xr.broadcast(da, grid.lat, grid.lon)[0].transpose(*grid.dims)


def _band_areas(lat_bounds: xr.DataArray, lon_bounds: xr.DataArray) -> xr.DataArray:
    """Exact areas of latitude-longitude rectangles from 1-D bounds ``(n, 2)``."""
    sin = np.sin(np.deg2rad(lat_bounds.clip(-90, 90)))
    band = abs(sin.isel({sin.dims[-1]: 1}) - sin.isel({sin.dims[-1]: 0}))
    width = np.deg2rad(
        abs(lon_bounds.isel({lon_bounds.dims[-1]: 1}) - lon_bounds.isel({lon_bounds.dims[-1]: 0}))
    )
    return EARTH_RADIUS**2 * band * width


def _polygon_areas(
    lat_bounds: xr.DataArray, lon_bounds: xr.DataArray, grid: HorizontalGrid
) -> xr.DataArray:
    """Areas of spherical polygons with great-circle edges from cell vertices ``(..., nv)``.

    The polygon is cut into triangles fanning out from its first vertex; each triangle's
    signed solid angle follows Van Oosterom and Strackee (1983); their sum is the area.
    """
    lat = np.deg2rad(np.asarray(lat_bounds.transpose(*grid.dims, ...).values))
    lon = np.deg2rad(np.asarray(lon_bounds.transpose(*grid.dims, ...).values))
    xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    a = xyz[..., 0, :]
    total = np.zeros(lat.shape[:-1])
    for k in range(1, lat.shape[-1] - 1):
        b, c = xyz[..., k, :], xyz[..., k + 1, :]
        triple = np.einsum("...i,...i", a, np.cross(b, c))
        denominator = (
            1
            + np.einsum("...i,...i", a, b)
            + np.einsum("...i,...i", b, c)
            + np.einsum("...i,...i", c, a)
        )
        total += 2 * np.arctan2(triple, denominator)
    return xr.DataArray(EARTH_RADIUS**2 * np.abs(total), dims=grid.dims)


def _matched(areacella: xr.DataArray, ds: xr.Dataset, grid: HorizontalGrid) -> xr.DataArray:
    """The cells of ``areacella`` that are those of the grid of ``ds``."""
    shape = {d: ds.sizes[d] for d in grid.dims}
    if set(areacella.dims) != set(grid.dims):
        raise DatasetInconsistent(
            "collection",
            f"the cell areas ({areacella.name}) have dimensions {', '.join(areacella.dims)}, "
            f"the data {', '.join(grid.dims)}",
        )
    picked = areacella
    for dim in grid.dims:
        if dim in ds.indexes and dim in areacella.indexes:
            try:
                picked = picked.sel(
                    {dim: ds[dim].values}, method="nearest", tolerance=_MATCH_TOLERANCE
                )
            except KeyError as exc:
                raise DatasetInconsistent(
                    "collection",
                    f"the cell areas ({areacella.name}) are on another grid: values of "
                    f"{dim} differ",
                ) from exc
    if dict(picked.sizes) != shape:
        raise DatasetInconsistent(
            "collection",
            f"the cell areas ({areacella.name}) have shape {dict(areacella.sizes)}, "
            f"the data {shape}",
        )
    return (
        picked.reset_coords(drop=True)
        .drop_vars(grid.dims, errors="ignore")
        .astype(float)
        .transpose(*grid.dims)
    )
