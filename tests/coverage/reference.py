"""Independent reference values for the coverage matrix: numpy on the raw values of the
archive files, read with xarray (CF decoding only), without the service's code.

Cell areas come from the files' own bounds (spherical bands of 1-D latitude/longitude
bounds, spherical polygons of 2-D cell vertices) or from the archive's ``areacella`` /
``areacello`` when the service uses them; time steps are weighted by the length of their
time bounds, as the service documents (equal weights without bounds).
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
    """Cell areas (m2) from the file's own bounds, on the grid dims (on a regular grid
    without bounds, from edges midway between the centres); None without bounds."""
    rectilinear = raw.lat.ndim == 1 and raw.lon.ndim == 1 and raw.lat.dims != raw.lon.dims
    lat_b, lon_b = raw.lat_bounds, raw.lon_bounds
    if rectilinear and lat_b is None and lon_b is None and raw.lat.size > 1 < raw.lon.size:
        lat_b = np.clip(midway(raw.lat.values), -90, 90)
        lon_b = midway(raw.lon.values)
    if (lat_b is None or lon_b is None) and {"grid_latitude", "grid_longitude"} <= set(raw.axes):
        # a rotated-pole grid: cells are bands of the rotated sphere, of the same areas
        (rlat, rlat_b), (rlon, rlon_b) = raw.axes["grid_latitude"], raw.axes["grid_longitude"]
        lat_b = np.clip(midway(rlat) if rlat_b is None else rlat_b, -90, 90)
        lon_b = midway(rlon) if rlon_b is None else rlon_b
        rectilinear = True
    if lat_b is None or lon_b is None:
        return None
    if rectilinear:
        lat_b = np.deg2rad(lat_b)
        band = np.abs(np.sin(lat_b[:, 1]) - np.sin(lat_b[:, 0]))
        width = np.deg2rad(np.abs(lon_b[:, 1] - lon_b[:, 0]))
        return EARTH_RADIUS**2 * band[:, None] * width[None, :]
    return polygon_areas(raw.lat_bounds, raw.lon_bounds)


def midway(centres: np.ndarray) -> np.ndarray:
    """Bounds midway between centres, the outer ones as far out as the inner ones."""
    edges = np.concatenate(
        [[1.5 * centres[0] - 0.5 * centres[1]], (centres[1:] + centres[:-1]) / 2,
         [1.5 * centres[-1] - 0.5 * centres[-2]]]
    )  # fmt: skip
    return np.stack([edges[:-1], edges[1:]], -1)


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
