"""The bounds of grid cells: finding them, checking them, and the bounds to use.

One place for everything that needs the edges of the cells (cell areas for means, cell
corners for conservative regridding, the plausibility check of a scan):

- :func:`find_bounds` finds the bounds of a dataset's latitude or longitude: the variable
  its CF ``bounds`` attribute names, else a variable of a conventional name (``lat_bnds``,
  ``lat_bounds``, ``vertices_latitude``, ``lat_vertices``, ``bounds_nav_lat``, ...) with the
  coordinate's dimensions and one more, of the right size;
- :func:`implausible_cells` checks those bounds cell by cell: missing or invalid, enclosing
  no area, or enclosing far more than the spacing of the cell centres allows
  (:data:`LARGEST_AREA_RATIO` times; e.g. a vertex longitude that jumps);
- :func:`axis_bounds` (rectilinear grids) and :func:`cell_corners` (curvilinear,
  rotated-pole and unstructured grids) give the bounds to use: the files' own, with those
  of implausible cells replaced by bounds derived from the cell centres
  (:func:`cp4cds_wps.ops.grid.derived_axis_bounds`, :func:`~cp4cds_wps.ops.grid.derived_corners`),
  which :func:`cp4cds_wps.ops.notes.note` records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from cp4cds_wps.ops.grid import (
    AxisBounds,
    Corners,
    HorizontalGrid,
    centre_spacing_areas,
    derived_axis_bounds,
    derived_corners,
    horizontal_grid,
    polygon_areas,
)
from cp4cds_wps.ops.notes import note

__all__ = [
    "EMPTY",
    "INVALID",
    "LARGE",
    "LARGEST_AREA_RATIO",
    "ImplausibleCells",
    "axis_bounds",
    "cell_corners",
    "find_bounds",
    "implausible_cells",
]

#: Largest ratio of a cell's area from its bounds to the area the spacing of the cell
#: centres implies: a cell of a real grid does not reach far beyond its neighbours' centres
#: (cells of sparse selections of a grid are far smaller than their spacing, not larger).
LARGEST_AREA_RATIO = 10.0
#: Conventional names of bounds variables, besides ``<coordinate>_bnds`` and the like.
_CONVENTIONAL = {
    "latitude": ("lat_bnds", "lat_bounds", "vertices_latitude", "lat_vertices", "latitude_bnds"),
    "longitude": ("lon_bnds", "lon_bounds", "vertices_longitude", "lon_vertices", "longitude_bnds"),
}
_PATTERNS = ("{}_bnds", "{}_bounds", "bounds_{}", "{}_vertices", "vertices_{}")


# -- finding bounds ------------------------------------------------------------------------


def find_bounds(ds: xr.Dataset, coord: xr.DataArray, grid: HorizontalGrid) -> xr.DataArray | None:
    """The bounds of the latitude or longitude ``coord`` of ``grid``, as floats without
    coordinates, or None.

    The variable named by the CF ``bounds`` attribute (or encoding) of ``coord``, else the
    first of the conventional names that ``ds`` has: ``<name>_bnds``, ``<name>_bounds``,
    ``bounds_<name>``, ``<name>_vertices``, ``vertices_<name>`` and the CMIP and CORDEX
    names (``lat_bnds``, ``vertices_latitude``, ``lat_vertices``, ...). It must have the
    dimensions of ``coord`` and one more: of size 2 on rectilinear grids, at least 3 (the
    corners) on others.
    """
    key = "latitude" if coord is grid.lat else "longitude"
    named = coord.attrs.get("bounds", coord.encoding.get("bounds"))
    candidates = [named, *(p.format(coord.name) for p in _PATTERNS), *_CONVENTIONAL[key]]
    for candidate in dict.fromkeys(c for c in candidates if c):
        if candidate not in ds.variables:
            continue
        bounds = ds[candidate]
        if bounds.ndim != coord.ndim + 1 or bounds.dims[: coord.ndim] != coord.dims:
            continue
        corners = bounds.shape[-1]
        if (corners == 2) if grid.regular else (corners >= 3):
            return bounds.reset_coords(drop=True).astype(np.float64)
    return None


# -- checking bounds -----------------------------------------------------------------------


#: Why the bounds of a cell are implausible (the values of :attr:`ImplausibleCells.reason`).
INVALID = "bounds missing or invalid"
EMPTY = "bounds enclosing no area"
LARGE = "bounds enclosing far more area than the spacing of the cell centres implies"


@dataclass(frozen=True)
class ImplausibleCells:
    """The cells whose bounds are implausible, and why.

    ``reason`` holds, along the grid's dimensions, :data:`INVALID`, :data:`EMPTY` or
    :data:`LARGE`, or ``""`` where the bounds are plausible; ``ratio`` the ratio of each
    cell's area (or width, on rectilinear grids) from its bounds to that implied by the
    spacing of the cell centres (NaN where unknown); ``bounds`` names the bounds variables.
    """

    reason: xr.DataArray
    ratio: xr.DataArray
    bounds: tuple[str, ...]

    @property
    def mask(self) -> xr.DataArray:
        """True at the implausible cells."""
        return self.reason != ""

    @property
    def count(self) -> int:
        """How many cells are implausible."""
        return int(self.mask.sum())

    def summary(self) -> list[str]:
        """One sentence per reason, e.g. ``"3 of 1800 cells: bounds enclosing far more area
        than the spacing of the cell centres implies (up to 3.1e+04 times)"``."""
        sentences = []
        for kind in (INVALID, EMPTY, LARGE):
            cells = (self.reason == kind).values
            if cells.any():
                most = np.nanmax(self.ratio.values[cells]) if kind == LARGE else None
                detail = f" (up to {most:.3g} times)" if most is not None else ""
                sentences.append(f"{cells.sum()} of {cells.size} cells: {kind}{detail}")
        return sentences


def implausible_cells(ds: xr.Dataset) -> ImplausibleCells | None:
    """Check the cell bounds of a dataset's horizontal grid, cell by cell.

    A cell is implausible when its bounds are missing or invalid (not finite, latitudes
    beyond the poles), when they enclose no area, or when the area they enclose (the width,
    along each axis of a rectilinear grid) is more than :data:`LARGEST_AREA_RATIO` times
    that implied by the spacing of the cell centres (the great-circle distances to the
    neighbouring centres along each grid dimension), as when a vertex longitude jumps.
    Unstructured grids are checked for valid bounds only (their centres have no neighbours
    along a dimension).

    Parameters
    ----------
    ds
        A dataset with CF latitude and longitude coordinates.

    Returns
    -------
    ImplausibleCells or None
        None when the grid has no cell bounds (see :func:`find_bounds`).

    Raises
    ------
    InvalidParameter
        When the dataset has no latitude/longitude.
    """
    grid = horizontal_grid(ds, "collection")
    found = [find_bounds(ds, c, grid) for c in (grid.lat, grid.lon)]
    if any(b is None for b in found):
        return None
    if grid.regular:
        rows = _axis_check(np.asarray(grid.lat.values, dtype=float), found[0].values, "latitude")
        cols = _axis_check(np.asarray(grid.lon.values, dtype=float), found[1].values, "longitude")
        by_row = rows[0][:, None] != ""
        reason = np.where(by_row, rows[0][:, None], cols[0][None, :])
        ratio = np.where(by_row, rows[1][:, None], cols[1][None, :])
    else:
        reason, ratio = _corner_check(
            Corners(*(b.transpose(*grid.dims, ...).values for b in found)), grid
        )
    return ImplausibleCells(
        xr.DataArray(reason.astype(object), dims=grid.dims),
        xr.DataArray(ratio, dims=grid.dims),
        tuple(str(b.name) for b in found),
    )


def _axis_check(centres: np.ndarray, bounds: np.ndarray, axis: str) -> tuple[np.ndarray, ...]:
    """The reasons and width ratios of the bounds ``(n, 2)`` of the cells of a 1-D axis."""
    bounds = np.asarray(bounds, dtype=np.float64)
    invalid = ~np.isfinite(bounds).all(-1)
    if axis == "latitude":
        # a cell centred on a pole may have bounds past it (ERA5's -90.125, -89.875): the
        # cell ends at the pole; bounds past it by more than half the cell are invalid
        finite = np.where(invalid[:, None], 0.0, bounds)
        beyond = np.abs(finite) - 90.0
        width = np.abs(finite[:, -1] - finite[:, 0])
        invalid |= ((beyond > 1e-6) & (beyond > width[:, None] / 2 + 1e-6)).any(-1)
        bounds = np.clip(bounds, -90.0, 90.0)
    widths = _widths(bounds, axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = widths / _axis_spacing(centres, axis)
    return _reasons(invalid, widths <= 0, ratio), ratio


def _reasons(invalid: np.ndarray, empty: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    reason = np.full(invalid.shape, "", dtype=object)
    reason[np.nan_to_num(ratio) > LARGEST_AREA_RATIO] = LARGE
    reason[empty] = EMPTY
    reason[invalid] = INVALID
    return reason


def _widths(bounds: np.ndarray, axis: str) -> np.ndarray:
    """Width in degrees of each ``(low, high)`` pair; longitudes modulo 360, in (0, 360]."""
    widths = bounds[:, -1] - bounds[:, 0]
    if axis == "latitude":
        return np.abs(widths)
    return np.where(np.abs(widths) >= 360, 360.0, np.mod(widths, 360.0))


def _axis_spacing(centres: np.ndarray, axis: str) -> np.ndarray:
    """The mean distance in degrees of each centre to its neighbours along the axis (inf
    for a single centre: any width is plausible)."""
    if centres.size < 2:
        return np.full(centres.size, np.inf)
    gaps = np.abs(np.diff(centres))
    if axis == "longitude":
        gaps = np.minimum(np.mod(gaps, 360.0), 360.0 - np.mod(gaps, 360.0))
    return (np.r_[gaps[0], gaps] + np.r_[gaps, gaps[-1]]) / 2


def _corner_check(corners: Corners, grid: HorizontalGrid) -> tuple[np.ndarray, ...]:
    """The reasons and area ratios of the corners of the cells of a 2-D or unstructured
    grid."""
    finite = np.isfinite(corners.lat) & np.isfinite(corners.lon)
    invalid = ~finite.all(-1) | (np.abs(np.where(finite, corners.lat, 0)) > 90 + 1e-6).any(-1)
    areas = polygon_areas(np.where(finite, corners.lat, 0.0), np.where(finite, corners.lon, 0.0))
    expected = centre_spacing_areas(grid)
    if expected is None:
        ratio = np.full(areas.shape, np.nan)
        return _reasons(invalid, np.zeros_like(invalid), ratio), ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, areas / expected, np.nan)
    empty = (areas <= 1e-9 * np.nanmedian(np.where(expected > 0, expected, np.nan))) & (
        expected > 0
    )
    return _reasons(invalid, empty, ratio), ratio


# -- bounds to use -------------------------------------------------------------------------


def axis_bounds(ds: xr.Dataset, grid: HorizontalGrid) -> AxisBounds | None:
    """The cell bounds of a rectilinear grid: those of the files, with the bounds of
    implausible cells (see :func:`implausible_cells` and :func:`_to_repair`) replaced by
    bounds derived from the centres (noted); None when the files have none."""
    found = [find_bounds(ds, c, grid) for c in (grid.lat, grid.lon)]
    if any(b is None for b in found):
        return None
    derived = derived_axis_bounds(grid)
    kept = []
    for axis, coord, bounds, fallback in zip(
        ("latitude", "longitude"), (grid.lat, grid.lon), found, (derived.lat, derived.lon),
        strict=True,
    ):  # fmt: skip
        values = np.asarray(bounds.values, dtype=np.float64)
        reasons, _ = _axis_check(np.asarray(coord.values, dtype=float), values, axis)
        bad = _to_repair(reasons)
        if bad.any():
            note(
                f"cell bounds: the {axis} bounds ({bounds.name}) of {bad.sum()} of {bad.size} "
                f"cells are implausible ({'; '.join(sorted(set(reasons[bad])))}); bounds "
                "midway between the cell centres are used for them"
            )
            values = np.where(bad[:, None], fallback, values)
        kept.append(values)
    lat = np.sort(np.clip(kept[0], -90.0, 90.0), axis=-1)
    west = kept[1][:, 0]
    return AxisBounds(lat, np.stack([west, west + _widths(kept[1], "longitude")], -1))


def _to_repair(reasons: np.ndarray) -> np.ndarray:
    """The cells whose bounds are replaced: the invalid ones and those far too large, or all
    when most are implausible (e.g. bounds equal to the centres). Cells whose bounds enclose
    no area keep them (and no weight): grids repeat rows as degenerate cells (halos, the
    fold of tripolar grids), whose values another cell holds too."""
    if np.mean(reasons != "") > 0.5:
        return np.ones(reasons.shape, dtype=bool)
    return (reasons == INVALID) | (reasons == LARGE)


def cell_corners(ds: xr.Dataset, grid: HorizontalGrid) -> Corners | None:
    """The corners of the cells of a curvilinear, rotated-pole or unstructured grid: those
    of the files, with those of implausible cells (see :func:`implausible_cells` and
    :func:`_to_repair`) replaced by corners derived from the centres (noted; left out as
    ``NaN`` on unstructured grids, where none can be derived); None when the files have
    none."""
    found = [find_bounds(ds, c, grid) for c in (grid.lat, grid.lon)]
    if any(b is None for b in found):
        return None
    corners = Corners(*(b.transpose(*grid.dims, ...).values for b in found))
    reasons, ratios = _corner_check(corners, grid)
    bad = _to_repair(reasons)
    if not bad.any():
        return corners
    derived = derived_corners(grid)
    instead = "corners derived from the cell centres are used for them"
    if derived is None or derived.lat.shape != corners.lat.shape:
        instead = "those cells are left out"
        derived = Corners(*(np.full_like(corners.lat, np.nan) for _ in range(2)))
    check = ImplausibleCells(
        xr.DataArray(np.where(bad, reasons, ""), dims=grid.dims),
        xr.DataArray(ratios, dims=grid.dims),
        tuple(str(b.name) for b in found),
    )
    note(
        f"cell bounds: the corners ({', '.join(check.bounds)}) of some cells are implausible "
        f"({'; '.join(check.summary())}); {instead}"
    )
    return Corners(
        np.where(bad[..., None], derived.lat, corners.lat),
        np.where(bad[..., None], derived.lon, corners.lon),
    )
