"""Weights of grid cells for area means: cell areas on every kind of horizontal grid.

Cell areas come, in order of preference, from an ``areacella``/``areacello`` field, from the
cell bounds of the grid (the latitude band times the longitude width on regular grids; the
spherical polygon of the cell vertices on curvilinear, rotated-pole and unstructured grids),
found and checked by :mod:`cp4cds_wps.ops.cells` (bounds of implausible cells are replaced
by bounds derived from the cell centres, and a note says so), or, when the grid has no
bounds, from corners derived from the cell centres on 2-D grids and from the cosine of the
latitude (relative weights) on regular and unstructured ones.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from cp4cds_wps.errors import DatasetInconsistent
from cp4cds_wps.ops.cells import axis_bounds, cell_corners
from cp4cds_wps.ops.grid import (
    HorizontalGrid,
    band_areas,
    derived_axis_bounds,
    derived_corners,
    horizontal_grid,
    polygon_areas,
    rotated_corners,
)
from cp4cds_wps.ops.notes import note

__all__ = ["EARTH_RADIUS", "HorizontalGrid", "cell_areas", "horizontal_grid"]

#: Radius of the sphere the areas are computed on, in metres (that of CMIP's grids).
EARTH_RADIUS = 6_371_000.0
#: Largest distance (degrees) between a grid's coordinate and the matching areacella one.
_MATCH_TOLERANCE = 1e-3


def cell_areas(ds: xr.Dataset, *, areacella: xr.DataArray | None = None) -> xr.DataArray:
    """Cell areas of the horizontal grid of ``ds``.

    Parameters
    ----------
    ds
        The dataset (regular, curvilinear, rotated-pole or unstructured grid).
    areacella
        An ``areacella``/``areacello`` field of the same model grid, used when given. It may
        cover more of the grid than ``ds`` (a subset, or every Nth point): its cells are then
        picked by the coordinate values of the grid's dimensions.

    Returns
    -------
    xarray.DataArray
        Areas along the grid's dimensions (numpy-backed, small), named ``cell_area``. In m2
        (``units: m2``) from ``areacella``, from cell bounds, or on grids without bounds
        from bounds (regular grids) or corners (2-D grids) derived from the cell centres, as
        CDO takes them; relative weights ``cos(latitude)`` (``units: 1``) on unstructured
        grids and single rows or columns without bounds. The attribute
        ``comment`` says which. Cells without area (invalid vertices of unstructured grids)
        get 0.

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
        return _named(values, "m2", f"from {areacella.name or 'the cell area field'}")
    comment = "from cell bounds on a sphere of radius 6371 km"
    if grid.regular:
        bounds = axis_bounds(ds, grid)
        if bounds is None and min(grid.lat.size, grid.lon.size) > 1:
            note("cell areas: the grid has no cell bounds; bounds midway between the centres")
            bounds = derived_axis_bounds(grid)
            comment = "from bounds midway between the cell centres, sphere of radius 6371 km"
        if bounds is not None:
            return _named(_on(ds, grid, EARTH_RADIUS**2 * band_areas(bounds)), "m2", comment)
    else:
        corners = cell_corners(ds, grid)
        if corners is None and (corners := derived_corners(grid)) is not None:
            note("cell areas: the grid has no cell bounds; corners derived from the cell centres")
            comment = "from cell corners derived from the cell centres, sphere of radius 6371 km"
        if corners is None and (corners := rotated_corners(ds, grid)) is not None:
            # a rotated-pole grid of a single row or column: its cells are the rotated axes'
            note("cell areas: the grid has no cell bounds; corners from its rotated axes")
            comment = "from cell corners of the rotated axes, sphere of radius 6371 km"
        if corners is not None:
            areas = EARTH_RADIUS**2 * polygon_areas(corners.lat, corners.lon)
            return _named(_on(ds, grid, areas), "m2", comment)
    return _named(np.cos(np.deg2rad(on_grid(grid.lat, grid))), "1", "cos(latitude)")


def _on(ds: xr.Dataset, grid: HorizontalGrid, values: np.ndarray) -> xr.DataArray:
    """``values`` along the grid's dimensions, with the dataset's coordinates of those."""
    coords = {d: ds[d].variable for d in grid.dims if d in ds.indexes}
    return xr.DataArray(values, dims=grid.dims, coords=coords)


def _named(values: xr.DataArray, units: str, comment: str) -> xr.DataArray:
    values = values.fillna(0.0).rename("cell_area").load()
    values.attrs = {"standard_name": "cell_area", "units": units, "comment": comment}
    return values


def on_grid(da: xr.DataArray, grid: HorizontalGrid) -> xr.DataArray:
    """``da`` broadcast to the grid's dimensions, in their order."""
    return xr.broadcast(da, grid.lat, grid.lon)[0].transpose(*grid.dims)


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
