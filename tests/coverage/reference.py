"""Independent reference values for the coverage matrix: numpy on the raw values of the
archive files, read with xarray (CF decoding only), without the service's code.

Cell areas come from the files' own bounds (spherical bands of 1-D latitude/longitude
bounds, spherical polygons of 2-D cell vertices) or from the archive's ``areacella`` /
``areacello`` when the service uses them; time steps are weighted by the length of their
time bounds, as the service documents (equal weights without bounds).

Where a file has no bounds, or vertices that enclose far more area than the cells around
them (a vertex longitude jumping to 0), this module derives its own: bounds midway between
the centres of 1-D axes (rotated-pole axes: bands of the rotated sphere, their corners
rotated back to geographic), and on other 2-D grids corners midway between the four
centres round each corner (:func:`midway_corners`). Those are also the corners given to
CDO, which cannot remap cells without corners.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from tests.cf_check import CFTIME

EARTH_RADIUS = 6371000.0


@dataclass
class Raw:
    """The raw values of a dataset's variable, with its horizontal coordinates and bounds."""

    data: xr.DataArray
    lat: xr.DataArray | None
    lon: xr.DataArray | None
    lat_bounds: np.ndarray | None
    lon_bounds: np.ndarray | None
    time_bounds: xr.DataArray | None
    #: The 1-D axes of the horizontal dims (e.g. a rotated pole's ``rlat``, ``rlon``) and
    #: their bounds, if any.
    axes: dict[str, tuple[np.ndarray, np.ndarray | None]]
    #: The geographic latitude and longitude of a rotated grid's north pole, if any.
    pole: tuple[float, float] | None = None

    @property
    def grid_dims(self) -> tuple[str, ...]:
        """The horizontal dimensions: those of latitude and longitude."""
        if self.lat is None or self.lon is None:
            return ()
        return tuple(dict.fromkeys((*self.lat.dims, *self.lon.dims)))


def read_raw(paths: list[Path], variable: str) -> Raw:
    """The variable of ``paths`` concatenated along time, repeated time steps dropped (the
    first kept), as float64."""
    opened = [xr.open_dataset(p, decode_times=CFTIME) for p in paths]
    ds = opened[0] if len(opened) == 1 else _concat(opened, variable)
    if "time" in ds[variable].dims:
        _, first = np.unique(ds.indexes["time"], return_index=True)
        ds = ds.isel(time=np.sort(first))
    data = ds[variable].astype(np.float64).load()
    lat, lon = _coordinate(ds, data, "latitude"), _coordinate(ds, data, "longitude")
    time_name = ds["time"].attrs.get("bounds") if "time" in ds.variables else None
    tb = ds[time_name].load() if time_name in ds.variables else None
    raw = Raw(
        data=data,
        lat=None if lat is None else lat.load(),
        lon=None if lon is None else lon.load(),
        lat_bounds=_bounds(ds, lat),
        lon_bounds=_bounds(ds, lon),
        time_bounds=tb,
        axes=_rotated_axes(ds, data),
        pole=_pole(ds),
    )
    for one in opened:
        one.close()
    return raw


def _concat(opened: list[xr.Dataset], variable: str) -> xr.Dataset:
    time_vars = [n for n, v in opened[0].variables.items() if "time" in v.dims]
    first = opened[0].drop_vars(time_vars)
    parts = [o[time_vars] for o in opened]
    return xr.merge([first, xr.concat(parts, "time", coords="minimal", compat="override")])


_NAMES = {"latitude": ("lat", "latitude", "nav_lat"), "longitude": ("lon", "longitude", "nav_lon")}


def _coordinate(ds: xr.Dataset, data: xr.DataArray, kind: str) -> xr.DataArray | None:
    """The latitude or longitude of ``data``: by standard name, else by conventional name."""
    names = [n for n, v in ds.variables.items() if v.attrs.get("standard_name") == kind]
    for name in [*names, *_NAMES[kind]]:
        if name in ds.variables and ds[name].dims and set(ds[name].dims) <= set(data.dims):
            return ds[name]
    return None


def _rotated_axes(ds: xr.Dataset, data: xr.DataArray) -> dict:
    """The rotated latitude and longitude axes of a rotated-pole grid (a grid mapping
    ``rotated_latitude_longitude``), with their bounds."""
    mappings = [v.attrs.get("grid_mapping_name") for v in ds.variables.values()]
    if "rotated_latitude_longitude" not in mappings:
        return {}
    axes = {}
    for kind in ("grid_latitude", "grid_longitude"):
        for name, var in ds.variables.items():
            if var.attrs.get("standard_name") == kind and var.ndim == 1 and name in data.dims:
                axes[kind] = (var.values.astype(np.float64), _bounds(ds, ds[name]))
    return axes


def _pole(ds: xr.Dataset) -> tuple[float, float] | None:
    for var in ds.variables.values():
        if var.attrs.get("grid_mapping_name") == "rotated_latitude_longitude":
            attrs = var.attrs
            return (
                float(attrs["grid_north_pole_latitude"]),
                float(attrs["grid_north_pole_longitude"]),
            )
    return None


_BOUNDS = {
    "lat": ("lat_bnds", "lat_bounds", "vertices_latitude", "lat_vertices", "latitude_bnds"),
    "lon": ("lon_bnds", "lon_bounds", "vertices_longitude", "lon_vertices", "longitude_bnds"),
}


def _bounds(ds: xr.Dataset, coord: xr.DataArray | None) -> np.ndarray | None:
    """The bounds the coordinate's ``bounds`` attribute names, else a conventional name."""
    if coord is None:
        return None
    names = [coord.attrs.get("bounds")]
    kind = "lat" if "latitude" in coord.attrs.get("standard_name", "") else "lon"
    names += list(_BOUNDS[kind]) + [f"{coord.name}_bnds", f"bounds_{coord.name}"]
    for name in names:
        if name in ds.variables and ds[name].ndim == coord.ndim + 1:
            bounds = ds[name].values.astype(np.float64)
            # polygons need three vertices or more (some CORDEX files have two per cell)
            if coord.ndim == 1 or bounds.shape[-1] >= 3:
                return bounds
    return None


# -- cell areas ------------------------------------------------------------------------------


def cell_areas(raw: Raw) -> np.ndarray | None:
    """Cell areas (m2) on the grid dims: from the file's own bounds, else derived ones (see
    the module's description); None on unstructured grids without bounds."""
    rectilinear = raw.lat.ndim == 1 and raw.lon.ndim == 1 and raw.lat.dims != raw.lon.dims
    lat_b, lon_b = raw.lat_bounds, raw.lon_bounds
    if rectilinear and lat_b is None and lon_b is None:
        lat_b, lon_b = _midway_pair(raw.lat.values, raw.lon.values)
        lat_b = np.clip(lat_b, -90, 90)
    if (lat_b is None or lon_b is None) and {"grid_latitude", "grid_longitude"} <= set(raw.axes):
        # a rotated-pole grid: cells are bands of the rotated sphere, of the same areas
        lat_b, lon_b = _rotated_bounds(raw)
        rectilinear = True
    if rectilinear:
        lat_b = np.deg2rad(lat_b)
        band = np.abs(np.sin(lat_b[:, 1]) - np.sin(lat_b[:, 0]))
        width = np.deg2rad(np.abs(lon_b[:, 1] - lon_b[:, 0]))
        return EARTH_RADIUS**2 * band[:, None] * width[None, :]
    found = corners(raw)
    return None if found is None else polygon_areas(*found)


def _midway_pair(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Midway bounds of two axes; an axis of one centre as wide as the other's spacing (or 1
    degree): its width is then a common factor of the areas, which a mean does not see."""
    spacing = [np.abs(np.diff(a)).mean() if a.size > 1 else None for a in (first, second)]
    return midway(first, spacing[1] or 1.0), midway(second, spacing[0] or 1.0)


def _rotated_bounds(raw: Raw) -> tuple[np.ndarray, np.ndarray]:
    """The bounds of the rotated axes: the file's, else midway between their centres."""
    (rlat, rlat_b), (rlon, rlon_b) = raw.axes["grid_latitude"], raw.axes["grid_longitude"]
    mid_lat, mid_lon = _midway_pair(rlat, rlon)
    return (
        np.clip(mid_lat if rlat_b is None else rlat_b, -90, 90),
        mid_lon if rlon_b is None else rlon_b,
    )


def midway(centres: np.ndarray, width: float = 1.0) -> np.ndarray:
    """Bounds midway between centres, the outer ones as far out as the inner ones; a single
    centre ``width`` wide."""
    if centres.size == 1:
        return np.array([[centres[0] - width / 2, centres[0] + width / 2]])
    edges = np.concatenate(
        [[1.5 * centres[0] - 0.5 * centres[1]], (centres[1:] + centres[:-1]) / 2,
         [1.5 * centres[-1] - 0.5 * centres[-2]]]
    )  # fmt: skip
    return np.stack([edges[:-1], edges[1:]], -1)


#: File vertices enclosing more than this many times the area of the derived corners are
#: taken for corrupt (as the service's ``LARGEST_AREA_RATIO``, checked another way).
IMPLAUSIBLE_RATIO = 10.0


def corners(raw: Raw) -> tuple[np.ndarray, np.ndarray] | None:
    """The corners ``(*grid, corners)`` of the cells of a 2-D or unstructured grid: the
    file's vertices where plausible, else corners derived from the grid (rotated bands on a
    rotated-pole grid, :func:`midway_corners` on others); None when neither exists."""
    derived = None
    if {"grid_latitude", "grid_longitude"} <= set(raw.axes) and raw.pole is not None:
        lat_b, lon_b = _rotated_bounds(raw)
        # counterclockwise: (south, west), (south, east), (north, east), (north, west)
        rlat = np.stack([lat_b[:, 0], lat_b[:, 0], lat_b[:, 1], lat_b[:, 1]], -1)[:, None, :]
        rlon = np.stack([lon_b[:, 0], lon_b[:, 1], lon_b[:, 1], lon_b[:, 0]], -1)[None, :, :]
        rlat, rlon = np.broadcast_arrays(rlat, rlon)
        derived = rotated_to_geographic(rlat, rlon, *raw.pole)
    elif raw.lat.ndim == 2 and min(raw.lat.shape) > 1:
        derived = midway_corners(raw.lat.values, raw.lon.values)
    vertices = (raw.lat_bounds, raw.lon_bounds)
    if vertices[0] is None or vertices[1] is None:
        return derived
    if derived is None:
        return vertices
    own, instead = polygon_areas(*vertices), polygon_areas(*derived)
    finite = np.isfinite(vertices[0]).all(-1) & np.isfinite(vertices[1]).all(-1)
    corrupt = ~finite | (np.abs(np.nan_to_num(vertices[0])).max(-1) > 90)
    corrupt |= np.nan_to_num(own) > IMPLAUSIBLE_RATIO * instead
    return tuple(np.where(corrupt[..., None], d, v) for d, v in zip(derived, vertices, strict=True))


def rotated_to_geographic(
    rlat: np.ndarray, rlon: np.ndarray, pole_lat: float, pole_lon: float
) -> tuple[np.ndarray, np.ndarray]:
    """Geographic latitude and longitude (degrees) of rotated-pole coordinates: the rotated
    sphere tilted by ``90 - pole_lat`` about its y axis, then turned by ``pole_lon + 180``
    about the polar axis."""
    tilt, turn = np.deg2rad(90.0 - pole_lat), np.deg2rad(pole_lon + 180.0)
    y_axis = np.array(
        [[np.cos(tilt), 0, -np.sin(tilt)], [0, 1, 0], [np.sin(tilt), 0, np.cos(tilt)]]
    )
    z_axis = np.array(
        [[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0], [0, 0, 1]]
    )
    xyz = _unit(rlat, rlon) @ (z_axis @ y_axis).T
    return _degrees(xyz)


def midway_corners(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Four corners per cell of a 2-D grid of centres: each the direction of the sum of the
    four centres round it, the rows and columns of centres first extended by one on each
    side (by the opposite edge where the grid closes on itself, else each outer centre
    mirrored through its edge neighbour along the great circle through both)."""
    xyz = _unit(lat, lon)
    for axis in (0, 1):
        xyz = np.moveaxis(_padded(np.moveaxis(xyz, axis, 0)), 0, axis)
    corner = xyz[:-1, :-1] + xyz[1:, :-1] + xyz[1:, 1:] + xyz[:-1, 1:]
    c_lat, c_lon = _degrees(corner)
    picks = [(0, 0), (0, 1), (1, 1), (1, 0)]  # counterclockwise for rows north, columns east
    n, m = lat.shape
    return (
        np.stack([c_lat[a : a + n, b : b + m] for a, b in picks], -1),
        np.stack([c_lon[a : a + n, b : b + m] for a, b in picks], -1),
    )


def _padded(xyz: np.ndarray) -> np.ndarray:
    """Unit vectors extended by one row on each side along the first axis."""
    step = np.median(np.arccos(np.clip((xyz[1:] * xyz[:-1]).sum(-1), -1, 1)))
    gap = np.median(np.arccos(np.clip((xyz[0] * xyz[-1]).sum(-1), -1, 1)))
    if gap <= 1.5 * step:
        return np.concatenate([xyz[-1:], xyz, xyz[:1]])
    before = 2 * (xyz[0] * xyz[1]).sum(-1)[..., None] * xyz[0] - xyz[1]
    after = 2 * (xyz[-1] * xyz[-2]).sum(-1)[..., None] * xyz[-1] - xyz[-2]
    return np.concatenate([before[None], xyz, after[None]])


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)


def _degrees(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    return np.rad2deg(np.arctan2(z, np.hypot(x, y))), np.rad2deg(np.arctan2(y, x))


def polygon_areas(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Areas (m2) of spherical polygons with great-circle edges (vertices on the last axis),
    as fans of triangles (Van Oosterom and Strackee's formula)."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)
    a = xyz[..., 0, :]
    total = np.zeros(lat.shape[:-1])
    for k in range(1, lat.shape[-1] - 1):
        b, c = xyz[..., k, :], xyz[..., k + 1, :]
        numerator = np.einsum("...i,...i", a, np.cross(b, c))
        denominator = (1 + np.einsum("...i,...i", a, b) + np.einsum("...i,...i", b, c)) + np.einsum(
            "...i,...i", c, a
        )
        total += 2 * np.arctan2(np.abs(numerator), denominator)
    return EARTH_RADIUS**2 * total


# -- means -----------------------------------------------------------------------------------


def grid_mean(data: xr.DataArray, grid_dims: tuple[str, ...], areas: np.ndarray) -> xr.DataArray:
    """Area-weighted mean over ``grid_dims`` of the valid values."""
    weights = xr.DataArray(areas, dims=grid_dims)
    valid = data.notnull()
    total = (data.fillna(0) * weights).sum(grid_dims)
    return total / weights.where(valid, 0).sum(grid_dims)


def step_weights(raw: Raw) -> np.ndarray:
    """The length (days) of each time step from its bounds, else ones."""
    if raw.time_bounds is None:
        return np.ones(raw.data.sizes["time"])
    edges = raw.time_bounds.values
    return np.array([(b - a).total_seconds() / 86400 for a, b in edges])


def time_mean(data: xr.DataArray, weights: np.ndarray) -> xr.DataArray:
    """Weighted mean over time of the valid values."""
    w = xr.DataArray(weights, dims="time")
    return (data.fillna(0) * w).sum("time") / w.where(data.notnull(), 0).sum("time")


def period_means(raw: Raw, freq: str) -> xr.DataArray:
    """Weighted means over each calendar year or month of the decoded times, in order."""
    times = raw.data.indexes["time"]
    keys = [(t.year,) if freq == "year" else (t.year, t.month) for t in times]
    weights = step_weights(raw)
    groups = list(dict.fromkeys(keys))
    means = []
    for key in groups:
        where = np.array([k == key for k in keys])
        means.append(time_mean(raw.data.isel(time=where), weights[where]))
    return xr.concat(means, "time")
