"""Weights of rectilinear sources, computed exactly, one matrix per axis where they separate.

A source grid is rectilinear when its latitude and longitude are 1-D along their own
dimensions, or 2-D but constant along one dimension each (:func:`rectilinear_source`).
The weights follow CDO's remapping of such grids (``remapcon``, ``remapbil``,
``remapnn``), with the files' own cell bounds:

- ``conservative``: the exact overlap of each source cell with each target cell on the
  sphere, the product of the overlap of their sin(latitude) bands and of their longitude
  intervals (modulo 360). Each source cell covers exactly its bounds: sparse selections of
  a grid (a few small cells far apart) reach only the target cells they overlap. Without
  bounds, they are taken midway between the centres (noted);
- ``bilinear``: linear interpolation in latitude and in longitude between the four centres
  around each target centre; targets beyond the outer centres get nothing (no
  extrapolation, so none poleward of the outer rows either); longitudes close across the
  date line when the centres go round the globe (as CDO tells it: the outer centres one
  step apart across it);
- ``nearest_s2d``: the centre nearest (great circle) to each target centre among those
  four, for the targets bilinear interpolation reaches.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import xarray as xr

from cp4cds_wps.errors import InvalidParameter
from cp4cds_wps.ops.cells import axis_bounds, cell_corners
from cp4cds_wps.ops.grid import AxisBounds, HorizontalGrid, derived_axis_bounds
from cp4cds_wps.ops.notes import note
from cp4cds_wps.ops.regrid.apply import NearestWeights, SeparableWeights, Weights
from cp4cds_wps.ops.regrid.grids import GridSpec

__all__ = ["rectilinear_source", "rectilinear_weights"]

#: Largest spread (degrees) of a 2-D latitude along a dimension it is constant along (and
#: likewise of longitude): coordinates written in single precision.
_CONSTANT = 1e-4


def rectilinear_source(
    ds: xr.Dataset, grid: HorizontalGrid
) -> tuple[HorizontalGrid, AxisBounds | None] | None:
    """The grid as a rectilinear one (1-D latitude and longitude along the grid's
    dimensions) and its cell bounds (checked, see :func:`cp4cds_wps.ops.cells.axis_bounds`;
    None when the files have none), or None when it is not rectilinear."""
    if grid.regular:
        return grid, axis_bounds(ds, grid)
    if len(grid.dims) != 2:
        return None
    lat, lon = grid.positions()
    for axis in (0, 1):
        lat_const = np.ptp(lat, axis=1 - axis).max(initial=0.0) <= _CONSTANT
        lon_turns = (lon - np.take(lon, [0], axis=axis) + 180.0) % 360.0 - 180.0
        if lat_const and np.abs(lon_turns).max(initial=0.0) <= _CONSTANT:
            break
    else:
        return None
    lat_dim, lon_dim = grid.dims[axis], grid.dims[1 - axis]
    view = HorizontalGrid(
        xr.DataArray(np.take(lat, 0, axis=1 - axis), dims=lat_dim),
        xr.DataArray(np.take(lon, 0, axis=axis), dims=lon_dim),
    )
    corners = cell_corners(ds, grid)
    if corners is None:
        return view, None
    lat_c, lon_c = (np.moveaxis(c, axis, 0) for c in (corners.lat, corners.lon))
    centres = np.moveaxis(lon, axis, 0)[..., None]
    east_of_centre = (lon_c - centres + 180.0) % 360.0 - 180.0
    south, north = lat_c.min(-1), lat_c.max(-1)
    west, east = (centres[..., 0] + f(east_of_centre, -1) for f in (np.min, np.max))
    edges = [south, north, west, east]
    if any(np.ptp(e, axis=k).max() > _CONSTANT for e, k in zip(edges, (1, 1, 0, 0), strict=True)):
        return view, None  # corners that are not those of a rectilinear grid
    return view, AxisBounds(
        np.stack([south[:, 0], north[:, 0]], -1), np.stack([west[0], east[0]], -1)
    )


def rectilinear_weights(
    grid: HorizontalGrid, bounds: AxisBounds | None, method: str, target: GridSpec
) -> Weights:
    """The weights of ``method`` from a rectilinear grid (and its bounds, if any) to
    ``target``.

    Raises
    ------
    InvalidParameter
        For conservative weights of a grid without bounds and with a single latitude or
        longitude (no bounds can be derived).
    """
    lat = np.asarray(grid.lat.values, dtype=np.float64)
    lon = np.asarray(grid.lon.values, dtype=np.float64)
    if method == "conservative":
        if bounds is None:
            if min(lat.size, lon.size) < 2:
                raise InvalidParameter(
                    "method",
                    f"conservative regridding needs the bounds of the cells, which this "
                    f"dataset's grid of {lat.size} latitude(s) and {lon.size} longitude(s) "
                    "does not have, and none can be derived from a single row or column of "
                    "cell centres",
                )
            note(
                "cell bounds: the grid has none; bounds midway between the cell centres are "
                "used for conservative regridding"
            )
            bounds = derived_axis_bounds(grid)
        return SeparableWeights(
            _band_overlaps(bounds.lat, target.lat_edges()),
            _interval_overlaps(bounds.lon, target.lon_edges()),
            renormalise=True,
        )
    lat_t, lon_t = _centres(target.lat_edges()), _centres(target.lon_edges())
    rows, row_weights = _around_latitudes(lat, lat_t)
    cols, col_weights = _around_longitudes(lon, lon_t, circular=_circular(lon))
    if method == "bilinear":
        return SeparableWeights(
            _matrix(rows, row_weights, lat.size), _matrix(cols, col_weights, lon.size), False
        )
    return _nearest(lat, lon, lat_t, lon_t, rows, cols)


def _centres(edges: np.ndarray) -> np.ndarray:
    return (edges[:-1] + edges[1:]) / 2


def _band_overlaps(bounds: np.ndarray, edges: np.ndarray) -> scipy.sparse.csr_array:
    """Overlaps (in sin(latitude)) of the source bands ``(n, 2)`` and the target bands."""
    sources = np.sin(np.deg2rad(np.clip(bounds, -90.0, 90.0)))
    targets = np.sin(np.deg2rad(edges))
    low = np.maximum(targets[:-1, None], sources[None, :, 0])
    high = np.minimum(targets[1:, None], sources[None, :, 1])
    return scipy.sparse.csr_array(np.clip(high - low, 0.0, None))


def _interval_overlaps(bounds: np.ndarray, edges: np.ndarray) -> scipy.sparse.csr_array:
    """Overlaps (radians) of the source longitude intervals ``(n, 2)`` (east - west in
    (0, 360]) and the target intervals, modulo 360."""
    west = edges[0] + np.mod(bounds[:, 0] - edges[0], 360.0)
    east = west + (bounds[:, 1] - bounds[:, 0])
    overlap = np.zeros((edges.size - 1, bounds.shape[0]))
    for turn in (0.0, -360.0):  # west lies within one turn east of the first target edge
        low = np.maximum(edges[:-1, None], west[None, :] + turn)
        high = np.minimum(edges[1:, None], east[None, :] + turn)
        overlap += np.clip(high - low, 0.0, None)
    return scipy.sparse.csr_array(np.deg2rad(overlap))


def _circular(lon: np.ndarray) -> bool:
    """Whether the longitudes go round the globe: the last step repeated after the last
    centre reaches the first one again (CDO's test)."""
    if lon.size < 2:
        return False
    ordered = np.sort(np.mod(lon - lon[0], 360.0))
    step = ordered[-1] - ordered[-2]
    return abs(ordered[-1] - ordered[0] + step - 360.0) < 0.01 * step


def _around_latitudes(centres: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """See :func:`_around`; the centres in any order."""
    order = np.argsort(centres, kind="stable")
    return _around(centres[order], order, targets)


def _around_longitudes(
    centres: np.ndarray, targets: np.ndarray, *, circular: bool
) -> tuple[np.ndarray, ...]:
    """See :func:`_around`; longitudes taken modulo 360 eastwards from the west end of the
    centres: the first one when they run eastwards (as CDO takes them), else the one after
    the widest gap between them; on a circular grid also between the last and the first."""
    relative = np.mod(centres - centres[0], 360.0)
    order = np.argsort(relative, kind="stable")
    eastwards = bool(np.all(np.diff(relative) > 0))
    if not circular and not eastwards:
        gaps = np.diff(np.r_[relative[order], relative[order[0]] + 360.0])
        order = np.roll(order, -((int(np.argmax(gaps)) + 1) % order.size))
    origin = centres[order[0]]
    values = np.mod(centres[order] - origin, 360.0)
    if circular:
        order, values = np.r_[order, order[0]], np.r_[values, 360.0]
    return _around(values, order, np.mod(targets - origin, 360.0))


def _around(
    values: np.ndarray, order: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each target position, the indices of the two source positions around it
    ``(n, 2)`` (-1 when it lies outside them) and their linear interpolation weights
    ``(n, 2)``; ``values`` are the source positions sorted, ``order`` their indices."""
    found = np.full((targets.size, 2), -1)
    weights = np.zeros((targets.size, 2))
    if values.size < 2:
        return found, weights
    # a target on a source position takes the pair ending there, as CDO does
    k = np.clip(np.searchsorted(values, targets, side="left") - 1, 0, values.size - 2)
    step = values[k + 1] - values[k]
    inside = (targets >= values[0]) & (targets <= values[-1]) & (step > 0)
    u = (targets - values[k]) / np.where(step > 0, step, 1.0)
    found[inside] = np.stack([order[k], order[k + 1]], -1)[inside]
    weights[inside] = np.stack([1 - u, u], -1)[inside]
    return found, weights


def _matrix(found: np.ndarray, weights: np.ndarray, sources: int) -> scipy.sparse.csr_array:
    """The interpolation matrix (targets by sources) of :func:`_around`'s result, with
    the zero weights of the links kept (a missing source there makes the target missing)."""
    rows = np.repeat(np.arange(found.shape[0]), 2)
    used = found.ravel() >= 0
    return scipy.sparse.coo_array(
        (weights.ravel()[used], (rows[used], found.ravel()[used])),
        shape=(found.shape[0], sources),
    ).tocsr()


def _nearest(
    lat: np.ndarray,
    lon: np.ndarray,
    lat_t: np.ndarray,
    lon_t: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
) -> NearestWeights:
    """For each target cell, the nearest of the (up to) four centres around it."""
    nlat, nlon = lat_t.size, lon_t.size
    row_of = np.broadcast_to(rows[:, None, :, None], (nlat, nlon, 2, 2))
    col_of = np.broadcast_to(cols[None, :, None, :], (nlat, nlon, 2, 2))
    candidates = (row_of.reshape(nlat, nlon, 4), col_of.reshape(nlat, nlon, 4))
    target = _unit(*np.meshgrid(lat_t, lon_t, indexing="ij"))
    source = _unit(lat[candidates[0]], lon[candidates[1]])
    closeness = np.round(np.einsum("abi,abki->abk", target, source), 12)
    index = candidates[0] * lon.size + candidates[1]
    # of equally near centres (to rounding), the first in the source, as CDO chooses
    nearest = closeness == closeness.max(axis=-1, keepdims=True)
    best = np.argmin(np.where(nearest, index, np.iinfo(index.dtype).max), axis=-1)[..., None]
    row, col = (np.take_along_axis(c, best, -1)[..., 0] for c in candidates)
    linked = (rows[:, None, 0] >= 0) & (cols[None, :, 0] >= 0)
    return NearestWeights(np.where(linked, row * lon.size + col, -1).ravel())


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)
