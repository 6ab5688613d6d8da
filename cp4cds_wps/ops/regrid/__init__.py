"""Regridding of a lazy xarray Dataset onto a regular latitude-longitude grid.

Two engines share one interface, chosen by the kind of source grid:

- rectilinear sources (1-D latitude and longitude along their own dimensions, or 2-D ones
  constant along one dimension each) get exact weights computed here, one small matrix per
  axis (:mod:`.rectilinear`): conservative weights from the files' own cell bounds,
  bilinear and nearest-neighbour weights as CDO's for such grids;
- curvilinear, rotated-pole and unstructured sources get SCRIP weights from CDO
  (:mod:`.cdo`), computed once on a one-field sample of the grid with the files' own cell
  corners (checked by :mod:`cp4cds_wps.ops.cells`).

Either is applied lazily, one dask chunk at a time (:mod:`.apply`). Both equal CDO's own
remapping (``remapcon``, ``remapbil``, ``remapnn`` with ``REMAP_EXTRAPOLATE=off``) of the
same file, but where CDO is wrong or cannot: it takes the 1-D bounds of a rectilinear grid
as contiguous edges (the east bound of a cell is the west bound of the next), so on a
sparse selection of a grid (cells far apart) its conservative remapping fills the gaps
between them, where these weights leave the target cells that no source cell overlaps
missing; its conservative remapping of a regional grid whose longitudes run across the
date line from 180 to -180 is empty; it takes 2-D coordinates of a rectilinear grid for a
curvilinear grid (which without corners it cannot remap conservatively); and it needs the
position of every cell (cells of curvilinear grids without one are left out here, see
:func:`.cdo.cdo_weights`).

Missing values (NaN, e.g. land cells of ocean data) are left out as CDO does: conservative
weights are renormalised by the area of the valid source cells; a bilinear or nearest
value is missing where a source cell it draws on is missing. Nothing is extrapolated:
target cells outside the source grid (beyond the outer cell centres for bilinear and
nearest neighbours, beyond the cells for conservative) are missing.

The target grids are those of :mod:`.grids`.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from cp4cds_wps.errors import InvalidParameter, NoDataSelected
from cp4cds_wps.ops.grid import horizontal_grid
from cp4cds_wps.ops.regrid.apply import regridded
from cp4cds_wps.ops.regrid.cdo import cdo_weights
from cp4cds_wps.ops.regrid.grids import (
    DEFAULT_GRID,
    DEFAULT_METHOD,
    GRIDS,
    MAX_CELLS,
    METHODS,
    GridSpec,
    cell_size,
    parse_grid,
    parse_method,
    target_grid,
)
from cp4cds_wps.ops.regrid.rectilinear import rectilinear_source, rectilinear_weights
from cp4cds_wps.ops.regrid.result import assembled, regridded_names

__all__ = [
    "DEFAULT_GRID",
    "DEFAULT_METHOD",
    "GRIDS",
    "MAX_CELLS",
    "METHODS",
    "GridSpec",
    "cell_size",
    "parse_grid",
    "parse_method",
    "regrid",
    "target_grid",
]


def regrid(ds: xr.Dataset, *, method: str, grid: GridSpec, work_dir: Path) -> xr.Dataset:
    """Regrid every data variable on the dataset's horizontal grid onto ``grid``.

    Parameters
    ----------
    ds
        A dataset as opened by :func:`cp4cds_wps.ops.open.open_dataset`, with CF
        latitude/longitude coordinates (regular, curvilinear, rotated-pole or unstructured),
        and any other dimensions (time, levels, ensemble members, ...).
    method
        One of :data:`METHODS`.
    grid
        The target grid (``auto`` is resolved here, see :func:`target_grid`).
    work_dir
        An existing folder for CDO's files (curvilinear and other non-rectilinear grids):
        they go into a temporary subfolder removed before returning.

    Returns
    -------
    xarray.Dataset
        Lazy (dask-backed) regridded variables, each chunk at most
        :data:`cp4cds_wps.ops.open.CHUNK_BYTES` large, with their attributes (but those
        naming the source grid: ``cell_measures``, ``grid_mapping``, ``coordinates``) and
        encodings; the other variables (time and its bounds, levels and their bounds,
        member labels, ...) as they were; the source grid's coordinates, bounds and grid
        mapping replaced by ``lat``, ``lon``, ``lat_bnds`` and ``lon_bnds``. A CMIP6
        ``grid`` attribute describes the new grid; ``nominal_resolution`` is removed.

    Raises
    ------
    InvalidParameter
        On an unknown method, a dataset without latitude/longitude or without a variable on
        them, conservative regridding of a grid without cell bounds from which none can be
        derived, bilinear interpolation of an unstructured grid, or a grid CDO cannot
        handle with ``method``.
    DatasetInconsistent
        When latitude or longitude are missing or invalid at every cell, or at some cells
        of an unstructured grid (on 2-D grids, the values of such cells are left out).
    NoDataSelected
        When no target cell gets a value (none lies within the source grid).
    """
    if method not in METHODS:
        raise InvalidParameter("method", f"{method!r} is not one of {', '.join(METHODS)}")
    hgrid = horizontal_grid(ds, "collection")
    names = regridded_names(ds, hgrid)
    if not names:
        raise InvalidParameter(
            "collection",
            "no data variable of the dataset lies on its latitude-longitude grid "
            f"({', '.join(hgrid.dims)}): nothing to regrid",
        )
    target = target_grid(ds, grid)
    rectilinear = rectilinear_source(ds, hgrid)
    left_out = None
    if rectilinear is not None:
        source, bounds = rectilinear
        weights = rectilinear_weights(source, bounds, method, target)
    else:
        source = hgrid
        weights, left_out = cdo_weights(ds, hgrid, names, method, target, Path(work_dir))
    if weights.empty:
        raise NoDataSelected(
            "custom_grid" if target.name == "custom" else "grid",
            _nothing_within(hgrid, target, method),
        )
    values = {name: regridded(ds[name], source.dims, weights, target, left_out) for name in names}
    return assembled(ds, values, hgrid, target, method)


def _nothing_within(grid, target: GridSpec, method: str) -> str:
    sizes = "x".join(str(n) for n in grid.shape)
    reason = (
        f"no cell of the target grid ({target.describe()}) lies within the dataset's grid "
        f"of {sizes} cells for {method} regridding"
    )
    if method != "conservative" and min(grid.shape) < 2:
        reason += (
            "; interpolation needs targets between the cell centres, and the grid has a "
            "single row or column: use conservative"
        )
    return reason
