"""The horizontal grid of a dataset and the geometry of its cells from their centres.

:func:`horizontal_grid` finds the latitude and longitude of a dataset (regular, curvilinear,
rotated-pole or unstructured grid). The other functions are geometry on the sphere: the
areas of spherical polygons, the areas that the spacing of the cell centres implies, and
cell bounds derived from the centres for grids whose files have none (see
:mod:`cp4cds_wps.ops.cells` for the files' own bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from cp4cds_wps.errors import InvalidParameter

#: Derived latitude bounds beyond this (degrees north or south) are moved to the pole.
_POLAR_BOUND = 88.0

__all__ = [
    "AxisBounds",
    "Corners",
    "HorizontalGrid",
    "arc",
    "band_areas",
    "centre_spacing_areas",
    "derived_axis_bounds",
    "derived_corners",
    "rotated_corners",
    "with_positions_filled",
    "horizontal_grid",
    "polygon_areas",
]


class HorizontalGrid:
    """The latitude and longitude of a dataset and the dimensions they vary along.

    ``dims`` holds the dimensions of the grid in the data's order: ``(lat, lon)`` on a
    regular grid, ``(j, i)``, ``(y, x)``, ``(rlat, rlon)``, ... on a curvilinear or
    rotated-pole grid, ``(cell,)`` on an unstructured one. ``regular`` is True when latitude
    and longitude are 1-D along different dimensions.
    """

    def __init__(self, lat: xr.DataArray, lon: xr.DataArray):
        self.lat = lat
        self.lon = lon
        self.regular = lat.ndim == 1 and lon.ndim == 1 and lat.dims != lon.dims
        self.dims: tuple[str, ...] = tuple(dict.fromkeys((*lat.dims, *lon.dims)))

    @property
    def shape(self) -> tuple[int, ...]:
        """The number of cells along each of :attr:`dims`."""
        sizes = dict(zip(self.lat.dims, self.lat.shape, strict=True))
        sizes.update(zip(self.lon.dims, self.lon.shape, strict=True))
        return tuple(sizes[d] for d in self.dims)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude (degrees, floats) of every cell, along :attr:`dims`."""
        lat, lon = xr.broadcast(self.lat, self.lon)
        return tuple(
            np.asarray(a.transpose(*self.dims).values, dtype=np.float64) for a in (lat, lon)
        )


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
            sizes = ", ".join(f"{d} ({n})" for d, n in ds.sizes.items())
            raise InvalidParameter(name, f"dataset has no {key} axis; its dimensions are {sizes}")
        found[key] = ds[names[0]].reset_coords(drop=True)
    return HorizontalGrid(found["latitude"], found["longitude"])


@dataclass(frozen=True)
class AxisBounds:
    """Bounds of the cells of a rectilinear grid: ``lat`` ``(nlat, 2)`` south and north
    edges, ``lon`` ``(nlon, 2)`` west and east edges (east - west in (0, 360]), degrees."""

    lat: np.ndarray
    lon: np.ndarray


@dataclass(frozen=True)
class Corners:
    """The corners of the cells of a grid, ``(*grid.shape, corners)``, degrees."""

    lat: np.ndarray
    lon: np.ndarray


# -- geometry from the cell centres ------------------------------------------------------


def centre_spacing_areas(grid: HorizontalGrid) -> np.ndarray | None:
    """The area (steradians) each cell would have from the spacing of the cell centres: the
    product of the great-circle distances to the neighbouring centres along each of the two
    grid dimensions (the mean of those before and after). None on unstructured grids or
    with a single cell along a dimension."""
    if len(grid.dims) != 2 or min(grid.shape) < 2:
        return None
    lat, lon = (np.deg2rad(a) for a in grid.positions())
    return _spacing(lat, lon, 0) * _spacing(lat, lon, 1)


def _spacing(lat: np.ndarray, lon: np.ndarray, axis: int) -> np.ndarray:
    """The distance (radians) of each cell to its neighbours along ``axis``: the mean of
    those before and after it."""
    n = lat.shape[axis]
    first, second = np.arange(n - 1), np.arange(1, n)
    gaps = arc(
        np.take(lat, first, axis), np.take(lon, first, axis),
        np.take(lat, second, axis), np.take(lon, second, axis),
    )  # fmt: skip
    before = np.concatenate([np.take(gaps, [0], axis), gaps], axis)
    after = np.concatenate([gaps, np.take(gaps, [-1], axis)], axis)
    return (before + after) / 2


def arc(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in radians between points given in radians (haversine)."""
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def band_areas(bounds: AxisBounds) -> np.ndarray:
    """Exact areas (steradians) of the latitude-longitude rectangles of a rectilinear grid,
    ``(nlat, nlon)``."""
    band = np.abs(np.diff(np.sin(np.deg2rad(bounds.lat)), axis=-1))
    width = np.deg2rad(np.diff(bounds.lon, axis=-1))
    return band * width.T


def polygon_areas(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Areas (steradians) of spherical polygons with great-circle edges from their corners
    ``(..., corners)`` in degrees.

    The polygon is cut into triangles fanning out from its first corner; each triangle's
    signed solid angle follows Van Oosterom and Strackee (1983); their sum is the area.
    """
    xyz = _cartesian(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
    a = xyz[..., 0, :]
    total = np.zeros(xyz.shape[:-2])
    for k in range(1, xyz.shape[-2] - 1):
        b, c = xyz[..., k, :], xyz[..., k + 1, :]
        triple = np.einsum("...i,...i", a, np.cross(b, c))
        denominator = (
            1
            + np.einsum("...i,...i", a, b)
            + np.einsum("...i,...i", b, c)
            + np.einsum("...i,...i", c, a)
        )
        total += 2 * np.arctan2(triple, denominator)
    return np.abs(total)


def _cartesian(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Unit vectors ``(..., 3)`` of positions in degrees."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)


def _geographic(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (degrees) of vectors ``(..., 3)`` (not necessarily unit)."""
    x, y, z = np.moveaxis(xyz, -1, 0)
    return np.rad2deg(np.arctan2(z, np.hypot(x, y))), np.rad2deg(np.arctan2(y, x))


def derived_axis_bounds(grid: HorizontalGrid) -> AxisBounds:
    """Bounds of a rectilinear grid midway between neighbouring centres, the outer ones
    half a spacing beyond the outer centres; latitude bounds beyond 88 degrees north or
    south are moved to the pole (the outer cells of global grids reach the poles; as CDO
    does). A single centre is a point."""
    lat = _midway(np.asarray(grid.lat.values, dtype=np.float64))
    outer = (lat == lat.min()) | (lat == lat.max())
    lat = np.where(outer & (np.abs(lat) > _POLAR_BOUND), np.sign(lat) * 90.0, lat)
    lon = _midway(np.asarray(grid.lon.values, dtype=np.float64))
    return AxisBounds(np.clip(lat, -90.0, 90.0), lon)


def _midway(centres: np.ndarray) -> np.ndarray:
    if centres.size < 2:
        return np.stack([centres, centres], -1)
    middle = (centres[1:] + centres[:-1]) / 2
    first = centres[0] - (middle[0] - centres[0])
    last = centres[-1] + (centres[-1] - middle[-1])
    edges = np.r_[first, middle, last]
    pairs = np.stack([edges[:-1], edges[1:]], -1)
    return np.sort(pairs, axis=-1)


def derived_corners(grid: HorizontalGrid) -> Corners | None:
    """Four corners per cell of a 2-D grid derived from the cell centres, counterclockwise
    when the grid's dimensions run north and east: each corner is the mean (in 3-D
    Cartesian coordinates, projected onto the sphere) of the four centres around it, the
    centres being extended by one row and column on each side: along the great circles
    through the outer two (as far beyond the outer centre as the next one is inside), or
    by the centres of the other side where the grid closes on itself (global longitudes).
    None on unstructured grids and with fewer than two cells along a dimension."""
    if len(grid.dims) != 2 or min(grid.shape) < 2:
        return None
    padded = _cartesian(*grid.positions())
    for axis in (0, 1):
        padded = np.moveaxis(_extended(np.moveaxis(padded, axis, 0)), 0, axis)
    points = padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]
    lat, lon = _geographic(points)
    order = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None))]
    order += [(slice(1, None), slice(1, None)), (slice(1, None), slice(None, -1))]
    return Corners(
        np.stack([lat[j, i] for j, i in order], -1), np.stack([lon[j, i] for j, i in order], -1)
    )


def rotated_corners(ds: xr.Dataset, grid: HorizontalGrid) -> Corners | None:
    """Four corners per cell of a rotated-pole grid (a ``rotated_latitude_longitude`` grid
    mapping and 1-D ``grid_latitude``/``grid_longitude`` axes along the grid's dimensions)
    from its rotated axes: bounds midway between their centres, rotated back to geographic,
    counterclockwise. An axis of a single cell is taken as wide as the other axis's spacing
    (rotated-pole cells are square, as in CORDEX). None on other grids or with a single
    cell along both axes."""
    poles = [
        v.attrs for v in ds.variables.values()
        if v.attrs.get("grid_mapping_name") == "rotated_latitude_longitude"
    ]  # fmt: skip
    axes = {
        ds[d].attrs.get("standard_name"): d
        for d in grid.dims
        if d in ds.variables and ds[d].ndim == 1
    }
    if len(poles) != 1 or not {"grid_latitude", "grid_longitude"} <= set(axes):
        return None
    rlat, rlon = (np.asarray(ds[axes[k]].values, dtype=np.float64) for k in _ROTATED_AXES)
    if max(rlat.size, rlon.size) < 2:
        return None
    spacing = np.median(np.abs(np.diff(rlat if rlat.size > 1 else rlon)))
    lat_b, lon_b = (
        _midway(a) if a.size > 1 else a[:, None] + np.array([-spacing, spacing]) / 2
        for a in (rlat, rlon)
    )
    south, north = np.clip(lat_b[:, :1], -90, 90), np.clip(lat_b[:, 1:], -90, 90)
    west, east = lon_b[None, :, 0], lon_b[None, :, 1]
    pole = [float(poles[0][f"grid_north_pole_{k}"]) for k in ("latitude", "longitude")]
    lat, lon = zip(
        *(_unrotated(*np.broadcast_arrays(a, b), *pole)
          for a, b in ((south, west), (south, east), (north, east), (north, west))),
        strict=True,
    )  # fmt: skip
    corners = Corners(np.stack(lat, -1), np.stack(lon, -1))
    if grid.dims[0] == axes["grid_latitude"]:
        return corners
    return Corners(corners.lat.transpose(1, 0, 2), corners.lon.transpose(1, 0, 2))


#: The standard names of a rotated-pole grid's axes.
_ROTATED_AXES = ("grid_latitude", "grid_longitude")


def _unrotated(
    rlat: np.ndarray, rlon: np.ndarray, pole_lat: float, pole_lon: float
) -> tuple[np.ndarray, np.ndarray]:
    """Geographic latitude and longitude (degrees, -180..180) of rotated positions."""
    phi, lam, pole = np.deg2rad(rlat), np.deg2rad(rlon), np.deg2rad(pole_lat)
    x = np.sin(pole) * np.cos(phi) * np.cos(lam) - np.cos(pole) * np.sin(phi)
    y = np.cos(phi) * np.sin(lam)
    z = np.cos(pole) * np.cos(phi) * np.cos(lam) + np.sin(pole) * np.sin(phi)
    lon = np.rad2deg(np.arctan2(y, x)) + pole_lon + 180.0
    return np.rad2deg(np.arctan2(z, np.hypot(x, y))), (lon + 180.0) % 360.0 - 180.0


def _extended(xyz: np.ndarray) -> np.ndarray:
    """Unit vectors ``(n, ..., 3)`` extended by one along the first axis on each side."""
    first, last = xyz[0], xyz[-1]
    neighbours = np.clip(np.median(np.einsum("...i,...i", xyz[1:], xyz[:-1])), -1.0, 1.0)
    if np.median(np.einsum("...i,...i", first, last)) >= np.cos(1.5 * np.arccos(neighbours)):
        # the last centres neighbour the first ones: the grid closes on itself
        return np.concatenate([last[None], xyz, first[None]])
    return np.concatenate([_beyond(first, xyz[1])[None], xyz, _beyond(last, xyz[-2])[None]])


def _beyond(edge: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The points as far beyond the unit vectors ``edge`` as ``inner`` lies on the other
    side, on the great circles through both: ``inner`` reflected about ``edge``."""
    return 2 * np.einsum("...i,...i", edge, inner)[..., None] * edge - inner


def with_positions_filled(grid: HorizontalGrid) -> tuple[HorizontalGrid, np.ndarray]:
    """The 2-D grid with positions for the cells that have none (missing or invalid
    latitude or longitude, as land cells of some ocean grids): the mean of their
    neighbours' along the grid's dimensions (in 3-D Cartesian coordinates, repeated until
    every cell has one), and a mask of those cells.

    Raises
    ------
    ValueError
        When no cell has a position, or the grid is not 2-D and some cells have none.
    """
    lat, lon = grid.positions()
    missing = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0 + 1e-6))
    if not missing.any():
        return grid, missing
    if missing.all() or len(grid.dims) != 2:
        raise ValueError(f"{missing.sum()} of {missing.size} cells have no position")
    xyz = np.where(missing[..., None], 0.0, _cartesian(np.where(missing, 0, lat), lon))
    known = ~missing
    while not known.all():
        total, count = np.zeros_like(xyz), np.zeros(known.shape)
        for axis in (0, 1):
            for shift in (1, -1):
                neighbour = np.roll(known, shift, axis) & _not_wrapped(known.shape, shift, axis)
                total += np.where(neighbour[..., None], np.roll(xyz, shift, axis), 0.0)
                count += neighbour
        newly = ~known & (count > 0)
        xyz[newly] = total[newly] / count[newly, None]
        known = known | newly
    filled = _geographic(xyz)
    coords = [
        xr.DataArray(values, dims=grid.dims, name=c.name, attrs=c.attrs)
        for values, c in zip(filled, (grid.lat, grid.lon), strict=True)
    ]
    return HorizontalGrid(*coords), missing


def _not_wrapped(shape: tuple[int, ...], shift: int, axis: int) -> np.ndarray:
    """False where :func:`numpy.roll` by ``shift`` along ``axis`` brings in the other end."""
    keep = np.ones(shape, dtype=bool)
    edge = [slice(None)] * len(shape)
    edge[axis] = 0 if shift > 0 else -1
    keep[tuple(edge)] = False
    return keep
